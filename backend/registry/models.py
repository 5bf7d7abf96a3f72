"""Registry tables: methodology → project (owner, county, review state) → issuance batch."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime, one_of

ECOSYSTEMS = ("forest", "bamboo", "grassland", "wetland")
ORGANISATION_KINDS = ("forest_farm", "cooperative", "company", "government", "court", "procuratorate",
                      "event_organiser", "scenic_area", "school", "ngo", "other")
ORGANISATION_STATES = ("applied", "verified", "rejected", "suspended")
"""applied → verified (or rejected, and resubmitted); verified ⇄ suspended. Only a verified organisation acts."""
PROJECT_STATES = ("draft", "submitted", "registered", "rejected", "suspended")


class Methodology(SQLModel, table=True):
    """A quantification method a project is validated against, e.g. AR-CM-003-V01 森林经营碳汇项目方法学."""

    __table_args__ = (one_of("ecosystem", ECOSYSTEMS, "ck_methodology_ecosystem"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    ecosystem: str = Field(max_length=16)
    version: str = Field(max_length=20)
    source_document: str = Field(max_length=500)
    """Where the text is published: issuing body, document number or URL."""
    created_at: datetime = Field(sa_type=UTCDateTime)


class Organisation(SQLModel, table=True):
    """A legal entity that owns projects or holds credits: 国有林场, cooperative, company, court …

    Its ledger holder key is ``org:<id>``.
    """

    __table_args__ = (one_of("kind", ORGANISATION_KINDS, "ck_organisation_kind"),
                      one_of("status", ORGANISATION_STATES, "ck_organisation_status"))

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    credit_code: str | None = Field(default=None, max_length=18, unique=True)
    """统一社会信用代码 (18 characters, GB 32100-2015 check character verified), when known."""
    adcode: str | None = Field(default=None, max_length=6)
    created_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="verified", max_length=16, index=True)
    """An operator registering an organisation verifies it as they do; one that signs up starts ``applied``."""
    status_reason: str | None = Field(default=None, max_length=500)
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=20)
    contact_email: str | None = Field(default=None, max_length=120)
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def holder(self) -> str:
        return f"org:{self.id}"


class Project(SQLModel, table=True):
    """A forestry or grassland carbon-sink project under review or registered."""

    __table_args__ = (
        CheckConstraint("crediting_end > crediting_start", name="ck_project_crediting_period"),
        CheckConstraint("area_mu > 0", name="ck_project_area_positive"),
        one_of("ecosystem", ECOSYSTEMS, "ck_project_ecosystem"),
        one_of("state", PROJECT_STATES, "ck_project_state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=200)
    county_adcode: str = Field(max_length=6, index=True)
    ecosystem: str = Field(max_length=16)
    methodology_id: int = Field(foreign_key="methodology.id")
    area_mu: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    crediting_start: date
    crediting_end: date
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    state: str = Field(default="draft", max_length=16, index=True)
    state_reason: str | None = Field(default=None, max_length=500)
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ProjectDecision(SQLModel, table=True):
    """One step of a project's review history: who moved it from which state to which, and why."""

    __tablename__ = "project_decision"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    from_state: str = Field(max_length=16)
    to_state: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=128)
    decided_at: datetime = Field(sa_type=UTCDateTime)


class OrganisationDecision(SQLModel, table=True):
    """One step of an organisation's verification history: applied, verified, rejected, suspended, reinstated."""

    __tablename__ = "organisation_decision"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=128)
    decided_at: datetime = Field(sa_type=UTCDateTime)


class Batch(SQLModel, table=True):
    """An issuance batch: a project's verified removals for one monitoring period, serials ``[1, quantity_g]``."""

    __table_args__ = (
        UniqueConstraint("project_id", "vintage", "sequence", name="uq_batch_project_vintage_sequence"),
        CheckConstraint("quantity_g > 0", name="ck_batch_quantity_positive"),
        CheckConstraint("monitoring_end >= monitoring_start", name="ck_batch_monitoring_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    """Readable id, e.g. SC-FOR-510129-0007-2024-01: province, ecosystem, county, project, vintage, sequence."""
    project_id: int = Field(foreign_key="project.id", index=True)
    monitoring_start: date
    monitoring_end: date
    vintage: int
    sequence: int
    quantity_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    issued_at: datetime = Field(sa_type=UTCDateTime)
    issued_by: str = Field(max_length=128)
