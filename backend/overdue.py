"""Records past their deadline, counted for the operator's dashboard.

A scenario that sets deadlines (a court's restoration order, an event's offsetting year) registers a counter when
the app starts, as it registers its demo and its invariant checks, so the console names no scenario itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session


@dataclass(frozen=True)
class Overdue:
    key: str
    label: str
    """What the dashboard calls them (逾期案件 …)."""
    count: Callable[[Session, datetime], int]


COUNTERS: dict[str, Overdue] = {}


def register(overdue: Overdue) -> None:
    COUNTERS[overdue.key] = overdue


def counts(session: Session, now: datetime) -> list[dict[str, object]]:
    return [{"key": o.key, "label": o.label, "count": o.count(session, now)} for o in COUNTERS.values()]
