"""Personal API tokens: ``Authorization: Bearer thp_…``. A token acts with its account's roles, as they are at
the time of each request. It is shown once; only its SHA-256 is stored (it carries 256 random bits, so a slow hash
would add nothing), with a name, an expiry and when it was last used. Revoking is immediate.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlmodel import Session

from backend import audit
from backend.clock import as_utc, isoformat_utc
from backend.errors import InvalidInput, NotFound
from backend.staff.models import ApiToken, StaffAccount
from backend.staff.principal import TokenUse

PREFIX = "thp_"  # 碳汇+ personal token: recognisable in a leaked log or a secret scanner
MAX_DAYS = 366
NAME_MAX = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often per token


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(raw: str, field: str = "name") -> str:
    """Letters (any script), digits, spaces and . _ -: the name goes into the audit chain's actor, where a ":" could
    make it read as another account."""
    name = " ".join(raw.split())
    if not 1 <= len(name) <= NAME_MAX or not all(c.isalnum() or c in " ._-" for c in name):
        raise InvalidInput(field, f"令牌名称为 1–{NAME_MAX} 个字母、数字、空格或 . _ - "
                                  f"(1–{NAME_MAX} letters, digits, spaces, '.', '_' or '-')")
    return name


def issue(session: Session, now: datetime, *, account: StaffAccount, name: str, days: int, actor: str,
          ) -> tuple[ApiToken, str]:
    """A new token for the account; the secret is returned here and nowhere else, ever."""
    name = check_name(name)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"有效期为 1–{MAX_DAYS} 天 (1–{MAX_DAYS} days)")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(account_id=account.id, name=name, token_hash=digest(secret), hint=secret[:10],
                     created_at=now, expires_at=now + timedelta(days=days))
    session.add(token)
    session.flush()
    audit.append(session, now, actor=actor, action="staff.token_create", object_type="staff_account",
                 object_id=account.id, after={"token_id": token.id, "name": name,
                                              "expires_at": isoformat_utc(token.expires_at)})
    return token, secret


def tokens_of(session: Session, account_id: int) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).where(ApiToken.account_id == account_id)
                                .order_by(ApiToken.id.desc())).scalars())


def tokens_of_accounts(session: Session, account_ids: list[int]) -> list[ApiToken]:
    """Several accounts' tokens in one query (an organisation's members on its console page), newest first."""
    if not account_ids:
        return []
    return list(session.execute(select(ApiToken).where(ApiToken.account_id.in_(account_ids))
                                .order_by(ApiToken.id.desc())).scalars())


def revoke(session: Session, now: datetime, *, account_id: int, token_id: int, actor: str) -> ApiToken:
    """Revoke one of the account's tokens (someone else's token is not found)."""
    token = session.execute(select(ApiToken).where(ApiToken.id == token_id, ApiToken.account_id == account_id)
                            .with_for_update()).scalar_one_or_none()
    if token is None:
        raise NotFound("令牌不存在 (unknown token)")
    if token.revoked_at is None:
        token.revoked_at = now
        session.add(token)
        audit.append(session, now, actor=actor, action="staff.token_revoke", object_type="staff_account",
                     object_id=account_id, after={"token_id": token.id, "name": token.name})
    return token


def note_use(session: Session, now: datetime, token: ApiToken | TokenUse) -> None:
    """Record that the token was used, unless that was already noted within the last minute."""
    session.execute(update(ApiToken).where(
        ApiToken.id == token.id,
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now))


def needs_use_noted(token: ApiToken | TokenUse, now: datetime) -> bool:
    return token.last_used_at is None or as_utc(token.last_used_at) < now - LAST_USED_RESOLUTION


def token_view(token: ApiToken, now: datetime) -> dict:
    state = ("revoked" if token.revoked_at is not None
             else "expired" if as_utc(token.expires_at) <= now else "active")
    return {"id": token.id, "name": token.name, "hint": token.hint + "…", "state": state,
            "created_at": isoformat_utc(token.created_at), "expires_at": isoformat_utc(token.expires_at),
            "last_used_at": isoformat_utc(token.last_used_at) if token.last_used_at else None}
