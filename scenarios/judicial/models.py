"""A court's substitutive-restoration order (替代性生态修复): the case, who pays, and what was bought for it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime, one_of

CAUSES = ("illegal_felling", "fire", "occupation", "other")
CASE_STATES = ("ordered", "partially_paid", "restored", "closed")
"""ordered → partially_paid → restored; ``overdue`` is not stored: it is an unrestored case past its deadline.
A clerk may close an unrestored case (with a reason): nothing more can be paid for it."""
ROUNDINGS = ("up_tonne", "up_kg", "exact")
TIERS = ("county", "prefecture", "province", "elsewhere")


class JudicialCase(SQLModel, table=True):
    """One case's order to buy and retire credits, owned by the court or procuratorate that opened it."""

    __tablename__ = "judicial_case"
    __table_args__ = (
        UniqueConstraint("org_id", "case_no", name="uq_case_org_case_no"),
        one_of("cause", CAUSES, "ck_case_cause"),
        one_of("status", CASE_STATES, "ck_case_status"),
        one_of("rounding", ROUNDINGS, "ck_case_rounding"),
        CheckConstraint("(required_g IS NULL) <> (required_fen IS NULL)", name="ck_case_one_requirement"),
        CheckConstraint("required_g IS NULL OR required_g > 0", name="ck_case_required_g_positive"),
        CheckConstraint("required_fen IS NULL OR required_fen > 0", name="ck_case_required_fen_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", index=True)
    case_no: str = Field(max_length=60)
    """案号, normalised (case_no.normalise): half-width brackets for a court's, 〔〕 for a procuratorate's."""
    case_no_salt: str = Field(max_length=32)
    """Opens the witness certificate's commitment to the full case number, which the public sees masked."""
    publish_case_no: bool = Field(default=False)
    """The court chose to show the full case number in public (on certificates made from now on)."""
    cause: str = Field(max_length=24)
    cause_note: str | None = Field(default=None, max_length=200)
    damage_region: str = Field(max_length=6)
    """GB/T 2260 code of the county where the forest was damaged: where credits are looked for first."""
    loss: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """How the loss was established, as the clerk gave it (appraisal, stored calculation, or money)."""
    loss_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    multiplier: str = Field(max_length=12)
    rounding: str = Field(max_length=16)
    required_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    """Grams to retire, computed once when the case is opened; or ``required_fen`` (a sum to spend on credits)."""
    required_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    computation: list[str] = Field(sa_column=Column(JSON, nullable=False))
    """How the requirement was computed, one step per line, as the court file shows it."""
    deadline: date
    status: str = Field(default="ordered", max_length=16, index=True)
    closed_reason: str | None = Field(default=None, max_length=500)
    witness_certificate_id: int | None = Field(default=None, foreign_key="certificate.id", unique=True)
    restored_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class CasePayer(SQLModel, table=True):
    """A party ordered to pay, with the claim code that lets them pay in the mini-program."""

    __tablename__ = "case_payer"
    __table_args__ = (UniqueConstraint("case_id", "position", name="uq_case_payer_position"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="judicial_case.id", index=True)
    position: int
    name: str | None = Field(default=None, max_length=100)
    """The full name, for the court's own pages; erasable (None) like any personal name."""
    name_masked: str = Field(max_length=100)
    share_percent: str | None = Field(default=None, max_length=8)
    share_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    """This payer's own part when the order splits it; None: jointly liable for the whole."""
    share_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    claim_code: str = Field(max_length=16, unique=True)


class CasePurchase(SQLModel, table=True):
    """An order placed for a case: which payer it discharges, and the nearness tier of its credits and why."""

    __tablename__ = "case_purchase"
    __table_args__ = (one_of("tier", TIERS, "ck_case_purchase_tier"),)

    order_id: int = Field(foreign_key="purchase_order.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    case_id: int = Field(foreign_key="judicial_case.id", index=True)
    payer_id: int = Field(foreign_key="case_payer.id")
    tier: str = Field(max_length=12)
    tier_reason: str = Field(max_length=300)


class CaseDecision(SQLModel, table=True):
    """A clerk's extension of the deadline or closing of the case, with the reason the file keeps."""

    __tablename__ = "case_decision"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="judicial_case.id", index=True)
    action: str = Field(max_length=16)
    reason: str = Field(max_length=500)
    deadline_before: date | None = None
    deadline_after: date | None = None
    actor: str = Field(max_length=128)
    decided_at: datetime = Field(sa_type=UTCDateTime)
