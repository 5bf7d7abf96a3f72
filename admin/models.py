"""The console's own records: a settlement statement marked paid (the figures it was paid on, kept as they were)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


class SettlementPayment(SQLModel, table=True):
    """A project owner's monthly statement, settled: finance paid the owner what it was owed (or, for a month of
    refunds, the owner paid it back), by the bank transfer ``reference``. The statement's figures are copied here
    as they stood, so a later look can tell whether anything moved in that month since."""

    __tablename__ = "settlement_payment"
    __table_args__ = (UniqueConstraint("owner_id", "month", name="uq_settlement_payment_owner_month"),
                      CheckConstraint("owed_fen = gross_fen - refunds_fen - fee_fen", name="ck_settlement_owed"))

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="organisation.id")
    month: str = Field(max_length=7)
    """YYYY-MM, a calendar month in Beijing time."""
    sold_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    gross_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    refunds_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    owed_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    """Negative when the month's refunds exceed its sales: the owner owes the platform."""
    reference: str = Field(max_length=64)
    paid_by: str = Field(max_length=128)
    paid_at: datetime = Field(sa_type=UTCDateTime)
