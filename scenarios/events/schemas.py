"""Request and response shapes of the events scenario's JSON (the same models validate and document it)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.dbtypes import MAX_ID
from backend.orgs.schemas import Body
from backend.schemas import Out
from scenarios.events.models import KINDS

Region = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 county code of the venue")]


class EventIn(Body):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal[KINDS]
    starts_on: date = Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))
    ends_on: date = Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))
    venue_region: Region
    venue_name: str | None = Field(default=None, min_length=1, max_length=100)
    expected_participants: int = Field(ge=1, le=10_000_000)
    area_m2: int | None = Field(default=None, ge=1, le=100_000_000, description="exhibitions: floor area")
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                               description="the organiser acting, when you belong to more than one")


class MeasureIn(Body):
    title: str = Field(min_length=1, max_length=100)
    category: str | None = Field(default=None, min_length=1, max_length=40,
                                 description="the source category it reduces (venue_energy, participant_travel …)")
    expected_reduction_g: int | None = Field(default=None, ge=0, le=10**15, description="where known")
    note: str | None = Field(default=None, min_length=1, max_length=300)


class PlanIn(Body):
    calculation: dict[str, Any] = Field(description="a body for POST /api/v1/footprint/event; stage plan, and the "
                                                    "event's name, venue and expected participants by default")
    measures: list[MeasureIn] = Field(default_factory=list, max_length=50)
    offset_method: str = Field(min_length=1, max_length=300, description="how the event will be offset")


class EvaluationIn(Body):
    mode: Literal["self", "third_party"] = "self"
    evaluator: str | None = Field(default=None, min_length=2, max_length=100)
    report_no: str | None = Field(default=None, min_length=1, max_length=60)


class FinalIn(Body):
    calculation: dict[str, Any] = Field(description="a body for POST /api/v1/footprint/event, stage final")
    measure_outcomes: list[Annotated[str, Field(min_length=1, max_length=300)]] | None = Field(
        default=None, max_length=50, description="each reduction measure's outcome, in the plan's order")
    evaluation: EvaluationIn = Field(default_factory=EvaluationIn)


class EventOrderIn(Body):
    listing_id: int = Field(ge=1, le=MAX_ID)
    quantity_g: int = Field(ge=1, le=10**15)
    payment: Literal["offline", "native"]


class EventOut(Out):
    id: int
    name: str
    kind: str
    status: str
    starts_on: str
    ends_on: str
    venue_region: str
    deadline: str
    large_event: bool | None
    plan: dict | None
    final: dict | None
    final_total_g: int | None
    plan_total_g: int | None
    retired_g: int
    participants: dict
    certificate_no: str | None


class PlannedOut(EventOut):
    total_g: int


class AccountedOut(EventOut):
    total_g: int
    variance_g: int


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID)
