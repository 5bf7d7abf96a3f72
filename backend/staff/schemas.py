"""Inputs of the staff pages and APIs. The same model validates a JSON body and a submitted form."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.schemas import Json, Out
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
    note: str = Field(default="", max_length=50, description="whom it is for: printable text")


class PlatformInviteIn(Form):
    role: Literal[PLATFORM_ROLES]
    note: str = Field(default="", max_length=50, description="whom it is for: printable text")


class RoleIn(Form):
    role: Literal[ORG_ROLES]



# --- responses (backend/staff/service.py, tokens.py, invitations.py views) ---------------------------------------

class MembershipOut(Out):
    scope: str = Field(description="platform, or org:<id>")
    role: str
    organisation: Json | None = None


class StaffAccountOut(Out):
    id: int
    username: str
    display_name: str
    disabled: bool
    can_sign_in: bool
    second_factor: bool
    last_sign_in_at: str | None
    memberships: list[MembershipOut]


class TokenRef(Out):
    id: int | None
    name: str | None


class WhoAmIOut(StaffAccountOut):
    token: TokenRef


class TokenOut(Out):
    id: int
    name: str
    hint: str = Field(description="the first characters of the secret, which is never shown again")
    state: Literal["active", "expired", "revoked"]
    created_at: str
    expires_at: str
    last_used_at: str | None


class InvitationOut(Out):
    id: int
    scope: str
    role: str
    note: str
    invited_by: str
    created_at: str
    expires_at: str


class InvitationLinkOut(InvitationOut):
    url: str = Field(description="the one-time link, shown this once (only its hash is kept)")
