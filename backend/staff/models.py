"""Staff accounts (operators and organisations' people), their memberships, personal API tokens and invitations.

Citizens are not here: they sign in with WeChat (backend.accounts). A staff account's actor name in the audit
chain is ``staff:<id>:<username>``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, text
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime, one_of
from backend.staff.roles import ORG_ROLES, PLATFORM_ROLES

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,31}$"


class StaffAccount(SQLModel, table=True):
    __tablename__ = "staff_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=32, unique=True)
    """Lower-case ASCII, 3–32 characters: what people type to sign in and what the audit chain names."""
    display_name: str = Field(max_length=50)
    password_hash: str | None = Field(default=None, max_length=200)
    """argon2id (PHC string); None for an account that only acts through API tokens and cannot sign in."""
    totp_secret: str | None = Field(default=None, max_length=64)
    """Base32 RFC 6238 secret once the second factor is enrolled."""
    totp_last_step: int | None = Field(default=None, sa_column=Column(BigInteger))
    """The last 30-second step a code was accepted for: a code works once."""
    session_epoch: int = Field(default=0)
    """Part of every web session's identity: raising it ends them all (sign out everywhere, new password)."""
    disabled: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def actor(self) -> str:
        return f"staff:{self.id}:{self.username}"


class Membership(SQLModel, table=True):
    """A role in a scope: the platform (``organisation_id`` None) or one organisation."""

    __tablename__ = "staff_membership"
    __table_args__ = (
        one_of("role", PLATFORM_ROLES + ORG_ROLES, "ck_staff_membership_role"),
        CheckConstraint(f"(organisation_id IS NULL AND role IN ({', '.join(map(repr, PLATFORM_ROLES))})) OR "
                        f"(organisation_id IS NOT NULL AND role IN ({', '.join(map(repr, ORG_ROLES))}))",
                        name="ck_staff_membership_scope"),
        # Several platform roles per person, but one role per organisation (organisation roles are ranked).
        Index("uq_staff_membership_platform_role", "account_id", "role", unique=True,
              sqlite_where=text("organisation_id IS NULL"), postgresql_where=text("organisation_id IS NULL")),
        Index("uq_staff_membership_organisation", "account_id", "organisation_id", unique=True,
              sqlite_where=text("organisation_id IS NOT NULL"),
              postgresql_where=text("organisation_id IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="staff_account.id", index=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    role: str = Field(max_length=16)
    granted_by: str = Field(max_length=128)
    granted_at: datetime = Field(sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A personal API token: acts with its account's roles. Only its SHA-256 is kept; the token is shown once."""

    __tablename__ = "staff_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="staff_account.id", index=True)
    name: str = Field(max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    hint: str = Field(max_length=16)
    """The token's first characters, so a person can tell their tokens apart."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Invitation(SQLModel, table=True):
    """An invitation to take a role: a one-time link the inviter passes on (WeChat, mail, in person)."""

    __tablename__ = "staff_invitation"
    __table_args__ = (one_of("role", PLATFORM_ROLES + ORG_ROLES, "ck_staff_invitation_role"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    role: str = Field(max_length=16)
    note: str = Field(default="", max_length=50)
    """Whom it is for, in the inviter's words (shown to the inviter and the invitee)."""
    token_hash: str = Field(max_length=64, unique=True)
    invited_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    accepted_by: int | None = Field(default=None, foreign_key="staff_account.id")
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
