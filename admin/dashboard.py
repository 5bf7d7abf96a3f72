"""The operator dashboard's figures: what the platform sold, retired and holds, today and this month (Beijing time).

Money and grams are summed in the database as integers (fen, grams) and shown as yuan and tonnes only on the page.
A period is [its start, the next one's start) in China's time zone, whatever the server's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session

from admin import verifications
from backend import overdue
from backend.clock import CHINA, as_utc
from backend.ledger.models import LedgerAccount, Retirement
from backend.orders.models import Order
from backend.registry.models import Batch

# The order of the dashboard's rows; gifts are orders' purpose (a gift retires as "personal" for its beneficiary).
PURPOSES = ("personal", "gift", "tree_duty", "event", "judicial", "tourism", "other")
PURPOSE_LABELS = {"personal": "个人自愿", "gift": "赠送", "tree_duty": "义务植树", "event": "大型活动",
                  "judicial": "生态司法", "tourism": "旅游", "other": "其他"}
INVENTORY_KINDS = ("available", "reserved", "retired", "cancelled")
INVENTORY_LABELS = {"available": "可用（含持有）", "reserved": "已预留", "retired": "已注销", "cancelled": "已作废"}


@dataclass(frozen=True)
class Period:
    name: str
    label: str
    start: datetime  # UTC
    end: datetime  # UTC, exclusive


def periods(now: datetime) -> list[Period]:
    """Today and this month, in Beijing time."""
    local = as_utc(now).astimezone(CHINA)
    day = datetime.combine(local.date(), time(), CHINA)
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return [Period("today", f"今天 {day:%m-%d}", as_utc(day), as_utc(day + timedelta(days=1))),
            Period("month", f"本月 {month:%Y-%m}", as_utc(month), as_utc(next_month))]


def sales(session: Session, period: Period) -> dict[str, int]:
    """Orders paid in the period and the money they brought; refunds made in it (fen)."""
    paid_count, received_fen = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.amount_fen), 0))
        .where(Order.paid_at >= period.start, Order.paid_at < period.end)).one()
    refunded_fen = session.execute(
        select(func.coalesce(func.sum(Order.amount_fen), 0))
        .where(Order.refunded_at >= period.start, Order.refunded_at < period.end)).scalar_one()
    return {"purchases": paid_count, "received_fen": int(received_fen), "refunded_fen": int(refunded_fen),
            "net_fen": int(received_fen) - int(refunded_fen)}


def retired_by_purpose(session: Session, period: Period) -> dict[str, int]:
    """Grams retired in the period, by purpose (every purpose present, zero where nothing was retired)."""
    purpose = case((Order.purpose == "gift", "gift"), else_=Retirement.purpose)
    rows = session.execute(
        select(purpose, func.sum(Retirement.quantity_g))
        .select_from(Retirement).outerjoin(Order, Order.retirement_id == Retirement.id)
        .where(Retirement.retired_at >= period.start, Retirement.retired_at < period.end)
        .group_by(purpose)).all()
    found = {name: int(grams) for name, grams in rows}
    return {name: found.get(name, 0) for name in PURPOSES}


def inventory(session: Session) -> list[dict[str, Any]]:
    """Each batch's serials by where they are: available (any holder), reserved, retired, cancelled. They add up
    to the batch's quantity (the ledger's invariants say so), shown beside it."""
    balance = func.sum(LedgerAccount.credits_g - LedgerAccount.debits_g)
    held: dict[int, dict[str, int]] = {}
    for batch_id, kind, grams in session.execute(
            select(LedgerAccount.batch_id, LedgerAccount.kind, balance)
            .where(LedgerAccount.kind.in_(INVENTORY_KINDS)).group_by(LedgerAccount.batch_id, LedgerAccount.kind)):
        held.setdefault(batch_id, {})[kind] = int(grams)
    return [{"batch_id": batch.id, "code": batch.code, "quantity_g": batch.quantity_g,
             **{f"{kind}_g": held.get(batch.id, {}).get(kind, 0) for kind in INVENTORY_KINDS}}
            for batch in session.execute(select(Batch).order_by(Batch.id)).scalars()]


def attention(session: Session, now: datetime) -> dict[str, Any]:
    """What waits for someone: orders flagged for an operator, and each scenario's records past their deadline."""
    flagged = session.execute(select(func.count()).select_from(Order).where(Order.attention.is_not(None)))
    return {"orders": flagged.scalar_one(), "overdue": overdue.counts(session, now)}


def chart_data(figures: dict[str, Any]) -> dict[str, Any]:
    """What charts.js draws beside the tables: grams retired by purpose (today, this month) and where each batch's
    serials are, in tonnes."""
    def tonnes(grams: int) -> float:
        return round(grams / 1_000_000, 3)

    by_purpose = {"element": "retired-chart", "title": "注销量按用途 (retired by purpose)",
                  "categories": [PURPOSE_LABELS[name] for name in PURPOSES],
                  "series": [{"name": period["label"],
                              "values": [tonnes(period["retired_g"][name]) for name in PURPOSES]}
                             for period in figures["periods"]]}
    by_batch = {"element": "inventory-chart", "title": "各批次去向 (where each batch is)", "stacked": True,
                "categories": [batch["code"] for batch in figures["inventory"]],
                "series": [{"name": INVENTORY_LABELS[kind], "values": [tonnes(batch[f"{kind}_g"])
                                                                       for batch in figures["inventory"]]}
                           for kind in INVENTORY_KINDS]}
    return {"unit": "t CO2e", "charts": [by_purpose, by_batch] if figures["inventory"] else [by_purpose]}


def figures(session: Session, now: datetime) -> dict[str, Any]:
    return {"periods": [{"name": period.name, "label": period.label, "sales": sales(session, period),
                         "retired_g": retired_by_purpose(session, period)} for period in periods(now)],
            "inventory": inventory(session), "attention": attention(session, now),
            "verifiers": verifications.latest(session, now)}
