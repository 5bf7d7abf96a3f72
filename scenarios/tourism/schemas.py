"""Request and response shapes of 碳汇+旅游's JSON (the same models validate and document it)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from backend.dbtypes import MAX_ID
from backend.orgs.schemas import Body
from backend.schemas import Out, changes_only
from backend.shop.schemas import ListingOut

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


class VisitorSiteOut(SiteOut):
    trip: dict = Field(description="a body for POST /api/v1/footprint/trip: destination the site; one return leg "
                                   "from the visitor's region when known, else no legs yet")
    trip_prefill: TripPrefill
    listings: list[NearListingOut] = Field(description="on sale, the projects nearest the site first")
