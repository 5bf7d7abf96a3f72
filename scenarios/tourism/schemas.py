"""Request and response shapes of 碳汇+旅游's JSON (the same models validate and document it)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.dbtypes import MAX_ID
from backend.orgs.schemas import Body
from backend.schemas import Out, changes_only
from backend.shop.schemas import ListingOut
from backend.shop.service import MIN_ORDER_G
from scenarios.tourism.models import DUTY_TIERS, PERK_KINDS

Region = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 county code the site lies in")]
# Mainland China and its islands lie within these bounds; a swapped pair (104, 30) falls outside them.
Latitude = Annotated[Decimal, Field(ge=3, le=54, max_digits=9, decimal_places=6, description="decimal degrees north")]
Longitude = Annotated[Decimal, Field(ge=73, le=136, max_digits=9, decimal_places=6,
                                     description="decimal degrees east")]
Iata = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="the nearest airport (IATA code, e.g. CTU)")]
Station = Annotated[str, Field(min_length=1, max_length=60, description="the nearest railway station")]


class SiteIn(Body):
    """At least one of airport and station (400 naming airport otherwise)."""

    name: str = Field(min_length=1, max_length=100)
    adcode: Region
    latitude: Latitude
    longitude: Longitude
    airport: Iata | None = None
    station: Station | None = None
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                               description="the scenic area acting, when you belong to more than one")


class SiteChange(Body):
    """At least one field; airport or station may be null (removed) while the other stays."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=changes_only)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    adcode: Region | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    airport: Iata | None = None
    station: Station | None = None
    active: bool | None = Field(default=None, description="false: withdrawn from visitors")


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class VisitorSiteQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    origin: Region | None = Field(default=None, description="where I travel from (default: my profile's region)")
    mode: Literal["car", "hsr", "flight"] | None = Field(default=None, description="how (default: by distance)")


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Offsets(Out):
    count: int
    retired_g: int


class SiteOut(Out):
    id: int
    name: str
    organisation_id: int
    organisation: str
    adcode: str
    region_name: str | None
    latitude: str
    longitude: str
    airport: str | None
    station: str | None
    active: bool
    offsets: Offsets


class NearListingOut(ListingOut):
    distance_km: str | None = Field(description="great circle from the site to the project's county seat")


class TripPrefill(Out):
    calculator: str
    destination: str
    origin: str | None = Field(description="the visitor's region, when their profile has one")
    mode: str
    distance_km: str | None
    note: str



# --- perks (权益兑换) -------------------------------------------------------------------------------------------

Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31), description="a Beijing calendar day")]
Stock = Annotated[int, Field(ge=0, le=10_000_000, description="vouchers it may issue in all; null: no limit")]


class OfferIn(Body):
    """Who qualifies, by ``kind``: site_offset (one offset at this site of at least min_g), tree_duty (a tree-duty
    voucher of duty_year, of a region within — or with duty_outside, outside — duty_region, at least duty_tier), or
    certificate (any certificate of the year the perk is claimed in). A field of another kind is a 400 naming it."""

    title: str = Field(min_length=1, max_length=40, description="what the holder gets: 门票七折")
    terms: str = Field(min_length=1, max_length=500, description="how it is used")
    kind: Literal[PERK_KINDS]
    min_g: int | None = Field(default=None, ge=MIN_ORDER_G, le=10**12, description="site_offset: grams CO2e")
    duty_region: Region | None = Field(default=None, description="tree_duty: a province, prefecture or county; "
                                                                 "null: any region")
    duty_outside: bool = False
    duty_year: int | None = Field(default=None, ge=1982, le=2099)
    duty_tier: Literal[DUTY_TIERS] | None = Field(default=None, description="tree_duty: the least tier (duty)")
    starts_on: Day | None = Field(default=None, description="first day it issues vouchers; today when absent")
    ends_on: Day | None = Field(default=None, description="last day it issues vouchers; null: until withdrawn")
    valid_days: int = Field(default=30, ge=1, le=366, description="a voucher's days of validity, its issue day first")
    stock: Stock | None = None


class OfferChange(Body):
    """At least one field. Who qualifies cannot change once vouchers are issued under it: define a new offer."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"minProperties": 1})
    title: str | None = Field(default=None, min_length=1, max_length=40)
    terms: str | None = Field(default=None, min_length=1, max_length=500)
    ends_on: Day | None = Field(default=None, description="null: until withdrawn")
    stock: Stock | None = Field(default=None, description="not below what it issued; null: no limit")
    active: bool | None = Field(default=None, description="false: withdrawn, it issues no more")


class ClaimIn(Body):
    offer_id: int = Field(ge=1, le=MAX_ID)


class RedeemIn(Body):
    code: str = Field(min_length=1, max_length=40, description="as scanned or typed: K7M2-9QXD, k7m29qxd …")


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: Day | None = Field(default=None, description="first day (Beijing); 29 days before until when absent")
    until: Day | None = Field(default=None, description="last day (Beijing); today when absent")


class SiteRef(Out):
    id: int
    name: str


class OfferOut(Out):
    id: int
    site: SiteRef
    organisation_id: int
    title: str
    terms: str
    kind: str
    condition: str = Field(description="who qualifies, as a visitor reads it")
    starts_on: str
    ends_on: str | None
    valid_days: int
    stock: int | None
    issued: int
    left: int | None
    active: bool
    open: bool = Field(description="issuing today")


class VisitorOfferOut(OfferOut):
    qualified: bool | None = Field(description="whether I qualify now (null: not signed in)")
    held: bool | None = Field(description="whether I hold this year's voucher (null: not signed in)")


class RedeemedOut(Out):
    """A voucher as the gate sees it."""

    code: str
    code_shown: str = Field(description="the code as printed: K7M2-9QXD")
    offer_id: int
    title: str
    terms: str
    site: SiteRef
    organisation_id: int
    status: Literal["valid", "redeemed", "expired"]
    status_label: str
    issued_at: str
    expires_at: str
    redeemed_at: str | None


class VoucherOut(RedeemedOut):
    """A voucher as its holder sees it."""

    evidence: str = Field(description="what qualified: order:<no>, voucher:<certificate no>, certificate:<no>")
    qr: str = Field(description="the QR (PNG) the gate scans: it holds the code")


class DayOut(Out):
    day: str
    visitors: int
    offsets: int
    retired_g: int
    perks_issued: int
    perks_redeemed: int


class StatsOut(Out):
    site_id: int
    since: str
    until: str
    days: list[DayOut]
    totals: dict


class VisitorSiteOut(SiteOut):
    perks: list[OfferOut] = Field(description="the perks this site gives today, and who qualifies")
    trip: dict = Field(description="a body for POST /api/v1/footprint/trip: destination the site; one return leg "
                                   "from the visitor's region when known, else no legs yet")
    trip_prefill: TripPrefill
    listings: list[NearListingOut] = Field(description="on sale, the projects nearest the site first")
