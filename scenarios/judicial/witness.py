"""The witness certificate (替代性生态修复见证书): one per restored case, made by the certificate machinery
(numbered, signed, QR-verifiable, transparency-logged, PDF and share card) as a document over the case's
retirements. The public sees payers masked and the case number masked to court and year, unless the court chose
to publish it; a salted commitment lets the court show that the certificate is its case's."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.models import Certificate
from backend.certificates.wording import beijing_date, quantity_text
from backend.orders.models import Order
from backend.registry import adcode
from backend.registry.models import Organisation
from scenarios.judicial import rules
from scenarios.judicial.models import CasePayer, CasePurchase, JudicialCase
from scenarios.judicial.wording import CAUSE_LABELS, public_case_no

KIND = "judicial_witness"
TITLE, TITLE_EN = "替代性生态修复见证书", "Witness Certificate of Substitutive Ecological Restoration"
LOSS_METHODS = {"appraisal": "鉴定意见 (appraisal)", "calculation": "损失量计算 (stored calculation)",
                "money": "判决金额购买碳汇 (a sum to spend on credits)"}


def case_no_commitment(case: JudicialCase) -> str:
    return hashlib.sha256(f"{case.case_no_salt}:{case.case_no}".encode()).hexdigest()


def _loss_text(case: JudicialCase) -> str:
    loss = case.loss
    if loss["method"] == "appraisal":
        return f"{loss['tonnes']} tCO2e（{loss['appraisal_body']}，{loss['report_no']}）"
    if loss["method"] == "calculation":  # not its id: the calculation's public record shows the inputs as typed
        return f"{rules.tonnes_text(loss['total_g'])} tCO2e（司法损失量计算，因子集 {loss['factor_set']}）"
    return f"{rules.yuan_text(loss['amount_fen'])} 元" + (f"（{loss['basis']}）" if loss.get("basis") else "")


def content(session: Session, case: JudicialCase, now: datetime, completing: Order) -> tuple[int, dict[str, Any]]:
    """(grams retired for the case, the document's content): what the certificate states, as shown.
    ``completing``: the order whose retirement completes the case (fulfilled when its transaction commits)."""
    court = session.get(Organisation, case.org_id)
    rows = session.execute(
        select(Order, CasePurchase.payer_id, Certificate.number, Certificate.payload)
        .join(CasePurchase, CasePurchase.order_id == Order.id)
        .join(Certificate, Certificate.retirement_id == Order.retirement_id)
        .where(CasePurchase.case_id == case.id, (Order.status == "fulfilled") | (Order.id == completing.id))
        .order_by(Order.id)).all()
    payers = {p.id: p for p in session.execute(select(CasePayer).where(CasePayer.case_id == case.id)
                                               .order_by(CasePayer.position)).scalars()}
    retired_g = sum(order.quantity_g for order, *_ in rows)
    paid: dict[int, int] = {}
    for order, payer_id, *_ in rows:
        paid[payer_id] = paid.get(payer_id, 0) + order.quantity_g
    shown_no = public_case_no(case)
    region = adcode.full_name(case.damage_region) or case.damage_region
    required = (f"{quantity_text(case.required_g)} CO2e" if case.required_g is not None
                else f"以 {rules.yuan_text(case.required_fen)} 元购买 (the sum of {rules.yuan_text(case.required_fen)} yuan)")
    facts = [
        ["案号 Case No.", shown_no],
        ["审理机关 Court", court.name],
        ["案由 Cause", CAUSE_LABELS[case.cause] + (f"；{case.cause_note}" if case.cause_note else "")],
        ["受损地点 Damaged place", f"{region}（{case.damage_region}）"],
        ["损失量 Loss", f"{_loss_text(case)}；{LOSS_METHODS[case.loss['method']]}"],
        ["计算过程 Computation", "；".join(case.computation)],
        ["应修复量 Required", required],
        ["已注销量 Retired", f"{quantity_text(retired_g)} CO2e（{retired_g:,} 克 g），{len(rows)} 笔注销"],
        ["缴纳人 Payers", "；".join(f"{p.name_masked} {quantity_text(paid.get(p.id, 0))}" for p in payers.values())],
        ["修复完成 Restored on", beijing_date(now.isoformat())],
        ["案号承诺 Case No. commitment", case_no_commitment(case) + "（SHA-256(盐:完整案号)，法院凭盐可证明 "
                                                           "the court can open it with its salt）"],
    ]
    items = [{"certificate_no": number, "quantity_g": order.quantity_g, "project": payload["project"],
              "batch": payload["batch"], "serials": payload["serials"], "retired_at": payload["retired_at"],
              "beneficiary_masked": payload["beneficiary"]["masked"]} for order, _, number, payload in rows]
    record = {"case_id": case.id, "court": {"id": court.id, "name": court.name}, "case_no": shown_no,
              "case_no_commitment": case_no_commitment(case), "cause": case.cause,
              "damage_region": case.damage_region,
              "loss": {k: v for k, v in case.loss.items() if k not in ("inputs", "calculation_id")},
              "multiplier": case.multiplier, "rounding": case.rounding, "required_g": case.required_g,
              "required_fen": case.required_fen, "computation": case.computation, "rules": rules.RULES_VERSION,
              "payers": [{"masked": p.name_masked, "retired_g": paid.get(p.id, 0)} for p in payers.values()]}
    return retired_g, {
        "title": TITLE, "title_en": TITLE_EN,
        "statement": f"兹证明：{court.name}审理的上述案件中，下列林草碳汇已由缴纳人认购并在碳汇+登记簿中注销，"
                     "专用于该案的替代性生态修复，不得再转让、赠与或重复使用。",
        "statement_en": "This certifies that, for the case above, the forestry carbon credits below were bought by the "
                        "parties ordered to pay and retired in the 碳汇+ registry as substitutive ecological "
                        "restoration, and cannot be transferred, given or used again.",
        "facts": facts, "items": items, "record": record}


def issue(session: Session, now: datetime, case: JudicialCase, certify, *, completing: Order) -> Certificate:
    session.flush()  # the completing order's retirement, for the query below
    retired_g, body = content(session, case, now, completing)
    return certify.issue_document(session, now, kind=KIND, purpose="judicial", purpose_ref=public_case_no(case),
                                  quantity_g=retired_g, content=body)
