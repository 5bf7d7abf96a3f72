"""The erasable opening of a certificate's commitment to its beneficiary."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


class BeneficiaryName(SQLModel, table=True):
    """Whom a retirement was made out to, in full, and the salt that opens its certificate's name commitment.

    Not history: erasure sets both to NULL (``erased_at`` says when), and the certificate keeps verifying with the
    masked name it always showed.
    """

    __tablename__ = "beneficiary_name"

    retirement_id: int = Field(primary_key=True, foreign_key="retirement.id")
    full_name: str | None = Field(default=None, max_length=200)
    salt: str | None = Field(default=None, max_length=32)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
