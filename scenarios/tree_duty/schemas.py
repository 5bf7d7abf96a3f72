"""Request and response shapes of the tree-duty scenario's JSON (the same models validate and document it)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.dbtypes import MAX_ID
from backend.orgs.schemas import Body
from backend.schemas import Json, Out
from scenarios.tree_duty.models import ROSTER_STATES, RULE_STATUSES

Region = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 adcode")]
Year = Annotated[int, Field(ge=2000, le=2100)]
Fen = Annotated[int, Field(ge=1, le=10_000_000)]


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class YearQuery(Query):
    year: Year | None = Field(default=None, description="the duty year; this year (Beijing time) when absent")
    region: Region | None = Field(default=None, description="whose rule; the profile's region when absent")
    member_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="a family member's year")


class RulesQuery(Query):
    region: Region | None = Field(default=None, description="only this region's rules")


class MemberIn(Body):
    name: str = Field(min_length=1, max_length=50, description="the real name the voucher is made out to")
    birth_year: int = Field(ge=1900, le=2100)
    sex: Literal["male", "female"]


class RuleFields(Body):
    name: str = Field(min_length=1, max_length=50)
    effective_from: date = Field(ge=date(1981, 12, 13), le=date(2099, 12, 31))
    effective_to: date | None = Field(default=None, ge=date(1981, 12, 13), le=date(2099, 12, 31))
    duty_fen: Fen = Field(description="what discharges the year's duty")
    duty_trees: int = Field(ge=1, le=100)
    honour_fen: Fen | None = Field(default=None, description="from here the honour voucher; null: none")
    honour_trees: int | None = Field(default=None, ge=1, le=1000)
    accumulates: bool = Field(description="payments within a year add up")
    min_age: int = Field(default=11, ge=0, le=100)
    max_age_male: int = Field(default=60, ge=0, le=120)
    max_age_female: int = Field(default=55, ge=0, le=120)
    status: Literal[RULE_STATUSES]
    source: str = Field(min_length=1, max_length=500)
    note: str | None = Field(default=None, min_length=1, max_length=500)


class RuleIn(RuleFields):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$", description="the rule across its versions")
    region: Region


def _absent_is_not_null(schema: dict) -> None:
    """A field every rule has defaults to None only to mean "absent": its schema shows no null default."""
    for field in schema["properties"].values():
        if "default" in field and field["default"] is None and "anyOf" not in field:
            del field["default"]


class RuleChangeIn(Body):
    """Only the fields that change; the others keep the current version's values. Null is a value only where a
    rule may have none (effective_to, the honour pair, note): the fields every rule has are left out to keep them,
    never null."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_absent_is_not_null)
    reason: str = Field(min_length=2, max_length=300, description="why (kept in the audit chain)")
    name: str = Field(default=None, min_length=1, max_length=50)
    effective_from: date = Field(default=None, ge=date(1981, 12, 13), le=date(2099, 12, 31))
    effective_to: date | None = Field(default=None, ge=date(1981, 12, 13), le=date(2099, 12, 31))
    duty_fen: Fen = None
    duty_trees: int = Field(default=None, ge=1, le=100)
    honour_fen: Fen | None = None
    honour_trees: int | None = Field(default=None, ge=1, le=1000)
    accumulates: bool = None
    min_age: int = Field(default=None, ge=0, le=100)
    max_age_male: int = Field(default=None, ge=0, le=120)
    max_age_female: int = Field(default=None, ge=0, le=120)
    status: Literal[RULE_STATUSES] = None
    source: str = Field(default=None, min_length=1, max_length=500)
    note: str | None = Field(default=None, min_length=1, max_length=500)


class VoucherQuery(Query):
    year: Year
    region: Region | None = Field(default=None, description="a province takes in its prefectures and counties")
    recognised: bool | None = None


class RecogniseIn(Body):
    certificate_nos: list[Annotated[str, Field(pattern=r"^TH[0-9]{4}-[0-9]{8}$")]] = Field(min_length=1,
                                                                                          max_length=5000)
    note: str | None = Field(default=None, min_length=1, max_length=300,
                             description="the committee's reference (a letter, a batch number)")


class RuleOut(Out):
    id: int
    key: str
    version: int
    region: str
    name: str
    effective_from: str
    effective_to: str | None
    duty_fen: int
    duty_trees: int
    honour_fen: int | None
    honour_trees: int | None
    accumulates: bool
    ages: Json
    status: str
    source: str
    note: str | None
    current: bool


class VoucherOut(Out):
    certificate_no: str
    tier: Literal["duty", "honour"]
    year: int
    trees: int
    region: str
    amount_fen: int
    quantity_g: int
    rule: Json
    name_masked: str
    recognised: bool
    verify_url: str


class YearOut(Out):
    year: int
    region: str
    person: Json
    rule: RuleOut
    status: Literal["none", "duty_done", "honour"]
    trees: int
    paid_fen: int
    counted_fen: int
    payments: list[Json]
    vouchers: list[VoucherOut]
    due_fen: Json = Field(description="what an order of each tier would pay now (null: not available)")


class MemberOut(Out):
    id: int
    name: str
    birth_year: int
    sex: str


class RemovedOut(Out):
    removed: bool


class RecognisedOut(Out):
    recognised: int
    already: int


# --- organisations' staff lists (/api/org/v1/tree-duty/rosters) -----------------------------------------------------

class RosterUploadForm(Query):
    """The upload's text fields (multipart/form-data, beside the file part ``file``)."""

    region: Region | None = Field(default=None, description="whose rule; the organisation's region when absent")
    include_outside_age: bool = Field(default=False, description="pay for listed people outside duty age too "
                                                                 "(they receive honour vouchers)")
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="the organisation, for someone acting "
                                                                          "for more than one")


class RosterListQuery(Query):
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class RosterQuery(Query):
    listing_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="quote the list from this listing")


class RosterOrderIn(Body):
    listing_id: int = Field(ge=1, le=MAX_ID)
    payment: Literal["offline", "native"]


class RosterQuote(Out):
    listing_id: int
    amount_fen: int
    persons: int
    grams: int = Field(description="what the amount buys: per person rounded down to the gram, times persons")
    grams_per_person: int
    price_fen_per_t: int
    available_g: int
    enough: bool


class RosterOrder(Out):
    order_no: str
    status: str
    channel: str
    amount_fen: int
    quantity_g: int


class RosterOut(Out):
    id: int
    org_id: int
    year: int
    region: str
    filename: str
    status: Literal[ROSTER_STATES]
    include_outside_age: bool
    persons: int = Field(description="how many people the order pays for")
    amount_fen: int
    rule: RuleOut
    report: Json = Field(description="rows, accepted, persons, problems [{line, field, message}], duplicates "
                                     "[{line, staff_no, first_line | roster_id}], outside_age [{line, name, age}] "
                                     "(each list capped at 1,000, with its *_count)")
    uploaded_by: str
    uploaded_at: str
    payable: bool
    progress: Json = Field(description="{issued, persons}: the vouchers issued so far")
    issued_at: str | None
    archive: Json = Field(description="the ZIP of PDFs: {status: null | requested | ready, done, total, ready_at}")
    orders: list[RosterOrder]
    quote: RosterQuote | None


