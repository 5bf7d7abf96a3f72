"""碳汇+生态司法: a court orders a defendant to buy and retire credits as substitutive restoration.

The record is the case (models.JudicialCase): opened by a clerk of a verified court or procuratorate with the
loss and how it was established, the requirement computed once (rules.requirement), the payers with their claim
codes. Purchases are ordinary orders (backend.orders) of purpose ``judicial``, bound to a payer of the case by
``JudicialScenario``: checked against what is still owed when placed and again when paid, retired at once, never
kept, given or refunded to resale. When the retirements reach the requirement the case is ``restored`` and its
witness certificate (witness.py) is issued in the same transaction as the last retirement.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from backend import audit
from backend.certificates.models import Certificate
from backend.clock import as_utc, beijing_date, isoformat_utc
from backend.errors import Conflict, InvalidInput, NotFound
from backend.footprint.models import FootprintCalculation
from backend.ledger.holders import mask_name
from backend.orders.models import Order
from backend.orders.purposes import Bound, NoLongerOwed, Retiring
from backend.orders.service import NOTIFICATION_GRACE_SECONDS
from backend.registry import adcode
from backend.orgs.service import acting_of_kind
from backend.registry.models import Organisation
from backend.shop.service import MIN_ORDER_G
from backend.shop.service import amount_fen as amount_fen_of
from scenarios.judicial import case_no as case_numbers
from scenarios.judicial import rules, witness
from scenarios.judicial.models import CaseDecision, CasePayer, CasePurchase, JudicialCase
from scenarios.judicial.tiers import MAX_MONEY_CASE_PRICE_FEN_PER_T, offers, tier_of
from scenarios.judicial.wording import CAUSE_LABELS, STATUS_LABELS, public_case_no

PAYMENT_GRACE, ZERO = timedelta(seconds=NOTIFICATION_GRACE_SECONDS), timedelta(0)
COURT_KINDS = ("court", "procuratorate")
CLAIM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O, U to misread
CLAIM_LENGTH = 12  # 60 bits: not guessable within the claim endpoint's rate limit
PAYER_REF = "case-payer:"
MIN_SHARE_FEN = 100  # one yuan: at any price a money case may use, it buys more than the smallest purchase


# --- claim codes ---------------------------------------------------------------------------------------------

def new_claim_code() -> str:
    return "".join(secrets.choice(CLAIM_ALPHABET) for _ in range(CLAIM_LENGTH))


def normalise_claim_code(text: str) -> str:
    """As a person types it: any case, with or without dashes and spaces; O read as 0, I and L as 1."""
    code = text.replace(" ", "").replace("-", "").upper().translate(str.maketrans("OIL", "011"))
    if len(code) != CLAIM_LENGTH or any(c not in CLAIM_ALPHABET for c in code):
        raise InvalidInput("claim_code", "缴纳码应为 12 位字母数字，如 7KQ2-M9TX-4RWD (a 12-character claim code)")
    return code


def shown_claim_code(code: str) -> str:
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


# --- opening a case ------------------------------------------------------------------------------------------

def _loss(session: Session, loss: Any) -> tuple[int | None, int | None, dict[str, Any], list[str]]:
    """(loss in grams or None, money in fen or None, what is stored of it, how it reads)."""
    if loss.method == "appraisal":
        grams = rules.grams_of_tonnes(loss.tonnes)
        stored = {"method": "appraisal", "tonnes": format(loss.tonnes, "f"), "appraisal_body": loss.appraisal_body,
                  "report_no": loss.report_no}
        return grams, None, stored, [f"鉴定损失量 {format(loss.tonnes, 'f')} tCO2e（{loss.appraisal_body}，"
                                     f"{loss.report_no}）(appraised loss)"]
    if loss.method == "calculation":
        found = session.get(FootprintCalculation, loss.calculation_id)
        if found is None or found.calculator != "judicial":
            raise InvalidInput("loss.calculation_id", "未找到该司法损失计算 (no judicial calculation with this id)")
        if found.total_g <= 0:
            raise InvalidInput("loss.calculation_id", "该计算的损失量为零 (the calculation comes to nothing)")
        # The computation goes onto the public witness certificate: without the calculator's own note of the case
        # number (the case has its own, masked in public) and without the calculation's id, whose public record
        # holds the inputs as typed, case number included. The court's view keeps the id in ``loss``.
        trace = [line for line in list(found.result.get("trace") or []) + list(found.result.get("notes") or [])
                 if not line.startswith("案号")]
        stored = {"method": "calculation", "calculation_id": found.id, "factor_set": found.factor_set,
                  "total_g": found.total_g, "inputs": found.inputs}
        return found.total_g, None, stored, [*trace, f"计算结果 {rules.tonnes_text(found.total_g)} tCO2e（司法损失量"
                                                     f"计算，因子集 {found.factor_set}）(stored calculation)"]
    stored = {"method": "money", "amount_fen": loss.amount_fen, "basis": loss.basis}
    return None, loss.amount_fen, stored, [f"判决用于购买碳汇的金额 {rules.yuan_text(loss.amount_fen)} 元"
                                           f"{'（' + loss.basis + '）' if loss.basis else ''} (a sum to spend on credits)"]


def _shares(payers: list[Any], required_g: int | None, required_fen: int | None) -> list[tuple[Any, int | None,
                                                                                               int | None]]:
    given = [p.share_percent for p in payers if p.share_percent is not None]
    if not given:
        return [(p, None, None) for p in payers]
    if len(given) != len(payers):
        raise InvalidInput("payers", "份额须为每位缴纳人都填或都不填 (give a share for every payer, or for none)")
    if sum(given) != 100:
        raise InvalidInput("payers", f"份额合计应为 100%，现为 {sum(given)}% (shares must add up to 100)")
    total = required_g if required_g is not None else required_fen
    parts = rules.split(total, [p.share_percent for p in payers])
    least = MIN_ORDER_G if required_g is not None else MIN_SHARE_FEN
    if min(parts) < least:  # a part below the smallest purchase could never be paid in the mini-program
        raise InvalidInput("payers", f"每位缴纳人的份额至少 {least} {'克' if required_g is not None else '分'} "
                                     "(each payer's share must be at least the smallest purchase)")
    return [(p, part, None) if required_g is not None else (p, None, part) for p, part in zip(payers, parts)]


def open_case(session: Session, now: datetime, *, org_id: int, actor: str, body: Any) -> JudicialCase:
    """Open a case's restoration order: validate, compute the requirement once, give each payer a claim code."""
    acting_of_kind(session, org_id, COURT_KINDS)  # a verified court or procuratorate, or NotFound
    number = case_numbers.normalise(body.case_no, today=beijing_date(now))
    if body.deadline < beijing_date(now):
        raise InvalidInput("deadline", "履行期限不能早于今天 (the deadline cannot be in the past)")
    if body.damage_region not in adcode.divisions() or not adcode.is_county(body.damage_region):
        raise InvalidInput("damage_region", "应为县级行政区划代码，如 510129 (a county-level GB/T 2260 code)")
    if session.execute(select(JudicialCase.id).where(JudicialCase.org_id == org_id,
                                                     JudicialCase.case_no == number)).first():
        raise Conflict(f"本机构已登记案号 {number} (this case number is already registered)", code="case_exists",
                       details={"case_no": number})
    loss_g, money_fen, stored, loss_lines = _loss(session, body.loss)
    if money_fen is not None:
        required_g, required_fen, lines = None, *rules.money_requirement(money_fen, body.multiplier)
    else:
        required_g, lines = rules.requirement(loss_g, body.multiplier, body.rounding)
        required_fen = None
        if required_g < MIN_ORDER_G:
            raise InvalidInput("loss", f"应修复量不足 {MIN_ORDER_G} 克，低于最小购买量 (the requirement is under 1 kg)")
    case = JudicialCase(org_id=org_id, case_no=number, case_no_salt=secrets.token_hex(16),
                        publish_case_no=body.publish_case_no, cause=body.cause, cause_note=body.cause_note,
                        damage_region=body.damage_region, loss=stored, loss_g=loss_g,
                        multiplier=format(body.multiplier, "f"), rounding=body.rounding, required_g=required_g,
                        required_fen=required_fen, computation=loss_lines + lines, deadline=body.deadline,
                        status="ordered", created_by=actor, created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    for position, (payer, share_g, share_fen) in enumerate(_shares(body.payers, required_g, required_fen), 1):
        name = " ".join(payer.name.split())
        session.add(CasePayer(case_id=case.id, position=position, name=name, name_masked=mask_name(name),
                              share_percent=None if payer.share_percent is None else format(payer.share_percent, "f"),
                              share_g=share_g, share_fen=share_fen, claim_code=new_claim_code()))
    session.flush()
    audit.append(session, now, actor=actor, action="case.open", object_type="judicial_case", object_id=case.id,
                 after={"org_id": org_id, "case_no": number, "cause": body.cause, "required_g": required_g,
                        "required_fen": required_fen, "deadline": body.deadline.isoformat(),
                        "payers": len(body.payers), "loss": {k: v for k, v in stored.items() if k != "inputs"}})
    return case


# --- reading ---------------------------------------------------------------------------------------------------

def get_case(session: Session, case_id: int, *, lock: bool = False) -> JudicialCase:
    query = select(JudicialCase).where(JudicialCase.id == case_id)
    if lock:  # and read afresh: a copy already in the session may predate what the lock waited for
        query = query.with_for_update().execution_options(populate_existing=True)
    case = session.execute(query).scalar_one_or_none()
    if case is None:
        raise NotFound("案件不存在 (unknown case)")
    return case


def payers_of(session: Session, case_id: int) -> list[CasePayer]:
    return list(session.execute(select(CasePayer).where(CasePayer.case_id == case_id)
                                .order_by(CasePayer.position)).scalars())


@dataclass
class Progress:
    """Grams and fen paid (fulfilled orders) and held by unpaid orders still payable, per payer and in all."""

    paid_g: dict[int, int]
    paid_fen: dict[int, int]
    pending_g: dict[int, int]
    pending_fen: dict[int, int]

    def total(self, kind: str) -> int:
        return sum(getattr(self, kind).values())


def progress(session: Session, case_id: int, now: datetime, *, excluding: int | None = None) -> Progress:
    rows = session.execute(
        select(CasePurchase.payer_id, Order.id, Order.status, Order.quantity_g, Order.amount_fen, Order.expires_at,
               Order.channel)
        .join(Order, Order.id == CasePurchase.order_id).where(CasePurchase.case_id == case_id))
    found = Progress({}, {}, {}, {})
    for payer_id, order_id, status, grams, fen, expires_at, channel in rows:
        if order_id == excluding:
            continue
        if status == "fulfilled":
            kinds = ("paid_g", "paid_fen")
        elif status == "reserved" and as_utc(expires_at) + (PAYMENT_GRACE if channel != "offline" else ZERO) > now:
            # WeChat takes payment until expires_at and may tell us minutes later; the ledger holds the credits
            # that long too (NOTIFICATION_GRACE_SECONDS), so the order still holds its part of the case. A bank
            # transfer is recorded by finance, not heard of late: an offline order holds until its deadline.
            kinds = ("pending_g", "pending_fen")
        else:
            continue
        for kind, value in zip(kinds, (grams, fen)):
            bucket = getattr(found, kind)
            bucket[payer_id] = bucket.get(payer_id, 0) + value
    return found


def is_overdue(case: JudicialCase, now: datetime) -> bool:
    return case.status in ("ordered", "partially_paid") and beijing_date(now) > case.deadline


def overdue_count(session: Session, now: datetime) -> int:
    """How many cases ``is_overdue`` — still owed past their deadline — counted in the database (the dashboard)."""
    return session.execute(select(func.count()).select_from(JudicialCase).where(
        JudicialCase.status.in_(("ordered", "partially_paid")), JudicialCase.deadline < beijing_date(now))).scalar_one()


def shown_status(case: JudicialCase, now: datetime) -> str:
    return "overdue" if is_overdue(case, now) else case.status


def owed(case: JudicialCase, done: Progress, payer: CasePayer | None = None) -> tuple[int | None, int | None]:
    """(grams, fen) still to be bought — by the case, or by one payer with a share — net of unpaid orders."""
    if case.status in ("restored", "closed"):
        return (0, None) if case.required_g is not None else (None, 0)
    if case.required_g is not None:
        left = case.required_g - done.total("paid_g") - done.total("pending_g")
        if payer is not None and payer.share_g is not None:
            left = min(left, payer.share_g - done.paid_g.get(payer.id, 0) - done.pending_g.get(payer.id, 0))
        return max(0, left), None
    left = case.required_fen - done.total("paid_fen") - done.total("pending_fen")
    if payer is not None and payer.share_fen is not None:
        left = min(left, payer.share_fen - done.paid_fen.get(payer.id, 0) - done.pending_fen.get(payer.id, 0))
    return None, max(0, left)


def claim_code_of(session: Session, case_id: int, payer_id: int) -> str:
    payer = session.get(CasePayer, payer_id)
    if payer is None or payer.case_id != case_id:
        raise NotFound("本案无此缴纳人 (no such payer in this case)")
    return payer.claim_code


def find_claim(session: Session, code: str, *, lock: bool = False) -> tuple[JudicialCase, CasePayer]:
    payer = session.execute(select(CasePayer).where(CasePayer.claim_code == normalise_claim_code(code))
                            ).scalar_one_or_none()
    if payer is None:
        raise NotFound("缴纳码无效 (unknown claim code)", code="unknown_claim_code")
    return get_case(session, payer.case_id, lock=lock), payer


def claim_view(session: Session, now: datetime, code: str) -> dict[str, Any]:
    """What the payer sees after entering the code: court, masked case number, what is still owed, the offers."""
    case, payer = find_claim(session, code)
    owed_g, owed_fen = owed(case, progress(session, case.id, now), payer)
    court = session.get(Organisation, case.org_id)
    return {"case_id": case.id, "court": court.name, "case_no": case_numbers.mask(case.case_no),
            "cause_label": CAUSE_LABELS[case.cause], "damage_region_name": adcode.full_name(case.damage_region) or None,
            "payer": payer.name_masked, "status": shown_status(case, now), "required_g": case.required_g,
            "required_fen": case.required_fen, "owed_g": owed_g, "owed_fen": owed_fen,
            "deadline": case.deadline.isoformat(), "listings": offers(session, case.damage_region, owed_fen=owed_fen)}


def case_view(session: Session, case: JudicialCase, now: datetime) -> dict[str, Any]:
    done = progress(session, case.id, now)
    owed_g, owed_fen = owed(case, done)
    court = session.get(Organisation, case.org_id)
    purchases = session.execute(
        select(Order, CasePurchase).join(CasePurchase, CasePurchase.order_id == Order.id)
        .where(CasePurchase.case_id == case.id).order_by(Order.id)).all()
    payer_names = {p.id: p.name_masked for p in payers_of(session, case.id)}
    numbers = dict(session.execute(select(Certificate.retirement_id, Certificate.number).where(
        Certificate.retirement_id.in_([o.retirement_id for o, _ in purchases if o.retirement_id]))).all())
    witness_no = (session.get(Certificate, case.witness_certificate_id).number
                  if case.witness_certificate_id else None)
    decisions = session.execute(select(CaseDecision).where(CaseDecision.case_id == case.id)
                                .order_by(CaseDecision.id)).scalars()
    return {
        "id": case.id, "org_id": case.org_id, "court": court.name, "case_no": case.case_no,
        "case_no_public": public_case_no(case), "cause": case.cause, "cause_label": CAUSE_LABELS[case.cause],
        "cause_note": case.cause_note, "damage_region": case.damage_region,
        "damage_region_name": adcode.full_name(case.damage_region) or None, "loss": case.loss,
        "multiplier": case.multiplier, "rounding": case.rounding, "required_g": case.required_g,
        "required_fen": case.required_fen, "computation": case.computation, "deadline": case.deadline.isoformat(),
        "overdue": is_overdue(case, now), "status": shown_status(case, now),
        "status_label": STATUS_LABELS[shown_status(case, now)], "closed_reason": case.closed_reason,
        "paid_g": done.total("paid_g"), "paid_fen": done.total("paid_fen"), "owed_g": owed_g, "owed_fen": owed_fen,
        "payers": [{"id": p.id, "name": p.name, "name_masked": p.name_masked, "claim_code": p.claim_code,
                    "claim_code_shown": shown_claim_code(p.claim_code), "share_percent": p.share_percent,
                    "share_g": p.share_g, "share_fen": p.share_fen, "paid_g": done.paid_g.get(p.id, 0),
                    "paid_fen": done.paid_fen.get(p.id, 0)} for p in payers_of(session, case.id)],
        "certificates": [{"certificate_no": numbers[o.retirement_id], "quantity_g": o.quantity_g,
                          "payer": payer_names[purchase.payer_id], "channel": o.channel}
                         for o, purchase in purchases if o.retirement_id in numbers],
        "purchases": [{"order_no": o.order_no, "status": o.status, "channel": o.channel,
                       "payer": payer_names[purchase.payer_id], "listing_id": o.listing_id,
                       "quantity_g": o.quantity_g, "amount_fen": o.amount_fen, "tier": purchase.tier,
                       "tier_reason": purchase.tier_reason, "created_at": isoformat_utc(o.created_at),
                       "payment_reference": o.payment_reference,
                       "certificate_no": numbers.get(o.retirement_id)} for o, purchase in purchases],
        "witness_certificate_no": witness_no,
        "decisions": [{"action": d.action, "reason": d.reason, "actor": d.actor,
                       "deadline_before": d.deadline_before.isoformat() if d.deadline_before else None,
                       "deadline_after": d.deadline_after.isoformat() if d.deadline_after else None,
                       "decided_at": isoformat_utc(d.decided_at)} for d in decisions],
        "created_at": isoformat_utc(case.created_at),
        "restored_at": isoformat_utc(case.restored_at) if case.restored_at else None,
    }


def list_cases(session: Session, now: datetime, *, org_ids: list[int] | None, status: str | None = None,
               opened_from: date | None = None, opened_to: date | None = None,
               overdue: bool | None = None) -> list[JudicialCase]:
    """The cases of these organisations (None: every one, for platform readers), newest first, filtered."""
    query = select(JudicialCase).order_by(JudicialCase.id.desc())
    if org_ids is not None:
        query = query.where(JudicialCase.org_id.in_(org_ids))
    cases = list(session.execute(query).scalars())
    def keep(case: JudicialCase) -> bool:
        opened = beijing_date(case.created_at)
        return ((status is None or shown_status(case, now) == status)
                and (opened_from is None or opened >= opened_from) and (opened_to is None or opened <= opened_to)
                and (overdue is None or is_overdue(case, now) == overdue))
    return [case for case in cases if keep(case)]


def summary_view(case: JudicialCase, now: datetime, done: Progress | None = None) -> dict[str, Any]:
    return {"id": case.id, "case_no": case.case_no, "cause": case.cause, "cause_label": CAUSE_LABELS[case.cause],
            "status": shown_status(case, now), "status_label": STATUS_LABELS[shown_status(case, now)],
            "required_g": case.required_g, "required_fen": case.required_fen,
            "paid_g": done.total("paid_g") if done else None, "paid_fen": done.total("paid_fen") if done else None,
            "deadline": case.deadline.isoformat(), "overdue": is_overdue(case, now),
            "created_at": isoformat_utc(case.created_at)}


# --- deadline and closing ------------------------------------------------------------------------------------

def extend(session: Session, now: datetime, case_id: int, *, deadline: date, reason: str, actor: str) -> JudicialCase:
    case = get_case(session, case_id, lock=True)
    if case.status in ("restored", "closed"):
        raise Conflict(f"案件{STATUS_LABELS[case.status]}，不能延期 (the case is {case.status})", code="case_finished")
    if deadline <= case.deadline or deadline < beijing_date(now):
        raise InvalidInput("deadline", "新期限应晚于原期限且不早于今天 (a later deadline, not in the past)")
    session.add(CaseDecision(case_id=case.id, action="extend", reason=reason, deadline_before=case.deadline,
                             deadline_after=deadline, actor=actor, decided_at=now))
    before, case.deadline, case.updated_at = case.deadline, deadline, now
    session.add(case)
    audit.append(session, now, actor=actor, action="case.extend", object_type="judicial_case", object_id=case.id,
                 before={"deadline": before.isoformat()}, after={"deadline": deadline.isoformat(), "reason": reason})
    return case


def close(session: Session, now: datetime, case_id: int, *, reason: str, actor: str) -> JudicialCase:
    """Close an unrestored case (e.g. restoration in kind ordered instead): nothing more can be paid for it.
    Unpaid orders still running are refused when paid (NoLongerOwed), so their money goes back."""
    case = get_case(session, case_id, lock=True)
    if case.status in ("restored", "closed"):
        raise Conflict(f"案件{STATUS_LABELS[case.status]}", code="case_finished")
    session.add(CaseDecision(case_id=case.id, action="close", reason=reason, actor=actor, decided_at=now))
    before, case.status, case.closed_reason, case.updated_at = case.status, "closed", reason, now
    session.add(case)
    audit.append(session, now, actor=actor, action="case.close", object_type="judicial_case", object_id=case.id,
                 before={"status": before}, after={"status": "closed", "reason": reason})
    return case


def certificates_of_case(text: str):
    """The certificates of the case ``text`` names in full (of any court): each purchase's, and its witness
    certificate; InvalidInput naming ``case`` when the text is not a case number. For the console's search."""
    try:
        number = case_numbers.normalise(text)
    except InvalidInput as error:
        raise InvalidInput("case", error.details[0]["message"]) from None
    cases = select(JudicialCase.id).where(JudicialCase.case_no == number)
    purchased = (select(Certificate.id).join(Order, Order.retirement_id == Certificate.retirement_id)
                 .join(CasePurchase, CasePurchase.order_id == Order.id).where(CasePurchase.case_id.in_(cases)))
    witnessed = select(JudicialCase.witness_certificate_id).where(JudicialCase.case_no == number,
                                                                  JudicialCase.witness_certificate_id.is_not(None))
    return purchased.union(witnessed)


# --- the order flow's questions (backend.orders.purposes) -------------------------------------------------------

def _payer_of(order: Order) -> int:
    return int(order.purpose_ref.removeprefix(PAYER_REF))


class JudicialScenario:
    """Binds ``judicial`` orders to a payer of a case, by the payer's claim code."""

    purpose = "judicial"
    reference_fields = ("claim_code",)
    bounds_quantity = True  # bind caps every order at what the case still owes
    prices_orders = False

    def canonical(self, reference: dict[str, Any]) -> dict[str, Any]:
        return {"claim_code": normalise_claim_code(reference["claim_code"])}

    def bind(self, session: Session, now: datetime, *, reference: dict[str, Any], buyer: str, listing_id: int,
             quantity_g: int, amount_fen: int, price_fen_per_t: int) -> Bound:
        case, payer = find_claim(session, reference["claim_code"], lock=True)  # payers of a case, one at a time
        if buyer.startswith("org:") and buyer != f"org:{case.org_id}":
            raise NotFound("缴纳码无效 (unknown claim code)", code="unknown_claim_code")
        _refuse_finished(case)
        owed_g, owed_fen = owed(case, progress(session, case.id, now), payer)
        # A part must leave 0 or at least the smallest purchase owed: a tail under a kilogram could not be bought in
        # the mini-program (its orders start at 1 kg), and the case would never be restored.
        if owed_g is not None:
            if quantity_g > owed_g:
                raise _overpaid("quantity_g", quantity_g, owed_g, "g")
            if 0 < owed_g - quantity_g < MIN_ORDER_G:
                raise _tail("quantity_g", owed_g - quantity_g, f"{owed_g} 克 (g)")
            least = 1 if quantity_g == owed_g else MIN_ORDER_G
        else:
            if price_fen_per_t > MAX_MONEY_CASE_PRICE_FEN_PER_T:
                raise InvalidInput("listing_id", "单价过高，无法恰好花完判决金额 (priced too high for a money case)")
            if amount_fen > owed_fen:
                raise _overpaid("quantity_g", amount_fen, owed_fen, "fen")
            if 0 < owed_fen - amount_fen < amount_fen_of(MIN_ORDER_G, price_fen_per_t):
                raise _tail("quantity_g", owed_fen - amount_fen, f"{owed_fen} 分 (fen)", unit="分 (fen)")
            least = 1 if amount_fen == owed_fen else MIN_ORDER_G
        tier, reason = tier_of(session, case.damage_region, listing_id)
        return Bound(purpose_ref=f"{PAYER_REF}{payer.id}", min_g=least, on_created=lambda s, order: s.add(
            CasePurchase(order_id=order.id, case_id=case.id, payer_id=payer.id, tier=tier, tier_reason=reason)))

    def before_retire(self, session: Session, now: datetime, order: Order) -> Retiring:
        payer = session.get(CasePayer, _payer_of(order))
        case = get_case(session, payer.case_id, lock=True)
        if case.status in ("restored", "closed"):
            raise NoLongerOwed(f"案件{STATUS_LABELS[case.status]}")
        done = progress(session, case.id, now, excluding=order.id)
        owed_g, owed_fen = owed(case, done, payer)
        if (owed_g is not None and order.quantity_g > owed_g) or (owed_fen is not None and order.amount_fen > owed_fen):
            raise NoLongerOwed("已由他人付清 (others paid what this order was for)")
        return Retiring(purpose_ref=public_case_no(case), beneficiary_name=payer.name or payer.name_masked)

    def after_retire(self, session: Session, now: datetime, order: Order, retirement: Any, certify: Any) -> None:
        payer = session.get(CasePayer, _payer_of(order))
        case = get_case(session, payer.case_id, lock=True)
        done = progress(session, case.id, now, excluding=order.id)  # the order is fulfilled once this returns
        done.paid_g[payer.id] = done.paid_g.get(payer.id, 0) + order.quantity_g
        done.paid_fen[payer.id] = done.paid_fen.get(payer.id, 0) + order.amount_fen
        complete = (done.total("paid_g") >= case.required_g if case.required_g is not None
                    else done.total("paid_fen") >= case.required_fen)
        before = case.status
        if complete:
            certificate = witness.issue(session, now, case, certify, completing=order)
            case.status, case.restored_at, case.witness_certificate_id = "restored", now, certificate.id
        else:
            case.status = "partially_paid"
        case.updated_at = now
        session.add(case)
        if case.status != before:
            audit.append(session, now, actor=order.placed_by or f"order:{order.order_no}", action=f"case.{case.status}",
                         object_type="judicial_case", object_id=case.id, before={"status": before},
                         after={"status": case.status, "paid_g": done.total("paid_g"),
                                "paid_fen": done.total("paid_fen")})


def _refuse_finished(case: JudicialCase) -> None:
    if case.status == "restored":
        raise Conflict("该案已修复完毕，无需再缴纳 (the case is already restored)", code="case_restored")
    if case.status == "closed":
        raise Conflict("该案已结案，不能再缴纳 (the case is closed)", code="case_closed")


def _tail(field: str, left: int, all_owed: str, *, unit: str = "克 (g)") -> InvalidInput:
    return InvalidInput(field, f"会剩下 {left} {unit}，不足一次最小购买量 1 千克：请一次付清 {all_owed}，或至少留下 1 千克 "
                               "(would leave less than the smallest purchase owed: pay all of it, or leave at least 1 kg)",
                        code="tail_too_small")


def _overpaid(field: str, asked: int, left: int, unit: str) -> Conflict:
    return Conflict(f"超出应缴数量：尚欠 {left} {'克' if unit == 'g' else '分'}，本次 {asked} (more than is still owed)",
                    code="overpayment", details={"field": field, f"owed_{unit}": left, f"requested_{unit}": asked})
