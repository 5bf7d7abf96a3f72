"""碳汇+全民义务植树 for organisations, as pages under /org/tree-duty (session cookie; the JSON under
/api/org/v1/tree-duty takes personal tokens): the staff lists and the upload form, and a list's page with its
line-by-line report, the quote from a listing, the pay buttons (bank transfer, or a WeChat Pay Native QR), the
vouchers' progress — the page refreshes itself while a job works, no script — and the downloads.

Who may open each page: backend/access/policy.py; each handler scopes the list itself, so another
organisation's list is a 404. The handlers call the same domain functions as the JSON.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app, flash, redirect, request, url_for
from pydantic import ValidationError

from backend.access.identity import staff_principal
from backend.access.scope import acting_organisation, check_record, readable_organisations
from backend.db import atomic, read
from backend.errors import DomainError, Forbidden, InvalidInput, NotFound
from backend.http import validation_error
from backend.orders import organisation as organisation_orders
from backend.shop import service as shop
from backend.staff.principal import Principal
from backend.staff.roles import org_rank
from backend.staff.web import field_errors, page, page_blueprint
from scenarios.tree_duty import downloads, issuing, roster, schemas
from scenarios.tree_duty.api import uploaded_file

bp = page_blueprint("tree_duty_pages", __name__)
PAYERS = roster.PAYER_KINDS
READERS = ("reviewer", "finance", "auditor")
STATUS_LABELS = {"checked": "已校验，待付款 (checked, to pay)", "paid": "已付款，凭证出具中 (paid, issuing vouchers)",
                 "issued": "凭证已全部出具 (vouchers issued)", "withdrawn": "已撤回 (withdrawn)"}
FIELD_LABELS = {"name": "姓名 name", "birth_year": "出生年份 birth year", "sex": "性别 sex",
                "staff_no": "工号 staff no."}
ORDER_LABELS = {"reserved": "待付款 (awaiting payment)", "paid": "已付款 (paid)", "fulfilled": "已注销 (retired)",
                "expired": "已过期 (expired)", "refunding": "退款中 (refunding)", "refunded": "已退款 (refunded)"}
REFRESH_SECONDS = 5
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def _refuse_large_uploads() -> None:
    """Before the CSRF check reads the form: an upload larger than the staff list's cap is not parsed at all."""
    if request.method == "POST" and (request.content_length or 0) > roster.MAX_BYTES + 64 * 1024:
        raise InvalidInput("file", "文件不能超过 5 MB (larger than 5 MB)")


bp.before_request_funcs.setdefault(None, []).insert(0, _refuse_large_uploads)


def _now():
    return current_app.config["CLOCK"]()


def _uploaders(principal: Principal) -> list[tuple[int, str]]:
    """The verified organisations the person may upload lists for (clerk or above)."""
    return [(org_id, role.name) for org_id, role in principal.organisations.items()
            if role.kind in PAYERS and role.status == "verified" and org_rank(role.role) >= org_rank("clerk")]


def _may_pay(principal: Principal, org_id: int) -> bool:
    try:
        check_record(principal, org_id, PAYERS, "clerk")
    except (NotFound, Forbidden):
        return False
    return True


def _scoped(s, principal: Principal, roster_id: int, least: str):
    found = roster.get_roster(s, roster_id)
    check_record(principal, found.org_id, PAYERS, least, READERS if least == "viewer" else (),
                 acting=least != "viewer", what="名单 (staff list)")
    return found


# --- the lists and the upload --------------------------------------------------------------------------------------

def list_rosters(status: int = 200, **context: Any):
    principal = staff_principal()
    org_ids = readable_organisations(principal, PAYERS, READERS)
    rows = read(lambda s: [roster.roster_view(s, found) for found in roster.rosters_of(s, org_ids)])
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return page("tree_duty/list.html", status, rows=rows, uploaders=_uploaders(principal),
                many=org_ids is None or len(org_ids) > 1, statuses=STATUS_LABELS, **context)


def upload():
    principal, now = staff_principal(), _now()
    try:
        try:
            form = schemas.RosterUploadForm.model_validate(
                {name: value for name in ("region", "org_id") if (value := request.form.get(name, "").strip())}
                | {"include_outside_age": request.form.get("include_outside_age") == "on"})
        except ValidationError as error:
            raise validation_error(error) from None
        org_id = acting_organisation(principal, PAYERS, "clerk", form.org_id)
        data, filename = uploaded_file()
        roster_id = atomic(lambda s: roster.upload(s, now, org_id=org_id, actor=principal.actor, data=data,
                                                   filename=filename, region=form.region,
                                                   include_outside_age=form.include_outside_age).id)
    except DomainError as error:
        return list_rosters(error.status, error=error, errors=field_errors(error), form=request.form)
    flash("名单已上传并校验，请查看校验报告 (uploaded and checked: see the report)")
    return redirect(url_for("tree_duty_pages.roster_page", roster_id=roster_id))


# --- one list ------------------------------------------------------------------------------------------------------

def _listing_choice(listings: list[dict[str, Any]]) -> int | None:
    given = request.args.get("listing_id", "")
    if given.isdigit() and any(listing["id"] == int(given) for listing in listings):
        return int(given)
    on_sale = [listing for listing in listings if listing["available_g"] > 0]
    return on_sale[0]["id"] if on_sale else None


def roster_page(roster_id: int, status: int = 200, **context: Any):
    principal, now = staff_principal(), _now()
    found = read(lambda s: _scoped(s, principal, roster_id, "viewer"))
    listings = read(lambda s: shop.listing_views(s, shop.listings(s)))
    chosen = _listing_choice(listings) if found.status == "checked" and found.persons else None
    pending = [order for order in read(lambda s: roster.orders_of(s, roster_id))
               if order.status == "reserved" and order.channel == "native"]
    for order in pending:  # a payer may have scanned the QR: ask WeChat (throttled), as the JSON's order route does
        organisation_orders.status(org_id=found.org_id, order_no=order.order_no)
    try:
        view = read(lambda s: roster.roster_view(s, roster.get_roster(s, roster_id), quote_for=chosen))
    except InvalidInput as error:  # the listing sold out meanwhile: the page without the quote
        view = read(lambda s: roster.roster_view(s, roster.get_roster(s, roster_id)))
        context.setdefault("error", error)
    issuing.requeue_if_stalled(found, now)
    waiting = (view["status"] == "paid" or view["archive"]["status"] == "requested"
               or any(o["status"] == "reserved" and o["channel"] == "native" for o in view["orders"]))
    context.setdefault("errors", {})
    return page("tree_duty/roster.html", status, roster=view, listings=listings, chosen=chosen,
                pays=_may_pay(principal, view["org_id"]), request_id=secrets.token_hex(16),
                refresh=REFRESH_SECONDS if waiting else None,
                statuses=STATUS_LABELS, fields=FIELD_LABELS, order_labels=ORDER_LABELS, **context)


def pay(roster_id: int):
    """The pay buttons: an order paid by bank transfer, or by WeChat Pay Native (the page then shows its QR). The
    form's token doubles as the idempotency key: a double click places one order."""
    principal = staff_principal()
    try:
        listing_id = request.form.get("listing_id", "")
        if not listing_id.isdigit():
            raise InvalidInput("listing_id", "请选择碳汇挂牌 (choose a listing)")
        payment = request.form.get("payment", "")
        found = read(lambda s: _scoped(s, principal, roster_id, "clerk"))
        request_id = request.form.get("request_id", "")
        if not REQUEST_ID.fullmatch(request_id):
            raise InvalidInput("request_id", "表单已失效，请刷新页面后重试 (the form is stale: reload the page)")
        placed = organisation_orders.place(org_id=found.org_id, actor=principal.actor, payment=payment,
                                           idempotency_key=f"page-pay-{request_id}", listing_id=int(listing_id),
                                           quantity_g=None, purpose="tree_duty",
                                           reference={"tree_duty": {"roster_id": roster_id}})
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        return roster_page(roster_id, error.status, error=error, errors=field_errors(error))
    flash(f"已下单 {placed['order_no']}：" + ("请扫码支付 (scan the QR to pay)" if placed["channel"] == "native" else
                                            "请按订单号银行转账，财务确认到账后出具凭证 (transfer the amount quoting the "
                                            "order number; vouchers follow once finance records it)"))
    return redirect(url_for("tree_duty_pages.roster_page", roster_id=roster_id))


def withdraw(roster_id: int):
    """The list's 撤回 button: a wrong list taken back before it is paid, then the right one uploaded."""
    principal, now = staff_principal(), _now()
    read(lambda s: _scoped(s, principal, roster_id, "clerk"))
    try:
        atomic(lambda s: roster.withdraw(s, now, roster_id, actor=principal.actor))
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        return roster_page(roster_id, error.status, error=error, errors=field_errors(error))
    flash("名单已撤回，可重新上传 (the list was withdrawn: upload the right one)")
    return redirect(url_for("tree_duty_pages.roster_page", roster_id=roster_id))


def order_qr(roster_id: int, order_no: str):
    principal = staff_principal()
    found = read(lambda s: _scoped(s, principal, roster_id, "viewer"))
    if not read(lambda s: roster.is_its_order(s, roster_id, order_no)):
        raise NotFound("订单不存在 (unknown order)")
    return organisation_orders.qr_png(org_id=found.org_id, order_no=order_no)


def vouchers_csv(roster_id: int):
    principal = staff_principal()
    return downloads.vouchers_csv(read(lambda s: _scoped(s, principal, roster_id, "viewer")))


def request_zip(roster_id: int):
    principal, now = staff_principal(), _now()

    def act(s):
        _scoped(s, principal, roster_id, "viewer")
        downloads.request_archive(s, now, roster_id)
    try:
        atomic(act)
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        return roster_page(roster_id, error.status, error=error)
    flash("正在生成压缩包，完成后可下载 (the ZIP is being built: download it when ready)")
    return redirect(url_for("tree_duty_pages.roster_page", roster_id=roster_id))


def vouchers_zip(roster_id: int):
    principal = staff_principal()
    return downloads.send_archive(read(lambda s: _scoped(s, principal, roster_id, "viewer")))


ROSTER = "/org/tree-duty/rosters/<int:roster_id>"
PAGES = [  # rule, endpoint (as the permission table names it), view, methods
    ("/org/tree-duty", "list_rosters", list_rosters, ["GET"]),
    ("/org/tree-duty/rosters", "upload", upload, ["POST"]),
    (ROSTER, "roster_page", roster_page, ["GET"]),
    (f"{ROSTER}/pay", "pay", pay, ["POST"]),
    (f"{ROSTER}/withdraw", "withdraw", withdraw, ["POST"]),
    (f"{ROSTER}/orders/<order_no>/qr.png", "order_qr", order_qr, ["GET"]),
    (f"{ROSTER}/vouchers.csv", "vouchers_csv", vouchers_csv, ["GET"]),
    (f"{ROSTER}/vouchers.zip", "request_zip", request_zip, ["POST"]),
    (f"{ROSTER}/vouchers.zip", "vouchers_zip", vouchers_zip, ["GET"]),
]
for rule, endpoint, view, methods in PAGES:
    bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)
