"""Footprints a citizen saved to their account. The calculation itself stays in ``footprint_calculation``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


class SavedFootprint(SQLModel, table=True):
    """A stored calculation counted in one user's account, in the month it belongs to (Beijing time).

    ``total_g`` is copied from the calculation so the account's sums need no join; a calculation never changes.
    The same calculation (the same bill, month after month) may count in several months, once in each.
    """

    __tablename__ = "saved_footprint"
    __table_args__ = (UniqueConstraint("user_id", "calculation_id", "month",
                                       name="uq_saved_footprint_user_calculation_month"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="mp_user.id")
    calculation_id: str = Field(foreign_key="footprint_calculation.id", max_length=26)
    calculator: str = Field(max_length=20)
    label: str = Field(default="", max_length=40)
    month: str = Field(max_length=7)
    """``YYYY-MM``: the month the emissions happened in, by the user's account; the chart groups by it."""
    total_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    saved_at: datetime = Field(sa_type=UTCDateTime)
