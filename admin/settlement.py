"""Settlement: what the platform owes each project's owner for a month of sales of its credits.

For an owner and a calendar month (Beijing time): the orders of its projects' batches **paid** that month are its
sales — credits sold, gross (what buyers paid) and the platform's fee on each at the rate the order was placed at
(``Order.fee_bp``, floor to the fen); the orders **refunded** that month come off, fee and all, whenever they were
sold. The amount owed is gross − refunds − fee: negative for a month of more refunds than sales (the owner pays
back). A refund is counted in the month it was made, so a settled month never changes after the fact: a later
refund corrects the next statement, not the paid one.

The month reconciles: summed over owners, owed + fees + refunds = gross = every order paid that month, which
``received`` sums on its own, without the owner join, and the refunds = every order refunded that month
(``refunded``, likewise) — an order or a refund left out of every statement, or counted twice, shows as a
difference. (What neither can see is a payment the orders do not record at all: reconciling ``received`` with
WeChat Pay's daily bill and the bank statement is the next control.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from admin.dashboard import Period
from admin.models import SettlementPayment
from backend import audit
from backend.clock import CHINA, as_utc
from backend.errors import Conflict, InvalidInput, NotFound
from backend.orders.models import Order
from backend.registry.models import Batch, Organisation, Project

MONTH = re.compile(r"(2[0-9]{3})-(0[1-9]|1[0-2])")  # ASCII digits only: "２０２６-01" is not another name for a month
REFERENCE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:/\-]{2,63}")
FEE = (Order.amount_fen * Order.fee_bp) // 10_000  # one order's fee in fen, rounded down, in SQL


def month_period(month: str, field_name: str = "month") -> Period:
    """``YYYY-MM`` (2000–2999) as the half-open span of that month in Beijing time."""
    found = MONTH.fullmatch(month or "")
    if found is None:
        raise InvalidInput(field_name, "应为 2000–2999 年间 YYYY-MM 格式的月份 (a month, YYYY-MM)")
    start = datetime(int(found[1]), int(found[2]), 1, tzinfo=CHINA)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period(month, f"{month}", as_utc(start), as_utc(end))


def month_of(moment: datetime) -> str:
    return f"{as_utc(moment).astimezone(CHINA):%Y-%m}"


def previous_month(moment: datetime) -> str:
    first = as_utc(moment).astimezone(CHINA).replace(day=1)
    return f"{first - timedelta(days=1):%Y-%m}"


@dataclass
class Statement:
    owner_id: int
    owner_name: str
    month: str
    sales: int = 0
    sold_g: int = 0
    gross_fen: int = 0
    refunds: int = 0
    refunded_g: int = 0
    refunds_fen: int = 0
    fee_fen: int = 0
    payment: SettlementPayment | None = None
    closed: bool = field(default=False)
    """The month is over: its figures are final and it can be settled."""

    @property
    def owed_fen(self) -> int:
        return self.gross_fen - self.refunds_fen - self.fee_fen

    @property
    def moved_since_paid(self) -> bool:
        """Paid on figures that no longer hold (a payment recorded late into a settled month): finance looks."""
        paid = self.payment
        return paid is not None and (paid.sold_g, paid.gross_fen, paid.refunds_fen, paid.fee_fen) != (
            self.sold_g, self.gross_fen, self.refunds_fen, self.fee_fen)

    def figures(self) -> dict[str, int]:
        return {"sold_g": self.sold_g, "gross_fen": self.gross_fen, "refunds_fen": self.refunds_fen,
                "fee_fen": self.fee_fen, "owed_fen": self.owed_fen}


def _by_owner(statement: Select) -> Select:
    return (statement.select_from(Order).join(Batch, Batch.id == Order.batch_id)
            .join(Project, Project.id == Batch.project_id).group_by(Project.owner_id))


def statements(session: Session, now: datetime, month: str, *, owner_id: int | None = None) -> list[Statement]:
    """Every owner with a sale, a refund or a payment in the month (or the one asked for), by name."""
    period = month_period(month)
    sums = (Project.owner_id, func.count(), func.coalesce(func.sum(Order.quantity_g), 0),
            func.coalesce(func.sum(Order.amount_fen), 0), func.coalesce(func.sum(FEE), 0))
    sold = _by_owner(select(*sums).where(Order.paid_at >= period.start, Order.paid_at < period.end))
    refunded = _by_owner(select(*sums).where(Order.refunded_at >= period.start, Order.refunded_at < period.end))
    paid = select(SettlementPayment).where(SettlementPayment.month == month)
    if owner_id is not None:
        sold, refunded = sold.where(Project.owner_id == owner_id), refunded.where(Project.owner_id == owner_id)
        paid = paid.where(SettlementPayment.owner_id == owner_id)
    found: dict[int, Statement] = {}

    def of(owner: int) -> Statement:
        return found.setdefault(owner, Statement(owner, "", month, closed=now >= period.end))

    for owner, count, grams, amount, fee in session.execute(sold):
        entry = of(owner)
        entry.sales, entry.sold_g, entry.gross_fen, entry.fee_fen = count, int(grams), int(amount), int(fee)
    for owner, count, grams, amount, fee in session.execute(refunded):
        entry = of(owner)
        entry.refunds, entry.refunded_g, entry.refunds_fen = count, int(grams), int(amount)
        entry.fee_fen -= int(fee)  # the fee on a refunded sale goes back to the owner's side
    for payment in session.execute(paid).scalars():
        of(payment.owner_id).payment = payment
    if owner_id is not None and not found:
        of(owner_id)  # an owner with nothing in the month: an empty statement, not a 404
    names = dict(session.execute(select(Organisation.id, Organisation.name)
                                 .where(Organisation.id.in_(found))).all())
    if owner_id is not None and owner_id not in names:
        raise NotFound(f"机构 {owner_id} 不存在 (unknown organisation)")
    for entry in found.values():
        entry.owner_name = names[entry.owner_id]
    return sorted(found.values(), key=lambda entry: (entry.owner_name, entry.owner_id))


def statement(session: Session, now: datetime, owner_id: int, month: str) -> Statement:
    return statements(session, now, month, owner_id=owner_id)[0]


def received(session: Session, month: str) -> int:
    """Every fen paid for an order in the month, summed straight from the orders (no owner in it)."""
    period = month_period(month)
    return int(session.execute(select(func.coalesce(func.sum(Order.amount_fen), 0))
                               .where(Order.paid_at >= period.start, Order.paid_at < period.end)).scalar_one())


def refunded(session: Session, month: str) -> int:
    """Every fen refunded in the month, summed straight from the orders: the statements' refunds must come to it
    (a refund left out of every statement, or in two, shows)."""
    period = month_period(month)
    return int(session.execute(select(func.coalesce(func.sum(Order.amount_fen), 0))
                               .where(Order.refunded_at >= period.start, Order.refunded_at < period.end)).scalar_one())


def totals(entries: list[Statement]) -> dict[str, int]:
    names = ("sales", "sold_g", "gross_fen", "refunds", "refunds_fen", "fee_fen", "owed_fen")
    return {name: sum(getattr(entry, name) for entry in entries) for name in names}


def lines_query(owner_id: int, month: str) -> Select:
    """The owner's orders sold or refunded in the month (an order may be both): a statement's lines."""
    period = month_period(month)
    return (select(Order, Batch.code, Project.name, FEE.label("fee_fen"))
            .join(Batch, Batch.id == Order.batch_id).join(Project, Project.id == Batch.project_id)
            .where(Project.owner_id == owner_id,
                   or_(and_(Order.paid_at >= period.start, Order.paid_at < period.end),
                       and_(Order.refunded_at >= period.start, Order.refunded_at < period.end))))


def line_entries(row: Any, month: str) -> list[dict[str, Any]]:
    """One order's lines in the month: its sale, its refund, or both — signed as they count towards owed."""
    order, batch_code, project_name, fee = row
    period = month_period(month)
    within = (lambda moment: moment is not None and period.start <= as_utc(moment) < period.end)
    common = {"order_no": order.order_no, "batch_code": batch_code, "project": project_name,
              "quantity_g": order.quantity_g, "fee_bp": order.fee_bp}
    entries = []
    if within(order.paid_at):
        entries.append({**common, "kind": "sale", "at": as_utc(order.paid_at), "amount_fen": order.amount_fen,
                        "fee_fen": fee, "owed_fen": order.amount_fen - fee})
    if within(order.refunded_at):
        entries.append({**common, "kind": "refund", "at": as_utc(order.refunded_at), "amount_fen": -order.amount_fen,
                        "fee_fen": -fee, "owed_fen": -(order.amount_fen - fee)})
    return entries


def _settled_already(session: Session, owner_id: int, month: str, reference: str,
                     amount_fen: int) -> SettlementPayment:
    """The same record again (a double click, a retry) answers the payment recorded; anything else is refused: the
    statement is settled, or the transfer settled another statement."""
    paid = session.execute(select(SettlementPayment).where(SettlementPayment.owner_id == owner_id,
                                                           SettlementPayment.month == month)).scalar_one_or_none()
    if paid is not None and paid.reference == reference and paid.owed_fen == amount_fen:
        return paid
    if paid is not None:
        raise Conflict(f"{month} 的结算单已于 {paid.paid_at:%Y-%m-%d} 结清 (this statement is settled)",
                       code="already_settled", details={"owner_id": owner_id, "month": month})
    raise Conflict(f"凭证 {reference} 已用于另一张结算单 (the transfer settled another statement)",
                   code="reference_used", details={"reference": reference})


def mark_paid(session: Session, now: datetime, *, owner_id: int, month: str, reference: str, amount_fen: int,
              actor: str) -> SettlementPayment:
    """Finance settled an owner's month by bank transfer ``reference`` of ``amount_fen`` (negative: the owner paid
    the platform back). Only a month that is over, for exactly what it owes; the same record again answers the same
    payment; another is refused, as is a transfer that settled another statement (one transfer, one statement).
    Audit-logged with the figures it was paid on."""
    if not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
        raise InvalidInput("reference", "应为 3–64 位字母、数字或 ._:/- 的转账凭证号 (the transfer's reference)")
    reference = reference.upper()
    entry = statement(session, now, owner_id, month)
    if entry.payment is not None:
        return _settled_already(session, owner_id, month, reference, amount_fen)
    if not entry.closed:
        raise Conflict(f"{month} 尚未结束，不能结算 (the month is not over)", code="month_open",
                       details={"month": month})
    if entry.sales == 0 and entry.refunds == 0:
        raise Conflict("本月没有需结算的款项 (nothing to settle this month)", code="nothing_to_settle",
                       details={"owner_id": owner_id, "month": month})
    if amount_fen != entry.owed_fen:
        raise Conflict(f"金额 {amount_fen} 分与应结金额 {entry.owed_fen} 分不符 (the amount differs from what is owed)",
                       code="amount_mismatch", details={"owed_fen": entry.owed_fen, "recorded_fen": amount_fen})
    payment = SettlementPayment(owner_id=owner_id, month=month, sold_g=entry.sold_g, gross_fen=entry.gross_fen,
                                refunds_fen=entry.refunds_fen, fee_fen=entry.fee_fen, owed_fen=entry.owed_fen,
                                reference=reference, paid_by=actor, paid_at=now)
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:  # the same statement settled at the same moment, or the transfer settled another one
        return _settled_already(session, owner_id, month, reference, amount_fen)
    audit.append(session, now, actor=actor, action="settlement.paid", object_type="organisation",
                 object_id=owner_id, after={"month": month, "reference": reference, **entry.figures()})
    return payment
