"""Response shapes of the ledger (backend/ledger/queries.py): accounts, transfers, retirements, serials."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from backend.schemas import Out

Range = list[int]  # [first, last] serials, inclusive


class AccountOut(Out):
    id: int
    holder: str
    batch_id: int
    kind: str
    balance_g: int
    debits_g: int
    credits_g: int


class Side(Out):
    holder: str
    kind: str


class TransferOut(Out):
    """One transfer. RESERVE carries ``status`` (pending, posted, voided, expired); a correction names what it
    corrects; a reservation its deadline."""

    id: int
    client_id: str
    code: Literal["ISSUE", "RESERVE", "POST", "VOID", "TRANSFER", "RETIRE", "CANCEL", "CORRECT"]
    batch_id: int
    amount_g: int
    from_: Side = Field(alias="from")
    to: Side
    ranges: list[Range]
    actor: str
    created_at: str
    pending_id: int | None = None
    counterparty: str | None = None
    corrects_id: int | None = None
    reason: str | None = None
    expires_at: str | None = None
    status: str | None = None


class RetirementOut(Out):
    id: int
    transfer_id: int
    batch_id: int
    quantity_g: int
    purpose: str
    purpose_ref: str | None
    beneficiary_masked: str
    ranges: list[Range]
    retired_at: str
    status: Literal["retired", "reversed"]
    certificate_no: str | None
    holder: str | None = Field(default=None, description="operators only")
    beneficiary_name: str | None = Field(default=None, description="operators only")


class SerialOut(Out):
    """Who holds a serial now: the account kind (and, for operators, the holder); a retired serial names the
    retirement that claims it."""

    batch_id: int
    serial: int
    kind: str
    range: Range
    holder: str | None = None
    retirement: RetirementOut | None = None
    batch_code: str | None = None


class LedgerCheckOut(Out):
    ok: bool
    violations: list[str]
