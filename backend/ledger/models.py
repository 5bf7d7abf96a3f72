"""Ledger tables: accounts, immutable transfers, the serial ranges each account holds, and retirements.

Units are integer grams of CO2e. An account is (holder, batch, kind). Each batch has one ``issuance`` account
(holder ``registry``) whose balance is minus what was issued; every other account stays >= 0, which the
CHECK constraint enforces as a backstop to the guarded updates in ``ledger.engine``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime, one_of

ACCOUNT_KINDS = ("issuance", "available", "reserved", "retired", "cancelled")
TRANSFER_CODES = ("ISSUE", "RESERVE", "POST", "VOID", "TRANSFER", "RETIRE", "CANCEL", "CORRECT")
RETIREMENT_PURPOSES = ("personal", "tree_duty", "event", "judicial", "tourism", "other")
REGISTRY_HOLDER = "registry"
PLATFORM_HOLDER = "platform"


def big(*constraints, **kw) -> Column:
    return Column(BigInteger, *constraints, nullable=kw.pop("nullable", False), **kw)


class LedgerAccount(SQLModel, table=True):
    __tablename__ = "ledger_account"
    __table_args__ = (
        UniqueConstraint("holder", "batch_id", "kind", name="uq_account_holder_batch_kind"),
        CheckConstraint("debits_g >= 0 AND credits_g >= 0", name="ck_account_totals"),
        CheckConstraint("kind = 'issuance' OR credits_g >= debits_g", name="ck_account_non_negative"),
        one_of("kind", ACCOUNT_KINDS, "ck_account_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    holder: str = Field(max_length=64)
    """``registry``, ``platform`` (operator inventory), ``org:<id>`` or ``user:<id>``."""
    batch_id: int = Field(foreign_key="batch.id", index=True)
    kind: str = Field(max_length=16)
    debits_g: int = Field(default=0, sa_column=big(default=0))
    credits_g: int = Field(default=0, sa_column=big(default=0))
    created_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def balance_g(self) -> int:
        return self.credits_g - self.debits_g


class Transfer(SQLModel, table=True):
    """One immutable movement of ``amount_g`` from the debit account to the credit account of one batch."""

    __table_args__ = (
        CheckConstraint("amount_g > 0", name="ck_transfer_amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="ck_transfer_distinct_accounts"),
        one_of("code", TRANSFER_CODES, "ck_transfer_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=80, unique=True)
    """The caller's idempotency key; auxiliary legs of one operation get a suffix (``…#remainder``)."""
    request_hash: str = Field(max_length=64)
    """SHA-256 of the canonical request, so a reused client id with a different request is refused."""
    code: str = Field(max_length=12)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    debit_account_id: int = Field(foreign_key="ledger_account.id", index=True)
    credit_account_id: int = Field(foreign_key="ledger_account.id", index=True)
    amount_g: int = Field(sa_column=big())
    pending_id: int | None = Field(default=None, sa_column=Column(ForeignKey("transfer.id"), index=True))
    """For POST and VOID: the RESERVE they resolve."""
    counterparty: str | None = Field(default=None, max_length=64)
    """For RESERVE: the holder a POST will deliver to."""
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """For RESERVE: when the reservation lapses and may be voided by the sweeper."""
    corrects_id: int | None = Field(default=None, sa_column=Column(ForeignKey("transfer.id"), unique=True))
    """For CORRECT: the transfer it reverses; each transfer is corrected at most once."""
    reason: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)


class SerialRange(SQLModel, table=True):
    """Serials ``[first, last]`` of a batch, held by one account. The ranges of a batch partition its space."""

    __tablename__ = "serial_range"
    __table_args__ = (
        CheckConstraint("first >= 1 AND last >= first", name="ck_serial_range_bounds"),
        Index("ix_serial_range_account_first", "account_id", "first"),
        Index("ix_serial_range_batch_first", "batch_id", "first"),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id")
    account_id: int = Field(foreign_key="ledger_account.id")
    first: int = Field(sa_column=big())
    last: int = Field(sa_column=big())
    reservation_id: int | None = Field(default=None, sa_column=Column(ForeignKey("transfer.id"), index=True))
    """In a ``reserved`` account: the RESERVE these serials are earmarked for."""


class TransferRange(SQLModel, table=True):
    """The exact serials a transfer moved; immutable, like the transfer."""

    __tablename__ = "transfer_range"
    __table_args__ = (Index("ix_transfer_range_first_last", "first", "last"),)

    transfer_id: int = Field(foreign_key="transfer.id", primary_key=True)
    first: int = Field(sa_column=big(primary_key=True))
    last: int = Field(sa_column=big())


class PendingResolution(SQLModel, table=True):
    """How a reservation ended. The primary key makes a reservation resolve at most once."""

    __tablename__ = "pending_resolution"

    pending_id: int = Field(foreign_key="transfer.id", primary_key=True)
    outcome: str = Field(max_length=12)
    """``posted``, ``voided`` or ``expired``."""
    transfer_id: int = Field(foreign_key="transfer.id")
    """The POST or VOID that resolved it."""
    resolved_at: datetime = Field(sa_type=UTCDateTime)


class Retirement(SQLModel, table=True):
    """A claim on retired credits: who retired how much of which batch, for what, on whose behalf.

    The serials are the RETIRE transfer's ranges. A certificate (a later table) points at this row.
    """

    __table_args__ = (one_of("purpose", RETIREMENT_PURPOSES, "ck_retirement_purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="transfer.id", unique=True)
    holder: str = Field(max_length=64, index=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    quantity_g: int = Field(sa_column=big())
    purpose: str = Field(max_length=16)
    purpose_ref: str | None = Field(default=None, max_length=200)
    """Duty year, event id, case number (案号) …"""
    beneficiary_masked: str = Field(max_length=200)
    """The public form of whom it was made out to; the full name is erasable, in backend.privacy."""
    retired_at: datetime = Field(sa_type=UTCDateTime, index=True)
