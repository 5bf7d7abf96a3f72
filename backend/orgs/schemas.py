"""Inputs of the organisation sign-up and member routes (JSON bodies and the same pages' forms)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.registry.models import ORGANISATION_KINDS
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
