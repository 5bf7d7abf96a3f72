"""Certificate tables: one certificate per retirement, numbered in one series (the year of issue in front)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


class Certificate(SQLModel, table=True):
    """The signed statement that a retirement happened: ``TH2026-00012345``.

    Or, of ``kind`` other than ``retirement``, a scenario's document that vouches for several retirements at once
    (a court case's witness certificate, an event's neutrality certificate): numbered, signed and logged the same
    way, with no retirement of its own (see ``service.issue_document``).

    ``payload`` is the canonical JSON the certificate states; ``jws`` signs its digest together with the fields a
    QR must carry. The payload commits to the beneficiary's full name with a salted hash; the salt and the name
    (the commitment's opening, which lets the beneficiary prove the certificate names them) are kept erasable in
    backend.privacy, not here: this table is history.
    """

    __table_args__ = (UniqueConstraint("year", "sequence", name="uq_certificate_year_sequence"),
                      Index("ix_certificate_sequence", "sequence"),
                      CheckConstraint("(kind = 'retirement') = (retirement_id IS NOT NULL)",
                                      name="ck_certificate_kind_retirement"))

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    year: int
    sequence: int
    """From one series across years: PostgreSQL's ``certificate_number_seq``, or the next after the largest on
    SQLite (which has one writer at a time). Increasing, never reused; on PostgreSQL a number taken by a
    transaction that rolled back is skipped, so the series may have gaps (service.number_for)."""
    kind: str = Field(default="retirement", max_length=32)
    """``retirement``, or a document kind such as ``judicial_witness``."""
    retirement_id: int | None = Field(default=None, foreign_key="retirement.id", unique=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    payload_sha256: str = Field(max_length=64)
    jws: str = Field(sa_column=Column(Text, nullable=False))
    kid: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)


class CertificateRevocation(SQLModel, table=True):
    """An operator's revocation of a certificate, with the reason the verify page shows. Never undone."""

    __tablename__ = "certificate_revocation"
    __table_args__ = (CheckConstraint("length(reason) > 0", name="ck_certificate_revocation_reason"),)

    certificate_id: int = Field(foreign_key="certificate.id", primary_key=True,
                                sa_column_kwargs={"autoincrement": False})
    reason: str = Field(max_length=500)
    revoked_by: str = Field(max_length=128)
    revoked_at: datetime = Field(sa_type=UTCDateTime)
