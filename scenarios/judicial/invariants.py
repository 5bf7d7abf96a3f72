"""What must hold of every case, whatever happened: no case retires more than it requires; a restored case has
retired what it requires and has exactly one witness certificate, which vouches for exactly its retirements."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.models import Certificate
from backend.ledger.violation import Violation
from backend.orders.models import Order
from scenarios.judicial.models import CasePurchase, JudicialCase


def check_cases(session: Session) -> list[Violation]:
    found: list[Violation] = []
    bought: dict[int, list[Order]] = {}
    for order, case_id in session.execute(select(Order, CasePurchase.case_id)
                                          .join(CasePurchase, CasePurchase.order_id == Order.id)):
        if order.status == "fulfilled":
            bought.setdefault(case_id, []).append(order)
    for case in session.execute(select(JudicialCase).order_by(JudicialCase.id)).scalars():
        name = f"case {case.id} ({case.case_no}, {case.status})"
        orders = bought.get(case.id, [])
        retired_g, paid_fen = sum(o.quantity_g for o in orders), sum(o.amount_fen for o in orders)
        over = (retired_g > case.required_g) if case.required_g is not None else (paid_fen > case.required_fen)
        if over:
            found.append(Violation("judicial", f"{name}: retired {retired_g} g / paid {paid_fen} fen, more than required"))
        complete = (retired_g == case.required_g) if case.required_g is not None else (paid_fen == case.required_fen)
        if (case.status == "restored") != (case.witness_certificate_id is not None) or (
                case.status == "restored" and not complete):
            found.append(Violation("judicial", f"{name}: restored, complete and witnessed disagree"))
        if case.witness_certificate_id is not None:
            document = session.get(Certificate, case.witness_certificate_id)
            numbers = set(session.execute(select(Certificate.number).where(
                Certificate.retirement_id.in_([o.retirement_id for o in orders]))).scalars())
            listed = {item["certificate_no"] for item in (document.payload or {}).get("items", [])}
            if document.kind != "judicial_witness" or listed != numbers or document.payload["quantity_g"] != retired_g:
                found.append(Violation("judicial", f"{name}: witness certificate {document.number} does not vouch for "
                                                   "exactly the case's retirements"))
    return found
