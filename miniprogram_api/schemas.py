"""Request bodies of the mini-program API. Strictly typed; unknown fields are refused."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from backend.dbtypes import MAX_ID
from backend.ledger.operations import MAX_AMOUNT_G
from backend.orders.models import ORDER_PURPOSES
from backend.schemas import Json, Out, changes_only
from backend.shop.service import MIN_ORDER_G

Id = Annotated[int, Field(gt=0, le=MAX_ID)]
Grams = Annotated[int, Field(gt=0, le=MAX_AMOUNT_G, description="integer grams CO2e")]
FootprintId = Annotated[str, Field(pattern=r"^FP[0-9a-f]{24}$", description="a stored footprint calculation")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginIn(Body):
    code: str = Field(min_length=1, max_length=64, description="the code from wx.login()")


class ProfileIn(Body):
    """At least one field, and none null; region must be a GB/T 2260 division code, birth_year not after this
    year, and nickname and real_name pass WeChat's content check (400 naming the field otherwise)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=changes_only)
    nickname: str | None = Field(default=None, min_length=1, max_length=32)
    avatar_url: HttpUrl | None = Field(default=None, max_length=500, description="https URL of the avatar image",
                                         json_schema_extra={"pattern": "^https://"})
    region: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="GB/T 2260 adcode")
    real_name: str | None = Field(default=None, min_length=1, max_length=50,
                                  description="printed on certificates, shown masked")
    birth_year: int | None = Field(default=None, ge=1900, le=2100,
                                   description="for the tree-planting duty's age only (never an ID number)")
    sex: Literal["male", "female"] | None = Field(default=None, description="for the tree-planting duty's age only")


def _one_of_quantity_or_footprint(schema: dict[str, Any]) -> None:
    schema["oneOf"] = [{"required": ["quantity_g"], "not": {"required": ["footprint_id"]}},
                       {"required": ["footprint_id"], "not": {"required": ["quantity_g"]}}]


def _beneficiary_for_gifts_only(schema: dict[str, Any]) -> None:
    _one_of_quantity_or_footprint(schema)
    schema["oneOf"].append({"required": ["tree_duty"],  # the rule prices a tree-duty order: no quantity
                            "not": {"anyOf": [{"required": ["quantity_g"]}, {"required": ["footprint_id"]}]}})
    schema["if"] = {"properties": {"purpose": {"const": "gift"}}, "required": ["purpose"]}
    schema["then"] = {"required": ["beneficiary_name"], "properties": {"beneficiary_name": {"type": "string"}}}
    schema["else"] = {"not": {"required": ["beneficiary_name"]}}


class QuoteIn(Body):
    """Exactly one of quantity_g (grams, at least MIN_ORDER_G) and footprint_id (a stored footprint calculation:
    neutralise it). The listing must be on sale, and a footprint_id must name a stored calculation (400)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra=_one_of_quantity_or_footprint)
    listing_id: Id
    quantity_g: Annotated[int, Field(ge=MIN_ORDER_G, le=MAX_AMOUNT_G, description="integer grams CO2e")] | None = None
    footprint_id: FootprintId | None = None


# A judicial payer's claim code as scenarios/judicial reads it (12 of Crockford's base 32, dashes optional).
CLAIM_CODE = r"^[0-9A-TV-Za-tv-z]{4}[- ]?[0-9A-TV-Za-tv-z]{4}[- ]?[0-9A-TV-Za-tv-z]{4}$"


class TreeDutyRef(BaseModel):
    """A tree-duty order pays the region's duty threshold (tier duty) or tops up to its honour threshold (tier
    honour), for the citizen or a family member (member_id); where the rule adds payments up over the year,
    amount_fen pays a part. 409 tree_duty_done when the year is already discharged."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    year: int = Field(ge=2000, le=2100, description="the duty year: this year (Beijing time)")
    region: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 adcode whose rule applies")
    tier: Literal["duty", "honour"] = "duty"
    member_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="a family member (tree-duty/members)")
    amount_fen: int | None = Field(default=None, ge=1, le=10_000_000,
                                   description="a part payment, where the rule adds payments up")


class OrderIn(QuoteIn):
    """Exactly one of quantity_g and footprint_id — neither for purpose tree_duty, whose rule sets the amount (the
    credits are what it buys, rounded down to the gram); beneficiary_name for a gift and only for a gift. One order may
    hold at most MP_MAX_RESERVED_G grams (400), and one user's unpaid orders are limited (429)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra=_beneficiary_for_gifts_only)
    purpose: Literal[ORDER_PURPOSES]
    beneficiary_name: str | None = Field(default=None, min_length=1, max_length=50,
                                         description="for a gift: who the certificate is made out to")
    claim_code: str | None = Field(default=None, pattern=CLAIM_CODE,
                                   description="purpose judicial: the claim code the court gave the payer")

    event_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                 description="purpose event: the event a participant offsets their trip to")

    site_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="purpose tourism: the site a visitor offsets their trip to")

    tree_duty: TreeDutyRef | None = Field(default=None, description="purpose tree_duty: whose duty, which year "
                                                                     "and region; the rule sets the amount")

    REFERENCE_FIELDS: ClassVar[tuple[str, ...]] = ("claim_code", "event_id", "site_id", "tree_duty")
    """The fields that name a scenario's record (backend.orders.purposes)."""


class SaveFootprintIn(Body):
    calculation_id: FootprintId
    label: str | None = Field(default=None, max_length=40, description="the user's own name for it")
    month: str | None = Field(default=None, pattern=r"^[0-9]{4}-[0-9]{2}$",
                              description="YYYY-MM the emissions belong to; default this month (Beijing time)")


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MonthlyQuery(Query):
    months: int = Field(default=12, ge=1, le=36)


class BoardQuery(Query):
    region: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="GB/T 2260 adcode; none: nationwide")
    limit: int = Field(default=20, ge=1, le=100)


# --- responses ---------------------------------------------------------------------------------------------------

class ProfileOut(Out):
    id: int
    nickname: str | None
    avatar_url: str | None
    region: str | None
    real_name_masked: str | None
    birth_year: int | None
    sex: str | None
    has_unionid: bool
    holder: str


class LoginOut(Out):
    token: str = Field(description="the session token: Authorization: Bearer <token>")
    expires_in: int = Field(description="seconds")
    user: ProfileOut


class RefreshOut(Out):
    token: str
    expires_in: int


class LoggedOut(Out):
    logged_out: Literal[True]
    sessions_ended: int | None = Field(default=None, description="logout-all: how many sessions ended")


class ErasedOut(Out):
    erased: Literal[True]
    names: int = Field(description="beneficiary names (and their commitment salts) blanked")
    gift_orders: int
    footprints: int
    family_members: int = Field(default=0, description="tree-duty family members erased")
    voucher_names: int = Field(default=0, description="tree-duty vouchers whose full name was blanked")


class SavedFootprintOut(Out):
    id: int
    calculation_id: str
    calculator: str
    label: str
    month: str
    total_g: int
    saved_at: str


class Deleted(Out):
    deleted: int


class NameProof(Out):
    name: str
    salt: str
    hash: str


class MyRetirementOut(Out):
    retirement_id: int
    quantity_g: int
    retired_at: str
    purpose: str
    order_no: str | None
    beneficiary_masked: str
    batch_code: str
    project_name: str
    status: Literal["retired", "reversed"]
    certificate_no: str | None
    verify_url: str | None
    card_url: str | None
    pdf_url: str | None
    name_proof: NameProof | None = Field(description="opens the certificate's name commitment: sha256(salt:name)")


class AccountOut(Out):
    footprint_g: int
    offset_g: int
    net_g: int
    neutral_percent: int | None = Field(description="offset ÷ footprint, rounded down; may pass 100")
    gifted_g: int
    retired_g: int
    footprints: int
    retirements: int
    badges: list[Json]


class MonthOut(Out):
    month: str
    footprint_g: int
    offset_g: int
    gifted_g: int


class Standing(Out):
    rank: int
    user_id: int
    nickname: str
    avatar_url: str | None
    retired_g: int


class BoardOut(Out):
    region: str | None
    region_name: str
    entrants: int
    items: list[Standing]
    me: Json | None
