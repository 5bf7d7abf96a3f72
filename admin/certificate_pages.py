"""The console's certificate section, /admin/certificates: find a certificate by its number, its beneficiary, its
order or a scenario's record (a court case); read its facts, status and place in the transparency log; revoke it
with a reason; see the log's signed head and the last result of ``log verify`` (admin/verifications.py), with
its button.

Beneficiaries show only masked, as on the public verify page. An operator may search by a full name — it is compared
with the erasable stored name (backend.privacy) — but the name never comes back in the page: the search continues
under ``who``, the name encrypted with a key derived from SECRET_KEY, so neither the page, its links nor the
address bar hold it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, flash, redirect, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from admin import exports, schemas, verifications
from admin.listing import PAGE_SIZE, Sorts, page_of, with_args
from backend.access.identity import staff_principal
from backend.certificates import finders, wording
from backend.certificates import service as cert_service
from backend.certificates.api import NUMBER
from backend.certificates.models import Certificate, CertificateRevocation
from backend.clock import CHINA, as_utc
from backend.db import atomic, read
from backend.errors import DomainError, InvalidInput, NotFound
from backend.http import refuse_nul, validation_error
from backend.ledger.holders import mask_name
from backend.ledger.models import Retirement
from backend.orders.models import Order
from backend.orders.service import ORDER_NO_PATTERN
from backend.privacy.models import BeneficiaryName
from backend.staff.web import field_errors, page, page_blueprint, parse_form
from backend.transparency import log as transparency_log
from backend.transparency.models import LogEntry, LogPending

bp = page_blueprint("admin_certificates", __name__)
SORTS = Sorts({"issued": Certificate.created_at, "number": Certificate.number}, default="issued",
              unique=Certificate.id, labels={"issued": "签发时间", "number": "编号"})
LIST_ARGS = ("sort", "dir", "after", "format")  # read by admin/listing.py, not filters
NAME_SEARCH_PURPOSE = b"tanhui:console-beneficiary-search:v1"


class CertificateFilters(BaseModel):
    """The search form; a field left empty is no filter. Each registered finder (backend/certificates/finders.py)
    adds its own field (``case``)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    number: str | None = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9-]+$")
    """The start of a certificate number, any case: ``TH2026-0000012``."""
    order: str | None = Field(default=None, max_length=32, pattern=rf"^{ORDER_NO_PATTERN.pattern}$")
    name: str | None = Field(default=None, max_length=200)
    """A beneficiary: masked as certificates show it (张*), or in full (then carried on as ``who``)."""
    who: str | None = Field(default=None, max_length=1000)
    size: int = Field(default=PAGE_SIZE, ge=1, le=500)


def filters_of(args: Mapping[str, str]) -> CertificateFilters:
    """The search from a query string's arguments (the page's, or an export's): a 400 names a bad field."""
    given = {name: value for name, value in args.items() if name not in LIST_ARGS and value.strip()}
    if "order" in given:
        given["order"] = given["order"].strip().upper()
    try:
        filters = CertificateFilters.model_validate(given)
    except ValidationError as error:
        raise validation_error(error) from None
    for name, value in (filters.model_extra or {}).items():
        if name not in finders.FINDERS:
            raise InvalidInput(name, "未知的查询条件 (unknown search field)")
        if len(value) > 120:
            raise InvalidInput(name, "过长 (at most 120 characters)")
    refuse_nul(filters.model_dump())  # PostgreSQL text cannot hold U+0000: a 400, as for every form
    return filters


# --- a full name, never shown ----------------------------------------------------------------------------------------

def _name_box() -> Fernet:
    secret = current_app.config["SECRET_KEY"].encode()
    return Fernet(base64.urlsafe_b64encode(hmac.new(secret, NAME_SEARCH_PURPOSE, hashlib.sha256).digest()))


def _is_masked(name: str) -> bool:
    """Whether the text is a name as certificates show it (张*, A** L*******, 某某有限公司): its own mask."""
    return mask_name(name) == " ".join(name.split())


def _sealed_name(name: str) -> str:
    return _name_box().encrypt(" ".join(name.split()).encode()).decode()


def _opened_name(token: str) -> str:
    try:
        return _name_box().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise InvalidInput("who", "姓名查询已失效，请重新输入 (an invalid name search)") from None


# --- the list ------------------------------------------------------------------------------------------------------

def _conditions(filters: CertificateFilters) -> list[ColumnElement]:
    found: list[ColumnElement] = []
    if filters.number:
        found.append(Certificate.number.startswith(filters.number.upper(), autoescape=True))
    if filters.order:
        found.append(Certificate.retirement_id.in_(select(Order.retirement_id).where(
            Order.order_no == filters.order, Order.retirement_id.is_not(None))))
    if filters.name:  # masked: as the public sees it, matching every beneficiary so masked
        found.append(Certificate.retirement_id.in_(select(Retirement.id).where(
            Retirement.beneficiary_masked == " ".join(filters.name.split()))))
    if filters.who:  # the stored full name (an erased one matches nothing)
        found.append(Certificate.retirement_id.in_(select(BeneficiaryName.retirement_id).where(
            BeneficiaryName.full_name == _opened_name(filters.who))))
    for key, text in (filters.model_extra or {}).items():
        found.append(Certificate.id.in_(finders.FINDERS[key].certificate_ids(text)))
    return found


def in_beijing(moment: datetime) -> str:
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _summaries(session: Session, certificates: list[Certificate]) -> list[dict[str, Any]]:
    """What a row of the list says of each certificate: its facts (the beneficiary masked), its order, whether it
    stands, and whether the log holds it."""
    ids = [c.id for c in certificates]
    retirements = [c.retirement_id for c in certificates if c.retirement_id is not None]
    orders = dict(session.execute(select(Order.retirement_id, Order.order_no)
                                  .where(Order.retirement_id.in_(retirements))).all()) if retirements else {}
    leaves = dict(session.execute(select(LogEntry.certificate_id, LogEntry.leaf_index)
                                  .where(LogEntry.certificate_id.in_(ids))).all()) if ids else {}
    queued = set(session.execute(select(LogPending.certificate_id)
                                 .where(LogPending.certificate_id.in_(ids))).scalars()) if ids else set()
    rows = []
    for certificate in certificates:
        payload = certificate.payload
        document = wording.is_document(payload)
        revocation = cert_service.revocation_of(session, certificate.id, certificate.retirement_id)
        leaf = leaves.get(certificate.id)
        rows.append({
            "number": certificate.number, "document": payload["title"] if document else None,
            "purpose": wording.purpose_chinese(payload["purpose"]), "purpose_ref": payload.get("purpose_ref"),
            "quantity": wording.quantity_text(payload["quantity_g"]), "quantity_g": payload["quantity_g"],
            "beneficiary": None if document else payload["beneficiary"]["masked"],
            "order_no": orders.get(certificate.retirement_id), "issued": in_beijing(certificate.created_at),
            "status": "revoked" if revocation else "valid", "revocation": revocation,
            "log": ("included" if leaf is not None else "pending" if certificate.id in queued else "missing"),
            "leaf_index": leaf})
    return rows


STATUS_LABELS = {"valid": "有效", "revoked": "已撤销"}
LOG_LABELS = {"included": "已入日志", "pending": "待合并入日志", "missing": "日志中缺失"}


def _log_head(session: Session) -> dict[str, Any]:
    head = transparency_log.latest_tree_head(session)
    waiting, oldest = transparency_log.pending_since(session)
    signed_at = None if head is None else in_beijing(datetime.fromtimestamp(head.timestamp / 1000, tz=timezone.utc))
    return {"tree_size": head.tree_size if head else 0, "root_hash": head.root_hash if head else None,
            "signed_at": signed_at, "kid": head.kid if head else None, "pending": waiting,
            "oldest_pending": in_beijing(oldest) if oldest else None}


def list_certificates():
    filters = filters_of(request.args)
    if filters.name and not _is_masked(filters.name):
        # A full name: carried on encrypted, so that it is in neither this page, its links nor the address bar.
        return redirect(with_args(name=None, who=_sealed_name(filters.name)))
    conditions, now = _conditions(filters), current_app.config["CLOCK"]()

    def look(session: Session):
        listed = page_of(session, select(Certificate).where(*conditions), SORTS, size=filters.size)
        return (listed, _summaries(session, [row[0] for row in listed.rows]), _log_head(session),
                verifications.latest(session, now, ("log",)))

    listed, rows, head, log_results = read(look)
    return page("admin/certificates/list.html", listed=listed, rows=rows, head=head, filters=filters,
                searched_name=mask_name(_opened_name(filters.who)) if filters.who else None,
                finders=list(finders.FINDERS.values()), sorts=SORTS, statuses=STATUS_LABELS, logs=LOG_LABELS,
                log_results=log_results)


def _csv_lines(session: Session, rows) -> list[tuple]:
    return [(r["number"], r["document"] or "retirement", r["purpose"], r["purpose_ref"], r["quantity_g"],
             r["beneficiary"], r["order_no"], r["issued"], r["status"],
             r["revocation"]["reason"] if r["revocation"] else "", r["log"], r["leaf_index"])
            for r in _summaries(session, [certificate for certificate, in rows])]


exports.register("certificates", exports.Exportable(
    label="证书", list_endpoint="admin_certificates.list_certificates",
    columns=("number", "kind", "purpose", "purpose_ref", "quantity_g", "beneficiary_masked", "order_no",
             "issued_beijing", "status", "revocation_reason", "log", "leaf_index"),
    statement=lambda args: select(Certificate).where(*_conditions(filters_of(args))), lines=_csv_lines,
    unique=Certificate.id))


# --- one certificate -------------------------------------------------------------------------------------------------

def _log_state(session: Session, number: str) -> dict[str, Any]:
    """Where the certificate is in the transparency log: a leaf under the newest signed head, waiting to be merged,
    or neither (the log's tables were damaged: ``log verify`` names what)."""
    try:
        proof = transparency_log.inclusion(session, number)
    except transparency_log.InclusionPending as pending:
        return {"state": "pending", "queued_at": pending.details["queued_at"]}
    except transparency_log.LogCorrupted:
        return {"state": "missing"}
    return {"state": "included", "leaf_index": proof["leaf_index"], "tree_size": proof["tree_size"],
            "root_hash": proof["root_hash"]}


def _detail(session: Session, number: str) -> dict[str, Any]:
    certificate = cert_service.get_certificate(session, number)
    view = cert_service.public_view(session, certificate)
    payload = view["payload"]
    revoked = session.get(CertificateRevocation, certificate.id)
    summary = _summaries(session, [certificate])[0]
    return {**summary, "payload": payload, "payload_sha256": view["payload_sha256"], "kid": view["kid"],
            "revoked_by": revoked.revoked_by if revoked else None,
            "revoked_at": wording.beijing_time(view["revocation"]["revoked_at"]) if view["revocation"] else None,
            "serials": None if summary["document"] else wording.serials_text(payload["serials"]),
            "retired_at": None if summary["document"] else wording.beijing_time(payload["retired_at"]),
            "witnessed": [item["certificate_no"] for item in payload.get("items") or []
                      if NUMBER.fullmatch(str(item["certificate_no"]))],
            "log_state": _log_state(session, number)}


def certificate_page(number: str, status: int = 200, **extra):
    if not NUMBER.fullmatch(number):
        raise NotFound("证书不存在 (no such certificate)")
    shown = read(lambda s: _detail(s, number))
    return page("admin/certificates/detail.html", status, c=shown, statuses=STATUS_LABELS, logs=LOG_LABELS,
                errors=field_errors(extra.get("error")), **extra)


def revoke(number: str):
    """As POST /api/admin/v1/certificates/<number>/revocation: the reason is what the verify page will show."""
    principal = staff_principal()
    if not NUMBER.fullmatch(number):
        raise NotFound("证书不存在 (no such certificate)")
    try:
        form = parse_form(schemas.RevocationIn)
        atomic(lambda s: cert_service.revoke(s, current_app.config["CLOCK"](), number, reason=form.reason,
                                             actor=principal.actor))
    except DomainError as error:
        if error.status == 404:
            raise
        return certificate_page(number, error.status, error=error, form=request.form)
    flash(f"证书 {number} 已撤销")
    return redirect(f"/admin/certificates/{number}")


bp.add_url_rule("/admin/certificates", endpoint="list_certificates", view_func=list_certificates, methods=["GET"])
bp.add_url_rule("/admin/certificates/<number>", endpoint="certificate_page", view_func=certificate_page,
                methods=["GET"])
bp.add_url_rule("/admin/certificates/<number>/revoke", endpoint="revoke", view_func=revoke, methods=["POST"])
