"""碳汇+全民义务植树 over JSON: citizens in the mini-program (/api/mp/v1/tree-duty), organisations' staff lists
(/api/org/v1/tree-duty/rosters, a member's personal token), the rules in public (/api/v1/tree-duty/rules),
operators (/api/admin/v1/tree-duty: reviewers change rules; the committee's export and recognition). A citizen
pays with POST /api/mp/v1/orders, purpose tree_duty. Who may call each route: backend/access/policy.py."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from backend.access.identity import staff_principal
from backend.access.scope import acting_organisation, check_record, readable_organisations
from backend.accounts.auth import require_user
from backend.clock import beijing_date
from backend.db import atomic, read
from backend.errors import InvalidInput, NotFound
from backend.http import Route, anchored, idempotency_key, register
from backend.orders import organisation as organisation_orders
from backend.orders import service as orders
from backend.orders.schemas import OperatorOrderOut
from backend.schemas import Items
from scenarios.tree_duty import committee, downloads, issuing, roster, rules, schemas, service

mp_bp = Blueprint("tree_duty_mp_api", __name__, url_prefix="/api/mp/v1")
org_bp = Blueprint("tree_duty_org_api", __name__, url_prefix="/api/org/v1")
public_bp = Blueprint("tree_duty_public_api", __name__, url_prefix="/api/v1")
admin_bp = Blueprint("tree_duty_admin_api", __name__, url_prefix="/api/admin/v1")


def _now():
    return current_app.config["CLOCK"]()


# --- citizens ----------------------------------------------------------------------------------------------------

def my_year(query: schemas.YearQuery):
    """My year (or a family member's) under the region's rule: status none / duty_done / honour, trees, paid,
    vouchers, and what an order of each tier would pay now."""
    user_id, now = require_user(), _now()
    year = query.year or beijing_date(now).year
    # A unit of work, not a read: the first look loads the shipped rules the database lacks.
    return atomic(lambda s: service.year_view(s, now, user_id=user_id, year=year, region=query.region,
                                              member_id=query.member_id))


def list_members():
    user_id = require_user()
    return {"items": atomic(lambda s: [service.member_view(m) for m in service.members_of(s, user_id)])}


def add_member(body: schemas.MemberIn):
    user_id, now = require_user(), _now()
    return atomic(lambda s: service.member_view(service.add_member(s, now, user_id, name=body.name,
                                                                   birth_year=body.birth_year, sex=body.sex)))


def remove_member(member_id: int):
    user_id, now = require_user(), _now()
    atomic(lambda s: service.remove_member(s, now, user_id, member_id))
    return {"removed": True}


# --- organisations: staff lists ------------------------------------------------------------------------------------

PAYERS = roster.PAYER_KINDS
READERS = ("reviewer", "finance", "auditor")


def roster_of_mine(s, roster_id: int, least: str):
    """The staff list, if the caller may ``least`` it (a viewer reads, a clerk uploads and pays); another
    organisation's list is a 404. Platform readers read every list."""
    found = roster.get_roster(s, roster_id)
    check_record(staff_principal(), found.org_id, PAYERS, least, READERS if least == "viewer" else (),
                 acting=least != "viewer", what="名单 (staff list)")
    return found


def uploaded_file() -> tuple[bytes, str]:
    """The upload's ``file`` part: its bytes (one more than the cap is enough to refuse it) and its name."""
    given = request.files.get("file")
    if given is None or not given.filename:
        raise InvalidInput("file", "请上传职工名单文件（CSV 或 XLSX） (upload the staff list as CSV or XLSX)")
    return given.stream.read(roster.MAX_BYTES + 1), given.filename


def upload_roster(form: schemas.RosterUploadForm):
    """Upload the year's staff list (CSV or XLSX: 姓名, 出生年份, 性别, 工号): checked line by line, stored with its
    report even when nobody on it can be paid for."""
    principal, now = staff_principal(), _now()
    org_id = acting_organisation(principal, PAYERS, "clerk", form.org_id)
    data, filename = uploaded_file()
    roster_id = atomic(lambda s: roster.upload(s, now, org_id=org_id, actor=principal.actor, data=data,
                                               filename=filename, region=form.region,
                                               include_outside_age=form.include_outside_age).id)
    return read(lambda s: roster.roster_view(s, roster.get_roster(s, roster_id)))


def list_rosters(query: schemas.RosterListQuery):
    org_ids = readable_organisations(staff_principal(), PAYERS, READERS)
    if query.org_id is not None:
        if org_ids is not None and query.org_id not in org_ids:  # another organisation: not yours to learn of
            raise NotFound("机构不存在 (unknown organisation)")
        org_ids = [query.org_id]
    return {"items": read(lambda s: [roster.roster_view(s, r) for r in roster.rosters_of(s, org_ids)])}


def get_roster(roster_id: int, query: schemas.RosterQuery):
    """The list: its report, progress, orders, and — with ``listing_id`` — the quote. A paid list whose vouchers
    have not moved for a minute has its job queued again."""
    view, found = read(lambda s: _view_of(s, roster_id, query.listing_id))
    issuing.requeue_if_stalled(found, _now())
    return view


def _view_of(s, roster_id: int, listing_id: int | None):
    found = roster_of_mine(s, roster_id, "viewer")
    return roster.roster_view(s, found, quote_for=listing_id), found


def place_roster_order(roster_id: int, body: schemas.RosterOrderIn):
    """Pay for the list: offline (bank transfer, which finance records: POST
    /api/admin/v1/orders/<order_no>/offline-payment) or WeChat Pay Native (a QR to scan from a PC). The amount is
    the rule's duty times the persons it pays for; the vouchers follow, issued by a job."""
    principal = staff_principal()
    found = read(lambda s: roster_of_mine(s, roster_id, "clerk"))
    return organisation_orders.place(org_id=found.org_id, actor=principal.actor, payment=body.payment,
                                     idempotency_key=idempotency_key(), listing_id=body.listing_id, quantity_g=None,
                                     purpose="tree_duty", reference={"tree_duty": {"roster_id": roster_id}})


def withdraw_roster(roster_id: int):
    """Take back a wrong list before it is paid (its unpaid offline order with it); then upload the right one."""
    principal, now = staff_principal(), _now()
    read(lambda s: roster_of_mine(s, roster_id, "clerk"))
    return atomic(lambda s: roster.roster_view(s, roster.withdraw(s, now, roster_id, actor=principal.actor)))


def _its_order(roster_id: int, order_no: str):
    def check(s):
        found = roster_of_mine(s, roster_id, "viewer")
        if not orders.ORDER_NO_PATTERN.fullmatch(order_no) or not roster.is_its_order(s, roster_id, order_no):
            raise NotFound("订单不存在 (unknown order)")
        return found
    return read(check)


def get_roster_order(roster_id: int, order_no: str):
    """One of the list's orders, for the page that shows a Native QR and polls (an unpaid Native order asks WeChat
    Pay first)."""
    return organisation_orders.status(org_id=_its_order(roster_id, order_no).org_id, order_no=order_no)


def roster_order_qr(roster_id: int, order_no: str):
    """An unpaid Native order's QR code (PNG)."""
    return organisation_orders.qr_png(org_id=_its_order(roster_id, order_no).org_id, order_no=order_no)


def roster_vouchers_csv(roster_id: int):
    """The list's vouchers (name, staff number, year, tier, trees, amount, number, verify URL) as CSV."""
    return downloads.vouchers_csv(read(lambda s: roster_of_mine(s, roster_id, "viewer")))


def request_vouchers_zip(roster_id: int):
    """Ask for the ZIP of the vouchers' PDFs: a job builds it (progress in ``archive``); 409 until issued."""
    now = _now()

    def act(s):
        roster_of_mine(s, roster_id, "viewer")
        return roster.roster_view(s, downloads.request_archive(s, now, roster_id))
    return atomic(act)


def roster_vouchers_zip(roster_id: int):
    """The ZIP of the vouchers' PDFs, once the job has built it (409 archive_not_ready until then)."""
    return downloads.send_archive(read(lambda s: roster_of_mine(s, roster_id, "viewer")))


# --- the public --------------------------------------------------------------------------------------------------

def list_rules(query: schemas.RulesQuery):
    """The rules in their current versions, with sources and how sure they are (official / reported / assumed)."""
    now = _now()
    found = atomic(lambda s: [rules.rule_view(r) for r in rules.current_rules(s, now)
                              if query.region is None or r.region == query.region])
    return {"items": found}


def rule_history(key: str):
    now = _now()
    return {"items": atomic(lambda s: [rules.rule_view(r) for r in rules.history(s, now, key)])}


# --- operators ---------------------------------------------------------------------------------------------------

def create_rule(body: schemas.RuleIn):
    actor, now = staff_principal().actor, _now()
    values = body.model_dump(exclude={"key"})
    return atomic(lambda s: rules.rule_view(rules.create(s, now, body.key, values, actor=actor)))


def revise_rule(key: str, body: schemas.RuleChangeIn):
    actor, now = staff_principal().actor, _now()
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    return atomic(lambda s: rules.rule_view(rules.revise(s, now, key, changes, actor=actor, reason=body.reason)))


def export_vouchers(query: schemas.VoucherQuery):
    """The vouchers of a region and year for the greening committee: name, duty year, trees, amount, number,
    verify URL (CSV)."""
    return committee.vouchers_csv(query.year, query.region, query.recognised)


def recognise_vouchers(body: schemas.RecogniseIn):
    actor, now = staff_principal().actor, _now()
    return atomic(lambda s: committee.recognise(s, now, body.certificate_nos, note=body.note, actor=actor))


RULE_KEY = "/tree-duty/rules/<string(maxlength=40):key>"
ROSTER = "/tree-duty/rosters/<int:roster_id>"
ORDER_NO = {"order_no": anchored(orders.ORDER_NO_PATTERN)}
ORG_ROUTES = [
    Route("POST", "/tree-duty/rosters", upload_roster, "Upload the year's staff list (CSV or XLSX, multipart field "
          "file): checked line by line", form=schemas.RosterUploadForm, files=("file",),
          max_body=roster.MAX_BYTES + 64 * 1024, status=201, tags=("tree_duty",), response=schemas.RosterOut,
          errors=(409,)),
    Route("GET", "/tree-duty/rosters", list_rosters, "My organisation's staff lists", query=schemas.RosterListQuery,
          tags=("tree_duty",), response=Items[schemas.RosterOut]),
    Route("GET", ROSTER, get_roster, "One staff list: report, quote (listing_id), progress, orders",
          query=schemas.RosterQuery, tags=("tree_duty",), response=schemas.RosterOut),
    Route("POST", f"{ROSTER}/orders", place_roster_order, "Pay for the staff list: offline or WeChat Pay Native",
          body=schemas.RosterOrderIn, status=201, idempotent=True, tags=("tree_duty",), response=OperatorOrderOut,
          errors=(409, 503)),
    Route("POST", f"{ROSTER}/withdraw", withdraw_roster, "Withdraw a list not yet paid (and its unpaid offline "
          "order)", tags=("tree_duty",), response=schemas.RosterOut, errors=(409,)),
    Route("GET", f"{ROSTER}/orders/<order_no>", get_roster_order, "One of the list's orders (an unpaid Native one "
          "asks WeChat Pay first)", tags=("tree_duty",), response=OperatorOrderOut, params=ORDER_NO, errors=(503,)),
    Route("GET", f"{ROSTER}/orders/<order_no>/qr.png", roster_order_qr, "An unpaid Native order's QR code",
          tags=("tree_duty",), media_type="image/png", params=ORDER_NO),
    Route("GET", f"{ROSTER}/vouchers.csv", roster_vouchers_csv, "The list's vouchers as CSV", tags=("tree_duty",),
          media_type="text/csv"),
    Route("POST", f"{ROSTER}/vouchers.zip", request_vouchers_zip, "Ask for the ZIP of the vouchers' PDFs (built by "
          "a job)", status=202, tags=("tree_duty",), response=schemas.RosterOut, errors=(409,)),
    Route("GET", f"{ROSTER}/vouchers.zip", roster_vouchers_zip, "The ZIP of the vouchers' PDFs, once built",
          tags=("tree_duty",), media_type="application/zip", errors=(409,)),
]
NEEDS_A_RULE = ("The region (given, else the profile's) must have a rule in force in the year (GET "
                "/api/v1/tree-duty/rules): else 400 no_tree_duty_rule naming region.")
RULE_CHECKS = ("400 naming the field unless: region is a GB/T 2260 division; dates lie in 1981-12-13..2099-12-31 "
               "and effective_to is not before effective_from; honour_fen and honour_trees come together, honour_fen "
               "above duty_fen and honour_trees not below duty_trees; min_age not above either maximum age. 409 "
               "rule_period_overlap when the period overlaps another rule of the same region.")
MP_ROUTES = [
    Route("GET", "/tree-duty", my_year, "My tree-planting duty for a year: rule, duty age, paid, trees, status, "
          "vouchers", query=schemas.YearQuery, tags=("tree_duty",), response=schemas.YearOut, errors=(404,),
          description=NEEDS_A_RULE + " member_id must be one of my family members (404 otherwise)."),
    Route("GET", "/tree-duty/members", list_members, "The family members I discharge the duty for",
          tags=("tree_duty",), response=Items[schemas.MemberOut]),
    Route("POST", "/tree-duty/members", add_member, "Add a family member (name, birth year, sex; never an ID number)",
          body=schemas.MemberIn, status=201, tags=("tree_duty",), response=schemas.MemberOut, errors=(409,),
          description="birth_year must not be after this year (Beijing time): 400 naming it."),
    Route("DELETE", "/tree-duty/members/<int:member_id>", remove_member, "Remove a family member who has no payments",
          tags=("tree_duty",), response=schemas.RemovedOut, errors=(404, 409)),
]
PUBLIC_ROUTES = [
    Route("GET", "/tree-duty/rules", list_rules, "The regions' tree-duty rules (thresholds, ages, sources)",
          query=schemas.RulesQuery, tags=("public",), response=Items[schemas.RuleOut]),
    Route("GET", RULE_KEY, rule_history, "Every version of one rule", tags=("public",),
          response=Items[schemas.RuleOut]),
]
ADMIN_ROUTES = [
    Route("POST", "/tree-duty/rules", create_rule, "A new rule (a region that publishes one, or a new period)",
          body=schemas.RuleIn, status=201, tags=("tree_duty",), response=schemas.RuleOut, errors=(409,),
          description=RULE_CHECKS),
    Route("PATCH", RULE_KEY, revise_rule, "Change a rule: writes its next version (vouchers keep theirs)",
          body=schemas.RuleChangeIn, tags=("tree_duty",), response=schemas.RuleOut, errors=(404, 409),
          description=RULE_CHECKS),
    Route("GET", "/tree-duty/vouchers.csv", export_vouchers, "Vouchers of a region and year for the greening "
          "committee (CSV)", query=schemas.VoucherQuery, tags=("tree_duty",), media_type="text/csv"),
    Route("POST", "/tree-duty/vouchers/recognise", recognise_vouchers, "Mark vouchers as recognised by the greening "
          "committee", body=schemas.RecogniseIn, tags=("tree_duty",), response=schemas.RecognisedOut,
          errors=(404,)),
]
register(mp_bp, MP_ROUTES)
register(org_bp, ORG_ROUTES)
register(public_bp, PUBLIC_ROUTES)
register(admin_bp, ADMIN_ROUTES)
