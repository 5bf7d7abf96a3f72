"""A site's statistics for its organisation, per Beijing day: visitors who offset their trip there, the offsets
and their grams, perks issued and perks redeemed at the site.

A day is a Beijing calendar day (an offset counts on the day it was fulfilled, a perk on the day it was issued or
redeemed). The rows of the range are read once each and counted here; a site's year is tens of thousands of rows,
read by the indexes on the site and the moment."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.clock import beijing_date, beijing_midnight
from backend.errors import InvalidInput
from backend.orders.models import Order
from scenarios.tourism.models import PerkOffer, PerkVoucher, SiteOffset

MAX_DAYS = 366
DEFAULT_DAYS = 30


def period(today: date, first: date | None, last: date | None) -> tuple[date, date]:
    """The days asked for: by default the last 30 up to today; at most a year (400 naming the field)."""
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput("since", "不能晚于结束日期 (must not be after until)")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput("since", f"一次最多 {MAX_DAYS} 天 (at most {MAX_DAYS} days at a time)")
    return first, last


def per_day(session: Session, site_id: int, first: date, last: date) -> dict[str, Any]:
    start, end = beijing_midnight(first), beijing_midnight(last + timedelta(days=1))
    days = {first + timedelta(days=n): {"visitors": set(), "offsets": 0, "retired_g": 0, "perks_issued": 0,
                                        "perks_redeemed": 0} for n in range((last - first).days + 1)}
    everyone: set[int] = set()
    for user_id, grams, at in session.execute(
            select(Order.user_id, Order.quantity_g, Order.fulfilled_at)
            .join(SiteOffset, SiteOffset.order_id == Order.id)
            .where(SiteOffset.site_id == site_id, Order.status == "fulfilled", Order.fulfilled_at >= start,
                   Order.fulfilled_at < end)):
        day = days[beijing_date(at)]
        day["visitors"].add(user_id)
        day["offsets"] += 1
        day["retired_g"] += grams
        everyone.add(user_id)
    at_site = select(PerkOffer.id).where(PerkOffer.site_id == site_id)
    for column, counted in ((PerkVoucher.issued_at, "perks_issued"), (PerkVoucher.redeemed_at, "perks_redeemed")):
        for at in session.execute(select(column).where(PerkVoucher.offer_id.in_(at_site), column >= start,
                                                        column < end)).scalars():
            days[beijing_date(at)][counted] += 1
    rows = [{"day": day.isoformat(), **figures, "visitors": len(figures["visitors"])} for day, figures in days.items()]
    totals = {name: sum(row[name] for row in rows) for name in ("offsets", "retired_g", "perks_issued",
                                                                "perks_redeemed")}
    return {"site_id": site_id, "since": first.isoformat(), "until": last.isoformat(), "days": rows,
            "totals": {"visitors": len(everyone), **totals}}
