"""The clock that domain functions take instead of reading the time themselves."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]
CHINA = ZoneInfo("Asia/Shanghai")


def system_clock() -> datetime:
    """Now, in UTC, to the microsecond (what both SQLite and PostgreSQL keep)."""
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Read a stored timestamp as UTC; SQLite hands back naive datetimes."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def beijing_date(moment: datetime) -> date:
    """The calendar day in China (Asia/Shanghai): deadlines and event days turn at midnight Beijing time."""
    return as_utc(moment).astimezone(CHINA).date()


def beijing_midnight(day: date) -> datetime:
    """When a Beijing calendar day begins, in UTC: the bound of a day's or a date range's query."""
    return as_utc(datetime.combine(day, time(), CHINA))


def isoformat_utc(moment: datetime) -> str:
    """One spelling of a moment, for JSON and for hashing: 2026-11-21T01:02:03.000004Z."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def beijing_text(moment: datetime | None) -> str:
    """A moment as staff read it: Beijing time to the minute, 2026-03-12 17:00 ("" for none)."""
    return "" if moment is None else f"{as_utc(moment).astimezone(CHINA):%Y-%m-%d %H:%M}"
