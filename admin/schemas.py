"""Request bodies of the operator API. Strictly typed; unknown fields are refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.dbtypes import MAX_ID
from backend.ledger.holders import HOLDER_PATTERN
from backend.ledger.models import RETIREMENT_PURPOSES
from backend.ledger.operations import MAX_AMOUNT_G, MAX_TTL_SECONDS
from backend.orders.models import ORDER_STATES
from backend.schemas import Json, Out, changes_only
from backend.registry.models import ECOSYSTEMS, ORGANISATION_KINDS, ORGANISATION_STATES, PROJECT_STATES
from backend.shop.models import DEFAULT_FEE_BP
from backend.shop.service import MAX_PRICE_FEN_PER_T

Grams = Annotated[int, Field(gt=0, le=MAX_AMOUNT_G, description="integer grams CO2e")]
Holder = Annotated[str, Field(pattern=HOLDER_PATTERN.pattern, max_length=64,
                              description="platform, org:<id> or user:<id>")]
Id = Annotated[int, Field(gt=0, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Ecosystem = Literal[ECOSYSTEMS]  # the same tuples the CHECK constraints are built from


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MethodologyIn(Body):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-_]*$")
    name: Name
    ecosystem: Ecosystem
    version: str = Field(min_length=1, max_length=20)
    source_document: str = Field(min_length=1, max_length=500)


class OrganisationIn(Body):
    name: Name
    kind: Literal[ORGANISATION_KINDS]
    credit_code: str | None = Field(default=None, pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
    adcode: str | None = Field(default=None, pattern=r"^\d{6}$")


class ProjectIn(Body):
    RULES: ClassVar[str] = (
        "Rules the schema cannot say (400 naming the field): owner_id names a registered organisation and "
        "methodology_id a methodology of the project's ecosystem; county_adcode is a county-level GB/T 2260 code; "
        "crediting_end is after crediting_start.")
    owner_id: Id
    name: Name
    county_adcode: str = Field(pattern=r"^\d{6}$")
    ecosystem: Ecosystem
    methodology_id: Id
    area_mu: Decimal = Field(gt=0, le=Decimal("1e10"), max_digits=14, decimal_places=2)
    crediting_start: date
    crediting_end: date
    description: str = Field(default="", max_length=5000)


class DecisionIn(Body):
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class BatchIn(Body):
    RULES: ClassVar[str] = (
        "Rules the schema cannot say: monitoring_end is not before monitoring_start and both lie within the "
        "project's crediting period, vintage is a year of the monitoring period (400 naming the field); only a "
        "registered project gets batches (409).")
    monitoring_start: date
    monitoring_end: date
    vintage: int = Field(ge=1990, le=2100)
    quantity_g: Grams
    to_holder: Holder = "platform"


class TransferIn(Body):
    RULES: ClassVar[str] = (
        "Rules the schema cannot say: to_holder must exist (an org:<id> is a registered organisation: 400 "
        "otherwise) and differ from from_holder; from_holder must have amount_g available in the batch "
        "(409 insufficient_credits), and a suspended project's credits do not move (409).")
    batch_id: Id
    from_holder: Holder
    to_holder: Holder
    amount_g: Grams


class ReserveIn(TransferIn):
    ttl_seconds: int | None = Field(default=None, ge=1, le=MAX_TTL_SECONDS,
                                    description="default: the RESERVATION_TTL_SECONDS setting")


class PostIn(Body):
    amount_g: Grams | None = None


class VoidIn(Body):
    pass


class RetireIn(Body):
    batch_id: Id
    holder: Holder
    amount_g: Grams
    purpose: Literal[RETIREMENT_PURPOSES]
    purpose_ref: str | None = Field(default=None, min_length=1, max_length=200)
    beneficiary_name: Name


class CancelIn(Body):
    batch_id: Id
    holder: Holder
    amount_g: Grams
    reason: str = Field(min_length=1, max_length=500)


class CorrectIn(Body):
    reason: str = Field(min_length=1, max_length=500)


PhotoUrl = Annotated[str, Field(pattern=r"^https://[^\s\x00]{1,490}$", description="https URL of a photo")]
PriceFenPerTonne = Annotated[int, Field(gt=0, le=MAX_PRICE_FEN_PER_T, description="fen per tonne CO2e")]
ListDay = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2999, 12, 31), description="a Beijing day")]
"""A day a console list filters by: within the years the platform can have records of (no year-1 or year-9999
arithmetic at the edges)."""
FeeBp = Annotated[int, Field(ge=0, le=10_000, description="the platform's fee, basis points of each sale (500 = 5 %)")]


class ListingIn(Body):
    batch_id: Id
    price_fen_per_t: PriceFenPerTonne
    fee_bp: FeeBp = DEFAULT_FEE_BP
    title: str = Field(min_length=1, max_length=100)
    story: str | None = Field(default=None, max_length=5000, description="default: the project's description")
    photo_urls: list[PhotoUrl] = Field(default_factory=list, max_length=9)
    location: str | None = Field(default=None, max_length=200, description="default: the project's county")


class ListingChange(Body):
    RULES: ClassVar[str] = "At least one field, and none null (400 otherwise)."
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=changes_only)
    price_fen_per_t: PriceFenPerTonne | None = None
    fee_bp: FeeBp | None = None
    title: str | None = Field(default=None, min_length=1, max_length=100)
    story: str | None = Field(default=None, max_length=5000)
    photo_urls: list[PhotoUrl] | None = Field(default=None, max_length=9)
    location: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectQuery(Query):
    state: Literal[PROJECT_STATES] | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class AccountQuery(Query):
    batch_id: Id | None = None
    holder: Holder | None = None


class TransferQuery(Query):
    batch_id: Id | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    before_id: Id | None = None


class OrderQuery(Query):
    status: Literal[ORDER_STATES] | None = None
    attention: bool | None = Field(default=None, description="true: only orders waiting for an operator")
    limit: int = Field(default=100, ge=1, le=1000)


class ResolveIn(Body):
    note: str = Field(min_length=1, max_length=500,
                      description="what was done on the WeChat Pay merchant platform, with its reference")


class RevocationIn(Body):
    reason: str = Field(min_length=1, max_length=500)


class OrganisationQuery(Query):
    status: Literal[ORGANISATION_STATES] | None = None
    kind: Literal[ORGANISATION_KINDS] | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class AuditQuery(Query):
    limit: int = Field(default=50, ge=1, le=500)
    before: int | None = Field(default=None, ge=1, le=2**62, description="events before this seq (paging)")


# --- responses -----------------------------------------------------------------------------------------------------

class AuditEventOut(Out):
    seq: int
    at: str
    actor: str
    action: str
    object: str = Field(description="<type>:<id>")
    before: Json | None
    after: Json | None
    hash: str


class OfflinePaymentIn(Body):
    """The bank transfer, as the bank statement shows it."""

    reference: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._:/\-]{2,63}$",
                           description="the transfer's voucher / reference number (letters, digits, ._:/-)")
    amount_fen: int = Field(gt=0, le=10**12, description="the amount received, in fen")
