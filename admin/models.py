"""The console's own records: a settlement statement marked paid (the figures it was paid on, kept as they were),
the verifiers' runs (when each last ran, and what it found) and the CSV exports written by jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


class SettlementPayment(SQLModel, table=True):
    """A project owner's monthly statement, settled: finance paid the owner what it was owed (or, for a month of
    refunds, the owner paid it back), by the bank transfer ``reference``. The statement's figures are copied here
    as they stood, so a later look can tell whether anything moved in that month since."""

    __tablename__ = "settlement_payment"
    __table_args__ = (UniqueConstraint("owner_id", "month", name="uq_settlement_payment_owner_month"),
                      UniqueConstraint("reference", name="uq_settlement_payment_reference"),
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


class VerificationRun(SQLModel, table=True):
    """One run of a verifier — the audit chain, the ledger's invariants or the transparency log — asked for by the
    hourly schedule (``slot`` = ``every:<n>``) or by a person (``slot`` = ``by:<uuid>``): owed from the moment it is
    asked, done when ``finished_at`` is set. ``done``/``total`` is its progress while it runs."""

    __tablename__ = "verification_run"
    __table_args__ = (UniqueConstraint("kind", "slot", name="uq_verification_run_kind_slot"),
                      CheckConstraint("kind IN ('audit', 'ledger', 'log')", name="ck_verification_run_kind"))

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    slot: str = Field(max_length=48)
    requested_by: str = Field(max_length=128)
    requested_at: datetime = Field(sa_type=UTCDateTime, index=True)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ok: bool | None = Field(default=None)
    summary: str = Field(default="", max_length=500)
    problems: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """What the verifier reported, the first PROBLEMS_KEPT of them."""
    done: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class CsvExport(SQLModel, table=True):
    """A CSV export of a console list, written by a job (admin/exports.py): owed from when it is asked for, done when
    ``finished_at`` is set; ``rows``/``total`` is its progress."""

    __tablename__ = "csv_export"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    query: str = Field(default="", max_length=2000)
    """The list's filters, as the page's query string had them."""
    requested_by: str = Field(max_length=128)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rows: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    error: str | None = Field(default=None, max_length=500)
    """Set (with ``finished_at``) when the file could not be written: why. No file then."""
