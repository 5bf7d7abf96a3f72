"""Inputs of the organisation sign-up and member routes (JSON bodies and the same pages' forms)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.registry.models import ORGANISATION_KINDS
from backend.schemas import Json, Out
from backend.staff.schemas import Password


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrganisationFields(Body):
    name: str = Field(min_length=2, max_length=200, description="the registered name, as on the licence")
    kind: Literal[ORGANISATION_KINDS]
    credit_code: str = Field(min_length=18, max_length=18, description="统一社会信用代码 (GB 32100-2015)")
    adcode: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 code of where it is registered")
    contact_name: str = Field(min_length=1, max_length=50)
    contact_phone: str = Field(min_length=7, max_length=20, description="mobile, or landline with area code")
    contact_email: str | None = Field(default=None, max_length=120)


class FirstAdmin(Body):
    """The applicant's own account: they become the organisation's first org_admin."""

    username: str = Field(min_length=3, max_length=32, description="3–32 lower-case letters, digits, . _ -")
    display_name: str = Field(min_length=1, max_length=50)
    password: Password = Field(min_length=10, max_length=128)


class ApplicationIn(OrganisationFields):
    admin: FirstAdmin


class ApplicationForm(OrganisationFields):
    """The /org/apply form: flat fields; the account part only when nobody is signed in."""

    username: str | None = Field(default=None, max_length=32)
    display_name: str | None = Field(default=None, max_length=50)
    password: Password | None = Field(default=None, max_length=128)
    password_again: Password | None = Field(default=None, max_length=128)


class ResubmitIn(Body):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    kind: Literal[ORGANISATION_KINDS] | None = None
    adcode: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    contact_name: str | None = Field(default=None, min_length=1, max_length=50)
    contact_phone: str | None = Field(default=None, min_length=7, max_length=20)
    contact_email: str | None = Field(default=None, max_length=120)


class DecisionIn(Body):
    reason: str | None = Field(default=None, min_length=1, max_length=500)


# --- responses (backend/orgs/service.py views) -------------------------------------------------------------------

class OrganisationOut(Out):
    id: int
    name: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    credit_code: str | None
    adcode: str | None
    holder: str


class ReviewedOrganisationOut(OrganisationOut):
    """An organisation as its reviewers and its own people see it: contact, credit-code check, decisions."""

    credit_code_check: bool | None
    region_name: str | None
    status_reason: str | None
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    decided_by: str | None
    decided_at: str | None
    created_at: str


class MemberOut(Out):
    account_id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    since: str
    last_sign_in_at: str | None


class OrganisationRecordOut(ReviewedOrganisationOut):
    decisions: list[Json]
    members: list[MemberOut] | None = Field(default=None, description="operators only")


class ApplicationOut(Out):
    organisation: OrganisationOut
    admin: Json
    next: str
