"""Request and response shapes of the judicial scenario's JSON (the same models validate and document it)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from backend.dbtypes import MAX_ID
from backend.footprint.inputs import PlainDecimal
from backend.orgs.schemas import Body
from backend.schemas import Out
from scenarios.judicial.models import CAUSES, ROUNDINGS, TIERS

Region = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 county code of the damaged place")]
CLAIM_CODE = r"^[0-9A-TV-Za-tv-z]{4}[- ]?[0-9A-TV-Za-tv-z]{4}[- ]?[0-9A-TV-Za-tv-z]{4}$"
ClaimCode = Annotated[str, Field(pattern=CLAIM_CODE, description="the payer's claim code, e.g. 7KQ2-M9TX-4RWD (any "
                                                                 "case; O, I, L read as 0, 1, 1)")]


class AppraisalLoss(Body):
    """The usual case: an appraisal (鉴定意见) gives the loss in tonnes CO2e directly."""

    method: Literal["appraisal"]
    tonnes: Annotated[PlainDecimal, Field(gt=0, le=10_000_000, decimal_places=6, description="tCO2e, up to 6 places")]
    appraisal_body: str = Field(min_length=1, max_length=100, description="鉴定机构")
    report_no: str = Field(min_length=1, max_length=60, description="鉴定意见书编号")


class CalculationLoss(Body):
    """A stored calculation of the judicial calculator (POST /api/v1/footprint/judicial): its trace is kept."""

    method: Literal["calculation"]
    calculation_id: str = Field(pattern=r"^FP[0-9a-f]{24}$")


class MoneyLoss(Body):
    """A sum of money the judgment says is to be spent on credits (e.g. a service-value loss 用于购买等值碳汇)."""

    method: Literal["money"]
    amount_fen: int = Field(gt=0, le=100_000_000_000, description="fen (1 yuan = 100 fen)")
    basis: str | None = Field(default=None, min_length=2, max_length=200, description="where the sum comes from")


Loss = Annotated[Union[AppraisalLoss, CalculationLoss, MoneyLoss], Field(discriminator="method")]


class PayerIn(Body):
    name: str = Field(min_length=1, max_length=50, description="the party ordered to pay (full name)")
    share_percent: Annotated[PlainDecimal, Field(gt=0, le=100, decimal_places=2)] | None = Field(
        default=None, description="this payer's part of the whole; give it for every payer or for none")


class CaseIn(Body):
    case_no: str = Field(min_length=6, max_length=60, description="案号, e.g. (2024)川0129刑初123号")
    cause: Literal[CAUSES]
    cause_note: str | None = Field(default=None, min_length=1, max_length=200)
    damage_region: Region
    loss: Loss
    multiplier: Annotated[PlainDecimal, Field(ge=1, le=10, decimal_places=2)] = Decimal(1)
    rounding: Literal[ROUNDINGS] = "up_tonne"
    deadline: date
    payers: list[PayerIn] = Field(min_length=1, max_length=20)
    publish_case_no: bool = Field(default=False, description="show the full case number in public")
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                               description="the court acting, when you belong to more than one")


class ExtendIn(Body):
    deadline: date
    reason: str = Field(min_length=2, max_length=500)


class CloseIn(Body):
    reason: str = Field(min_length=2, max_length=500)


class CaseListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ordered", "partially_paid", "restored", "closed", "overdue"] | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    overdue: bool | None = None
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class CaseOrderIn(Body):
    """An offline order for a payer of the case: the court collected the money (案款) and transfers it."""

    claim_code: ClaimCode
    listing_id: int = Field(ge=1, le=MAX_ID)
    quantity_g: int = Field(ge=1, le=10**15)
    payment: Literal["offline"]


class ClaimIn(Body):
    claim_code: ClaimCode


class PayerOut(Out):
    id: int
    name: str | None
    name_masked: str
    claim_code: str
    share_percent: str | None
    share_g: int | None
    share_fen: int | None
    paid_g: int
    paid_fen: int


class OfferOut(Out):
    listing_id: int
    tier: Literal[TIERS]
    tier_label: str
    title: str
    project: dict
    price_fen_per_t: int
    available_g: int
    quantity_for_owed_g: int | None = Field(description="what the owed sum buys here (money cases)")


class CaseOut(Out):
    id: int
    org_id: int
    court: str
    case_no: str
    case_no_public: str
    cause: str
    cause_label: str
    damage_region: str
    damage_region_name: str | None
    loss: dict
    multiplier: str
    rounding: str
    required_g: int | None
    required_fen: int | None
    computation: list[str]
    deadline: str
    overdue: bool
    status: str
    paid_g: int
    paid_fen: int
    owed_g: int | None
    owed_fen: int | None
    payers: list[PayerOut]
    certificates: list[dict]
    purchases: list[dict]
    witness_certificate_no: str | None
    decisions: list[dict]
    created_at: str
    restored_at: str | None


class CaseSummaryOut(Out):
    id: int
    case_no: str
    cause: str
    cause_label: str
    status: str
    status_label: str
    required_g: int | None
    required_fen: int | None
    paid_g: int | None
    paid_fen: int | None
    deadline: str
    overdue: bool
    created_at: str


class ClaimOut(Out):
    case_id: int
    court: str
    case_no: str = Field(description="masked to court and year")
    cause_label: str
    damage_region_name: str | None
    payer: str = Field(description="whom this code is for (masked)")
    status: str
    required_g: int | None
    required_fen: int | None
    owed_g: int | None
    owed_fen: int | None
    deadline: str
    listings: list[OfferOut]
