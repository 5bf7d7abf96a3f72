"""Who is acting: a staff account with its roles, loaded fresh for every request (a role taken away, an account
disabled or an organisation suspended takes effect on the next request), in one query.

A web session names the account and its ``session_epoch``; an API call names a personal token. Both resolve to a
``Principal``. The audit chain names it as ``staff:<id>:<username>``, plus ``token:<id>:<name>`` for API calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlmodel import Session

from backend.clock import as_utc
from backend.registry.models import Organisation
from backend.staff.models import ApiToken, Membership, StaffAccount


@dataclass(frozen=True)
class OrgRole:
    """A person's role in one organisation, with what the permission checks need to know of the organisation."""

    role: str
    status: str
    name: str
    kind: str


@dataclass(frozen=True)
class Principal:
    account_id: int
    username: str
    display_name: str
    session_epoch: int
    second_factor: bool
    can_sign_in: bool
    """False for a script's account (API tokens only, no password)."""
    platform_roles: frozenset[str] = frozenset()
    organisations: Mapping[int, OrgRole] = field(default_factory=dict)
    token_id: int | None = None
    token_name: str | None = None

    @property
    def actor(self) -> str:
        """The name the audit chain records: the account, and for an API call the token it used."""
        name = f"staff:{self.account_id}:{self.username}"
        return f"{name} token:{self.token_id}:{self.token_name}" if self.token_id is not None else name

    def has_platform_role(self, *roles: str) -> bool:
        return not self.platform_roles.isdisjoint(roles)

    def org_role(self, organisation_id: int) -> OrgRole | None:
        return self.organisations.get(organisation_id)


_account = StaffAccount.__table__
_membership = Membership.__table__
_organisation = Organisation.__table__
_token = ApiToken.__table__
# One statement per request, built once: the account, each membership and its organisation's standing. Core
# columns rather than ORM entities: this runs before every staff request (a third of the cost, measured).
_COLUMNS = (_account.c.id, _account.c.username, _account.c.display_name, _account.c.session_epoch,
            _account.c.disabled, _account.c.totp_secret.is_not(None).label("second_factor"),
            _account.c.password_hash.is_not(None).label("can_sign_in"),
            _membership.c.organisation_id, _membership.c.role, _organisation.c.status, _organisation.c.name,
            _organisation.c.kind)
_ROLES = (_account.outerjoin(_membership, _membership.c.account_id == _account.c.id)
          .outerjoin(_organisation, _organisation.c.id == _membership.c.organisation_id))
_BY_ACCOUNT = select(*_COLUMNS).select_from(_ROLES).where(_account.c.id == bindparam("account_id"))
_BY_TOKEN = (select(_token.c.id.label("token_id"), _token.c.name.label("token_name"), _token.c.expires_at,
                    _token.c.revoked_at, _token.c.last_used_at, *_COLUMNS)
             .select_from(_token.join(_ROLES, _account.c.id == _token.c.account_id))
             .where(_token.c.token_hash == bindparam("token_hash")))


@dataclass(frozen=True)
class TokenUse:
    """What the request needs of the token itself: who it is, and whether its use should be noted."""

    id: int
    name: str
    last_used_at: datetime | None


def _principal(rows, token: TokenUse | None = None) -> Principal | None:
    if not rows or rows[0].disabled:
        return None
    first = rows[0]
    platform = {row.role for row in rows if row.role is not None and row.organisation_id is None}
    organisations = {row.organisation_id: OrgRole(row.role, row.status, row.name, row.kind)
                     for row in rows if row.organisation_id is not None}
    return Principal(first.id, first.username, first.display_name, first.session_epoch, bool(first.second_factor),
                     bool(first.can_sign_in), frozenset(platform), organisations, token.id if token else None,
                     token.name if token else None)


def load(session: Session, account_id: int) -> Principal | None:
    """The account's principal, or None if it does not exist or is disabled."""
    return _principal(session.connection().execute(_BY_ACCOUNT, {"account_id": account_id}).all())


def load_by_token(session: Session, token_hash: str, now: datetime) -> tuple[Principal, TokenUse] | None:
    """The principal a live token acts as (not revoked, not expired, account enabled), with the token's use."""
    rows = session.connection().execute(_BY_TOKEN, {"token_hash": token_hash}).all()
    if not rows or rows[0].revoked_at is not None or as_utc(rows[0].expires_at) <= now:
        return None
    token = TokenUse(rows[0].token_id, rows[0].token_name, rows[0].last_used_at)
    principal = _principal(rows, token)
    return (principal, token) if principal is not None else None
