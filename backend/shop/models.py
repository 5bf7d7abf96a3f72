"""Listings: a batch on sale to the public, at a price per tonne, with the project's story."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Text
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime

DEFAULT_FEE_BP = 500


class Listing(SQLModel, table=True):
    """One batch's credits offered by a seller (the platform's inventory, for now) to mini-program buyers.

    The quantity on sale is not stored: it is the seller's available balance in the batch, straight from the ledger.
    """

    __table_args__ = (CheckConstraint("price_fen_per_t > 0", name="ck_listing_price_positive"),
                      CheckConstraint("fee_bp >= 0 AND fee_bp <= 10000", name="ck_listing_fee_bp"))

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", unique=True)
    seller: str = Field(default="platform", max_length=64)
    price_fen_per_t: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee_bp: int = Field(default=DEFAULT_FEE_BP)
    """The platform's fee on each sale, in basis points of the amount paid (500 = 5 %): agreed with the project's
    owner, shown to operators only; each order keeps the rate it was placed at (its settlement never moves)."""
    title: str = Field(max_length=100)
    story: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    photo_urls: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    location: str = Field(default="", max_length=200)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
