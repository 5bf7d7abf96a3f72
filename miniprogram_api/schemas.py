"""Request bodies of the mini-program API. Strictly typed; unknown fields are refused."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from backend.dbtypes import MAX_ID
from backend.ledger.operations import MAX_AMOUNT_G
from backend.orders.models import ORDER_PURPOSES

Id = Annotated[int, Field(gt=0, le=MAX_ID)]
Grams = Annotated[int, Field(gt=0, le=MAX_AMOUNT_G, description="integer grams CO2e")]
FootprintId = Annotated[str, Field(pattern=r"^FP[0-9a-f]{24}$", description="a stored footprint calculation")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginIn(Body):
    code: str = Field(min_length=1, max_length=64, description="the code from wx.login()")


class ProfileIn(Body):
    nickname: str | None = Field(default=None, min_length=1, max_length=32)
    avatar_url: HttpUrl | None = Field(default=None, max_length=500, description="https URL of the avatar image")
    region: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="GB/T 2260 adcode")
    real_name: str | None = Field(default=None, min_length=1, max_length=50,
                                  description="printed on certificates, shown masked")


class QuoteIn(Body):
    listing_id: Id
    quantity_g: Grams | None = None
    footprint_id: FootprintId | None = None


class OrderIn(QuoteIn):
    purpose: Literal[ORDER_PURPOSES]
    beneficiary_name: str | None = Field(default=None, min_length=1, max_length=50,
                                         description="for a gift: who the certificate is made out to")


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
