"""Inputs of the staff pages and APIs. The same model validates a JSON body and a submitted form."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.staff.roles import ORG_ROLES, PLATFORM_ROLES
from backend.staff.tokens import MAX_DAYS, NAME_MAX


# A password is taken as typed: spaces at either end are part of it (the CLI keeps them too).
Password = Annotated[str, StringConstraints(strip_whitespace=False)]


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SignInForm(Form):
    username: str = Field(min_length=1, max_length=64)
    password: Password = Field(min_length=1, max_length=200)
    next: str | None = Field(default=None, max_length=500)


class CodeForm(Form):
    code: str = Field(min_length=6, max_length=12, description="six digits from the authenticator app")


class PasswordForm(Form):
    current_password: Password = Field(min_length=1, max_length=200)
    new_password: Password = Field(min_length=1, max_length=200)
    new_password_again: Password = Field(min_length=1, max_length=200)


class TokenForm(Form):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    days: int = Field(default=90, ge=1, le=MAX_DAYS)


class NewAccount(Form):
    """A person's own new account: signing up an organisation, or accepting an invitation."""

    username: str = Field(min_length=3, max_length=32, description="3–32 lower-case letters, digits, . _ -")
    display_name: str = Field(min_length=1, max_length=50)
    password: Password = Field(min_length=1, max_length=200)
    password_again: Password = Field(min_length=1, max_length=200)


class AcceptForm(Form):
    action: Literal["accept", "create"]
    username: str | None = Field(default=None, max_length=32)
    display_name: str | None = Field(default=None, max_length=50)
    password: Password | None = Field(default=None, max_length=200)
    password_again: Password | None = Field(default=None, max_length=200)


class OrgInviteIn(Form):
    role: Literal[ORG_ROLES]
    note: str = Field(default="", max_length=50, description="whom it is for")


class PlatformInviteIn(Form):
    role: Literal[PLATFORM_ROLES]
    note: str = Field(default="", max_length=50)


class RoleIn(Form):
    role: Literal[ORG_ROLES]


class DisableIn(Form):
    disabled: bool
