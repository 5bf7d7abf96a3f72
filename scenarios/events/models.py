"""A large event's neutralisation (碳汇+大型活动): the event, its reduction measures, and the orders that offset it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime, one_of

KINDS = ("conference", "forum", "exhibition", "show", "match", "other")
EVENT_STATES = ("draft", "planned", "accounted", "neutral")
"""draft → planned (the plan, published) → accounted (the final account, after the event) → neutral (retired ≥ the
final figure; the certificate issued). ``overdue`` is not stored: an event past its deadline, not neutral."""
OFFSET_SIDES = ("organiser", "participant")


class Event(SQLModel, table=True):
    """One event of a verified organisation, with its plan and final account (stored footprint calculations)."""

    __tablename__ = "event"
    __table_args__ = (
        one_of("kind", KINDS, "ck_event_kind"),
        one_of("status", EVENT_STATES, "ck_event_status"),
        CheckConstraint("ends_on >= starts_on", name="ck_event_dates"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=16)
    starts_on: date
    ends_on: date
    venue_region: str = Field(max_length=6)
    venue_name: str | None = Field(default=None, max_length=100)
    expected_participants: int
    area_m2: int | None = None
    status: str = Field(default="draft", max_length=16, index=True)
    plan_calculation_id: str | None = Field(default=None, max_length=26, foreign_key="footprint_calculation.id")
    plan_total_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    boundary: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """The source categories the plan covers (MEE's six, as the calculator names them)."""
    measures: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Reduction measures: title, category, expected reduction (g) where known, and after the event its outcome."""
    offset_method: str | None = Field(default=None, max_length=300)
    retrospective: bool = Field(default=False)
    """The plan was recorded after the event began (an event recorded after it took place)."""
    planned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    final_calculation_id: str | None = Field(default=None, max_length=26, foreign_key="footprint_calculation.id")
    final_total_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    """The final account in grams: neutral once what counts reaches it (offered to buy rounded up to the kilogram).
    Frozen once accounted."""
    evaluation: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """How the neutrality is evaluated: self-declared, or a third party's name and report number."""
    accounted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    certificate_id: int | None = Field(default=None, foreign_key="certificate.id", unique=True)
    neutral_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class EventPurchase(SQLModel, table=True):
    """An order offsetting an event: the organiser's (counts toward the final figure) or a participant's (their
    own trip, attributed to the event; counts only toward participant travel the final account includes)."""

    __tablename__ = "event_purchase"
    __table_args__ = (one_of("side", OFFSET_SIDES, "ck_event_purchase_side"),)

    order_id: int = Field(foreign_key="purchase_order.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    event_id: int = Field(foreign_key="event.id", index=True)
    side: str = Field(max_length=12)
