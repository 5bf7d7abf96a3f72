"""碳汇+生态司法 over JSON: the court's clerks under /api/org/v1/cases (a member's personal token), the payer in
the mini-program under /api/mp/v1/cases. Who may call each route: backend/access/policy.py."""

from __future__ import annotations

from flask import Blueprint, current_app

from backend.access.identity import staff_principal
from backend.access.scope import acting_organisation, check_record
from backend.db import atomic, read
from backend.errors import NotFound
from backend.http import Route, anchored, idempotency_key, register
from backend.orders import service as orders
from backend.orders.schemas import OperatorOrderOut
from backend.schemas import Items
from miniprogram_api.auth import per_user
from scenarios.judicial import export, schemas, service

org_bp = Blueprint("judicial_org_api", __name__, url_prefix="/api/org/v1")
mp_bp = Blueprint("judicial_mp_api", __name__, url_prefix="/api/mp/v1")
COURTS = service.COURT_KINDS
READERS = ("reviewer", "finance", "auditor")


def _now():
    return current_app.config["CLOCK"]()


def _case_of_mine(s, case_id: int, least: str, *, acting: bool = True):
    case = service.get_case(s, case_id)
    check_record(staff_principal(), case.org_id, COURTS, least, READERS if least == "viewer" else (),
                 acting=acting, what="案件 (case)")
    return case


def open_case(body: schemas.CaseIn):
    """Open a case's restoration order; each payer gets a claim code to pay with in the mini-program."""
    principal = staff_principal()
    org_id = acting_organisation(principal, COURTS, "clerk", body.org_id)
    now = _now()
    case_id = atomic(lambda s: service.open_case(s, now, org_id=org_id, actor=principal.actor, body=body).id)
    return read(lambda s: service.case_view(s, service.get_case(s, case_id), now))


def list_cases(query: schemas.CaseListQuery):
    return {"items": export.readable_summaries(staff_principal(), query, _now())[0]}


def export_cases(query: schemas.CaseListQuery):
    """The court's cases as CSV (UTF-8 with BOM, so Excel opens the Chinese right)."""
    return export.cases_csv(list_cases(query)["items"])


def get_case(case_id: int):
    now = _now()
    return read(lambda s: service.case_view(s, _case_of_mine(s, case_id, "viewer", acting=False), now))


def extend_case(case_id: int, body: schemas.ExtendIn):
    actor, now = staff_principal().actor, _now()

    def act(s):
        _case_of_mine(s, case_id, "clerk")
        return service.case_view(s, service.extend(s, now, case_id, deadline=body.deadline, reason=body.reason,
                                                   actor=actor), now)
    return atomic(act)


def close_case(case_id: int, body: schemas.CloseIn):
    actor, now = staff_principal().actor, _now()

    def act(s):
        _case_of_mine(s, case_id, "clerk")
        return service.case_view(s, service.close(s, now, case_id, reason=body.reason, actor=actor), now)
    return atomic(act)


def place_offline_order(case_id: int, body: schemas.CaseOrderIn):
    """The court collected the money itself (案款): an order for a payer, paid by bank transfer, which a platform
    finance user records (POST /api/admin/v1/orders/<order_no>/offline-payment) to retire the credits."""
    principal, key, now = staff_principal(), idempotency_key(), _now()

    def act(s):
        case = _case_of_mine(s, case_id, "clerk")
        _, payer = service.find_claim(s, body.claim_code)
        if payer.case_id != case.id:  # another case's code is no code here: whether it exists is not told
            raise NotFound("缴纳码无效 (unknown claim code)", code="unknown_claim_code")
        order = orders.create_for_organisation(
            s, now, org_id=case.org_id, actor=principal.actor, channel="offline", idempotency_key=key,
            listing_id=body.listing_id, quantity_g=body.quantity_g, purpose="judicial",
            reference={"claim_code": body.claim_code},
            ttl_seconds=current_app.config["OFFLINE_ORDER_TTL_SECONDS"])
        return orders.order_view(s, order, for_operator=True)
    return atomic(act)


def withdraw_order(case_id: int, order_no: str):
    principal, now = staff_principal(), _now()

    def act(s):
        case = _case_of_mine(s, case_id, "clerk")
        return orders.order_view(s, orders.cancel_unpaid(s, now, order_no, org_id=case.org_id,
                                                         actor=principal.actor), for_operator=True)
    return atomic(act)


def claim_code_image(case_id: int, payer_id: int):
    """A 小程序码 that opens the payer's claim in the mini-program (scene c=<claim code>), to print for them."""
    def find(s):
        _case_of_mine(s, case_id, "viewer", acting=False)
        return service.claim_code_of(s, case_id, payer_id)
    return export.claim_code_image(read(find))


# --- the payer, in the mini-program ----------------------------------------------------------------------------

def claim(body: schemas.ClaimIn):
    """The payer enters the court's code: the court, the masked case number, what is still owed, the offers
    nearest the damaged place first. Paying is POST /api/mp/v1/orders with purpose judicial and this code."""
    now = _now()
    return read(lambda s: service.claim_view(s, now, body.claim_code))


CASE = "/cases/<int:case_id>"
ORG_ROUTES = [
    Route("POST", "/cases", open_case, "Open a case's substitutive-restoration order (案号, loss, payers)",
          body=schemas.CaseIn, status=201, tags=("judicial",), response=schemas.CaseOut, errors=(404, 409),
          description="case_no must be a 案号 as courts write it ((2024)川0129刑初123号; 400 otherwise); unique "
                      "per organisation (409). The requirement is computed once: loss × multiplier, rounded up."),
    Route("GET", "/cases", list_cases, "The court's cases (filters: status, opened_from/to, overdue)",
          query=schemas.CaseListQuery, tags=("judicial",), response=Items[schemas.CaseSummaryOut]),
    Route("GET", "/cases.csv", export_cases, "The court's cases as CSV", query=schemas.CaseListQuery,
          tags=("judicial",), media_type="text/csv"),
    Route("GET", CASE, get_case, "One case: progress, payers, purchases, certificates, witness certificate",
          tags=("judicial",), response=schemas.CaseOut),
    Route("POST", f"{CASE}/extend", extend_case, "Extend the deadline, with the reason", body=schemas.ExtendIn,
          tags=("judicial",), response=schemas.CaseOut, errors=(409,)),
    Route("POST", f"{CASE}/close", close_case, "Close an unrestored case, with the reason", body=schemas.CloseIn,
          tags=("judicial",), response=schemas.CaseOut, errors=(409,)),
    Route("POST", f"{CASE}/orders", place_offline_order, "Order credits for a payer, paid offline (案款)",
          body=schemas.CaseOrderIn, status=201, idempotent=True, tags=("judicial",), response=OperatorOrderOut,
          errors=(404, 409)),
    Route("POST", f"{CASE}/orders/<order_no>/withdraw", withdraw_order, "Withdraw an unpaid offline order",
          tags=("judicial",), response=OperatorOrderOut, params={"order_no": anchored(orders.ORDER_NO_PATTERN)},
          errors=(404, 409)),
    Route("GET", f"{CASE}/payers/<int:payer_id>/claim-code", claim_code_image,
          "A 小程序码 that opens the payer's claim in the mini-program", tags=("judicial",),
          media_type=("image/jpeg", "image/png"), errors=(503,)),
]
MP_ROUTES = [
    Route("POST", "/cases/claim", claim, "A payer's case by claim code: what is owed, and where to buy it",
          body=schemas.ClaimIn, tags=("judicial",), response=schemas.ClaimOut, errors=(404,),
          rate_limit=("mp-case-claim", 20), rate_limit_who=per_user),
]
register(org_bp, ORG_ROUTES)
register(mp_bp, MP_ROUTES)
