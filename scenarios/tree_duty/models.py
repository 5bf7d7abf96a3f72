"""The yearly tree-planting duty discharged with credits (碳汇+全民义务植树): the regions' rules, the people a duty is
discharged for (a citizen, their family, an organisation's staff), the payments that count, and the vouchers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime, one_of

RULE_STATUSES = ("official", "reported", "assumed")
"""official: a regulation or the greening committee says it; reported: the press reports it (a donation rate applied
to credits is also 'reported'); assumed: the platform's own rule until the region publishes one."""
SEXES = ("male", "female")
TIERS = ("duty", "honour")
"""duty: 尽责凭证, the year's duty discharged; honour: 荣誉凭证, beyond the duty, or by someone outside duty age."""
ROSTER_STATES = ("checked", "paid", "issued", "withdrawn")
"""checked (uploaded and validated: quoted, and payable by one order at a time) → paid (its credits retired; the
vouchers are being issued by a job) → issued (a voucher for every person it pays for); checked → withdrawn (a
wrong list taken back before it was paid: its people are no longer listed)."""


ARCHIVE_STATES = ("requested", "ready")


class DutyRule(SQLModel, table=True):
    """One version of a region's rule for one period. A reviewer's change writes the next version of the same
    ``key``; the old version stays, as the vouchers issued under it say."""

    __tablename__ = "tree_duty_rule"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_tree_duty_rule_version"),
        one_of("status", RULE_STATUSES, "ck_tree_duty_rule_status"),
        CheckConstraint("duty_fen > 0 AND duty_trees > 0", name="ck_tree_duty_rule_duty"),
        CheckConstraint("(honour_fen IS NULL) = (honour_trees IS NULL)", name="ck_tree_duty_rule_honour_pair"),
        CheckConstraint("honour_fen IS NULL OR (honour_fen > duty_fen AND honour_trees >= duty_trees)",
                        name="ck_tree_duty_rule_honour"),
        CheckConstraint("min_age >= 0 AND min_age <= max_age_male AND min_age <= max_age_female",
                        name="ck_tree_duty_rule_ages"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="ck_tree_duty_rule_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=40, index=True)
    """The rule across its versions (``beijing-2010``)."""
    version: int
    region: str = Field(max_length=6, index=True)
    """Province, prefecture or county adcode: the most specific rule in force applies."""
    name: str = Field(max_length=50)
    effective_from: date
    effective_to: date | None = None
    duty_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    """What discharges the year's duty (60 yuan in Beijing)."""
    duty_trees: int
    honour_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    """From here the year earns the honour voucher (Hunan 90 yuan); None: the rule names no honour threshold."""
    honour_trees: int | None = None
    accumulates: bool
    """Payments within a year add up (Hunan); else one payment must reach the threshold by itself (Beijing)."""
    min_age: int = 11
    max_age_male: int = 60
    max_age_female: int = 55
    status: str = Field(max_length=16)
    source: str = Field(max_length=500)
    note: str | None = Field(default=None, max_length=500)
    """What the platform assumed beyond the source (that payments add up, an honour threshold …)."""
    recorded_by: str = Field(max_length=128)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    replaced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When a later version took its place: a year that begins after this is judged under the later version; a
    year begun under this one (its first payment) is finished under it."""


class DutyMember(SQLModel, table=True):
    """A family member a citizen discharges the duty for (name, birth year and sex only; never an ID number)."""

    __tablename__ = "tree_duty_member"
    __table_args__ = (one_of("sex", SEXES, "ck_tree_duty_member_sex"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="mp_user.id", index=True)
    name: str | None = Field(default=None, max_length=50)
    """None once erased (the account was deleted)."""
    birth_year: int
    sex: str = Field(max_length=6)
    created_at: datetime = Field(sa_type=UTCDateTime)


class DutyRoster(SQLModel, table=True):
    """An organisation's staff list for one year, as uploaded and checked; paid for by one order."""

    __tablename__ = "tree_duty_roster"
    __table_args__ = (one_of("status", ROSTER_STATES, "ck_tree_duty_roster_status"),
                      one_of("archive_status", ARCHIVE_STATES, "ck_tree_duty_roster_archive_status"))

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", index=True)
    year: int
    region: str = Field(max_length=6)
    rule_id: int = Field(foreign_key="tree_duty_rule.id")
    filename: str = Field(max_length=200)
    include_outside_age: bool = False
    """Pay for listed people outside duty age too (they receive honour vouchers); off by default."""
    status: str = Field(default="checked", max_length=10)
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """The line-by-line check: rows, accepted, problems [{line, field, message}], duplicates, outside duty age."""
    persons: int
    """How many people the order pays for."""
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id", unique=True)
    issued: int = 0
    """Vouchers issued so far (the job's progress)."""
    uploaded_by: str = Field(max_length=128)
    uploaded_at: datetime = Field(sa_type=UTCDateTime)
    issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    progressed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When it was paid or the issuing job last issued a chunk: a paid list that has not moved for a while is
    queued again (the queue is Redis, which may lose a job; the database says what is still owed)."""
    archive_status: str | None = Field(default=None, max_length=10)
    """The ZIP of its vouchers' PDFs: None (not asked for), requested (a job builds it), ready (on disk)."""
    archive_done: int = 0
    """PDFs written into the ZIP so far (the archive job's progress)."""
    archive_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    archive_ready_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DutyRosterEntry(SQLModel, table=True):
    """One accepted line of a staff list."""

    __tablename__ = "tree_duty_roster_entry"
    __table_args__ = (UniqueConstraint("roster_id", "line", name="uq_tree_duty_roster_entry_line"),
                      one_of("sex", SEXES, "ck_tree_duty_roster_entry_sex"))

    id: int | None = Field(default=None, primary_key=True)
    roster_id: int = Field(foreign_key="tree_duty_roster.id", index=True)
    line: int
    name: str = Field(max_length=50)
    birth_year: int
    sex: str = Field(max_length=6)
    staff_no: str = Field(max_length=40)
    of_duty_age: bool
    paid_for: bool
    """Included in the order (accepted, and of duty age unless the roster includes everyone)."""


class DutyPayment(SQLModel, table=True):
    """A tree-duty order: whose duty, which year, under which rule version, for which tier."""

    __tablename__ = "tree_duty_payment"
    __table_args__ = (one_of("tier", TIERS, "ck_tree_duty_payment_tier"),)

    order_id: int = Field(foreign_key="purchase_order.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    person: str = Field(max_length=24, index=True)
    """``user:<id>`` (the citizen), ``member:<id>`` (their family member) or ``roster:<id>`` (a staff list)."""
    year: int
    region: str = Field(max_length=6)
    rule_id: int = Field(foreign_key="tree_duty_rule.id")
    tier: str = Field(max_length=8)


class DutyVoucher(SQLModel, table=True):
    """A voucher (尽责凭证 / 荣誉凭证): a document of the certificate machinery, one per person, year and tier."""

    __tablename__ = "tree_duty_voucher"
    __table_args__ = (UniqueConstraint("person", "year", "tier", name="uq_tree_duty_voucher_person_year_tier"),
                      one_of("tier", TIERS, "ck_tree_duty_voucher_tier"))

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", unique=True)
    person: str = Field(max_length=24, index=True)
    """As DutyPayment.person, or ``staff:<roster entry id>``."""
    year: int = Field(index=True)
    tier: str = Field(max_length=8)
    region: str = Field(max_length=6, index=True)
    rule_id: int = Field(foreign_key="tree_duty_rule.id")
    trees: int
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    quantity_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    user_id: int | None = Field(default=None, foreign_key="mp_user.id", index=True)
    org_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id", index=True)
    """The order whose payment issued it (a staff list's order issues one per person)."""
    full_name: str | None = Field(default=None, max_length=50)
    """The name the voucher's commitment opens to, for the owner's copy and the committee; None once erased."""
    name_salt: str | None = Field(default=None, max_length=32)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    recognised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the greening committee recognised it (marked by an operator)."""
    recognised_by: str | None = Field(default=None, max_length=128)
