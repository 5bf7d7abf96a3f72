"""Staff accounts and memberships: create, find, sign in, change password, second factor, disable, grant roles.

Each function takes an explicit session and the time, audits what it changes (never a password hash or a TOTP
secret), and leaves committing to the caller.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from backend import audit
from backend.clock import isoformat_utc
from backend.errors import Conflict, InvalidInput, NotFound
from backend.ledger.holders import mask_name
from backend.registry.models import Organisation
from backend.staff import passwords, totp
from backend.staff.models import USERNAME_PATTERN, Membership, StaffAccount
from backend.staff.roles import ORG_ROLES, PLATFORM_ROLES, scope_of

_USERNAME = re.compile(USERNAME_PATTERN)


def normalise_username(raw: str, field: str = "username") -> str:
    username = raw.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(field, "用户名为 3–32 位小写字母、数字或 . _ -，以字母或数字开头 "
                                  "(3–32 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit)")
    return username


def check_display_name(raw: str, field: str = "display_name") -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 50:
        raise InvalidInput(field, "姓名为 1–50 个字符 (1–50 characters)")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise InvalidInput(field, "不能包含控制字符 (must not contain control or format characters)")
    return name


def find_account(session: Session, username: str, *, lock: bool = False) -> StaffAccount | None:
    statement = select(StaffAccount).where(StaffAccount.username == username.strip().lower())
    return session.execute(statement.with_for_update() if lock else statement).scalar_one_or_none()


def get_account(session: Session, account_id: int, *, lock: bool = False) -> StaffAccount:
    statement = select(StaffAccount).where(StaffAccount.id == account_id)
    account = session.execute(statement.with_for_update() if lock else statement).scalar_one_or_none()
    if account is None:
        raise NotFound("账号不存在 (unknown account)")
    return account


@dataclass(frozen=True)
class NewAccount:
    """A person's own new account, checked and with its password hashed, ready for ``create_account``."""

    username: str
    display_name: str
    password_hash: str


def prepare_account(username: str, display_name: str, password: str) -> NewAccount:
    """Check the fields and hash the password: call it before the transaction (argon2 is slow on purpose)."""
    username = normalise_username(username)
    return NewAccount(username, check_display_name(display_name),
                      passwords.new_hash(password, username=username))


def create_account(session: Session, now: datetime, *, username: str, display_name: str,
                   password_hash: str | None, actor: str | None) -> StaffAccount:
    """A new account; ``password_hash`` (from ``passwords.new_hash``, made before the transaction: argon2 is slow)
    None makes one that acts only through API tokens and cannot sign in. ``actor`` None: people making their own
    account (signing up, accepting an invitation) are recorded as the new account itself."""
    username = normalise_username(username)
    display_name = check_display_name(display_name)
    if find_account(session, username) is not None:
        raise Conflict(f"用户名 {username} 已被使用 (username taken)", code="duplicate",
                       details={"field": "username"})
    account = StaffAccount(username=username, display_name=display_name, password_hash=password_hash,
                           created_at=now)
    session.add(account)
    session.flush()
    # The chain is permanent: it keeps a person's name masked (the account row holds it, and can be erased).
    audit.append(session, now, actor=actor or account.actor, action="staff.create", object_type="staff_account",
                 object_id=account.id, after={"username": username, "display_name": mask_name(display_name),
                                              "can_sign_in": password_hash is not None})
    return account


def _check_scope(session: Session, role: str, organisation_id: int | None) -> None:
    if organisation_id is None:
        if role not in PLATFORM_ROLES:
            raise InvalidInput("role", f"平台角色应为 {', '.join(PLATFORM_ROLES)} 之一；机构角色须指明机构 "
                                       "(a platform role, or name the organisation for an organisation role)")
        return
    if role not in ORG_ROLES:
        raise InvalidInput("role", f"机构角色应为 {', '.join(ORG_ROLES)} 之一 (an organisation role)")
    if session.get(Organisation, organisation_id) is None:
        raise InvalidInput("organisation_id", "机构不存在 (unknown organisation)")


def grant(session: Session, now: datetime, *, account: StaffAccount, role: str, organisation_id: int | None,
          actor: str) -> Membership:
    """Give ``account`` the role in the scope. In an organisation a person holds one role: this replaces it."""
    _check_scope(session, role, organisation_id)
    if organisation_id is None:
        found = session.execute(select(Membership).where(
            Membership.account_id == account.id, Membership.organisation_id.is_(None),
            Membership.role == role)).scalar_one_or_none()
    else:
        found = session.execute(select(Membership).where(
            Membership.account_id == account.id, Membership.organisation_id == organisation_id)
            .with_for_update()).scalar_one_or_none()
    before = {"role": found.role} if found else None
    if found is not None and found.role == role:
        return found
    if found is None:
        found = Membership(account_id=account.id, organisation_id=organisation_id, role=role, granted_by=actor,
                           granted_at=now)
    else:
        found.role, found.granted_by, found.granted_at = role, actor, now
    session.add(found)
    session.flush()
    audit.append(session, now, actor=actor, action="staff.grant", object_type="staff_account",
                 object_id=account.id, before=before,
                 after={"scope": scope_of(organisation_id), "role": role, "username": account.username})
    return found


def _keep_a_platform_admin(session: Session, account_id: int) -> None:
    """Refuse to leave the platform without an enabled admin (only the CLI on the server could then recover).

    The admin memberships are locked first, so two admins removing each other at once are taken one after the
    other and the second is refused."""
    admins = session.execute(select(Membership.account_id).join(StaffAccount, StaffAccount.id == Membership.account_id)
                             .where(Membership.organisation_id.is_(None), Membership.role == "admin",
                                    StaffAccount.disabled.is_(False)).with_for_update()).scalars().all()
    if account_id in admins and len(admins) == 1:
        raise Conflict("平台至少要有一名可用的管理员 (the platform must keep an enabled admin)",
                       code="last_platform_admin")


def revoke_membership(session: Session, now: datetime, *, account: StaffAccount, organisation_id: int | None,
                      role: str | None = None, actor: str) -> None:
    """Take away the account's role in an organisation, or one platform role."""
    if organisation_id is None and role == "admin":
        _keep_a_platform_admin(session, account.id)
    statement = delete(Membership).where(Membership.account_id == account.id)
    if organisation_id is None:
        statement = statement.where(Membership.organisation_id.is_(None), Membership.role == role)
    else:
        statement = statement.where(Membership.organisation_id == organisation_id)
    if session.execute(statement).rowcount == 0:
        raise NotFound("没有该角色 (no such membership)")
    audit.append(session, now, actor=actor, action="staff.revoke", object_type="staff_account",
                 object_id=account.id, before={"scope": scope_of(organisation_id), "role": role,
                                               "username": account.username})


def memberships(session: Session, account_id: int) -> list[Membership]:
    return list(session.execute(select(Membership).where(Membership.account_id == account_id)
                                .order_by(Membership.organisation_id.is_not(None), Membership.organisation_id,
                                          Membership.role)).scalars())


def password_matches(account: StaffAccount | None, password: str) -> bool:
    """Whether this account may sign in with this password. Spends one argon2 check (tens of milliseconds) whether
    or not the account exists, so call it outside any transaction and let timing tell nothing."""
    matches = passwords.verify_password(account.password_hash if account else None, password)
    return matches and account is not None and not account.disabled


def record_sign_in(session: Session, now: datetime, account_id: int, *, second_factor: bool) -> StaffAccount:
    """Note the sign-in (the address goes to the application log, not into the permanent chain)."""
    account = get_account(session, account_id, lock=True)
    account.last_sign_in_at = now
    session.add(account)
    audit.append(session, now, actor=account.actor, action="staff.sign_in", object_type="staff_account",
                 object_id=account.id, after={"second_factor": second_factor})
    return account


def change_password(session: Session, now: datetime, *, account_id: int, password_hash: str, actor: str,
                    ) -> StaffAccount:
    """Set a new password (hashed by the caller, outside the transaction) and end every web session of the
    account: they were opened with the old one."""
    account = get_account(session, account_id, lock=True)
    account.password_hash = password_hash
    account.session_epoch += 1
    session.add(account)
    audit.append(session, now, actor=actor, action="staff.password", object_type="staff_account",
                 object_id=account.id, after={"sessions_ended": True})
    return account


def store_rehash(session: Session, account_id: int, password_hash: str) -> None:
    """The same password hashed with today's argon2 parameters (no audit: nothing a person did changed)."""
    account = get_account(session, account_id, lock=True)
    account.password_hash = password_hash
    session.add(account)


def end_sessions(session: Session, now: datetime, *, account_id: int, actor: str) -> StaffAccount:
    """Sign out everywhere: every web session of the account stops working (API tokens are revoked one by one)."""
    account = get_account(session, account_id, lock=True)
    account.session_epoch += 1
    session.add(account)
    audit.append(session, now, actor=actor, action="staff.sessions_end", object_type="staff_account",
                 object_id=account.id)
    return account


def set_disabled(session: Session, now: datetime, *, account_id: int, disabled: bool, actor: str) -> StaffAccount:
    """A disabled account cannot sign in, its sessions end and its tokens stop working; enabling restores that."""
    if disabled:
        _keep_a_platform_admin(session, account_id)
    account = get_account(session, account_id, lock=True)
    if account.disabled == disabled:
        return account
    account.disabled = disabled
    account.session_epoch += 1
    session.add(account)
    audit.append(session, now, actor=actor, action="staff.disable" if disabled else "staff.enable",
                 object_type="staff_account", object_id=account.id, before={"disabled": not disabled},
                 after={"disabled": disabled, "username": account.username})
    return account


# --- the second factor ---------------------------------------------------------------------------------------------

def enrol_totp(session: Session, now: datetime, *, account_id: int, secret: str, code: str, actor: str,
               ) -> StaffAccount:
    """Turn the second factor on, once the person shows a code from their authenticator for the new secret."""
    account = get_account(session, account_id, lock=True)
    step = totp.accepted_step(secret, code, now, None)
    if step is None:
        raise InvalidInput("code", "验证码不正确或已过期 (wrong or expired code)")
    account.totp_secret, account.totp_last_step = secret, step
    account.session_epoch += 1  # other sessions were opened without it
    session.add(account)
    audit.append(session, now, actor=actor, action="staff.totp_enrol", object_type="staff_account",
                 object_id=account.id)
    return account


def check_totp(session: Session, now: datetime, *, account_id: int, code: str) -> bool:
    """True once per valid code: the step is remembered under the account's row lock."""
    account = get_account(session, account_id, lock=True)
    if not account.totp_secret or account.disabled:  # disabled between the password and the code
        return False
    step = totp.accepted_step(account.totp_secret, code, now, account.totp_last_step)
    if step is None:
        return False
    account.totp_last_step = step
    session.add(account)
    return True


def reset_totp(session: Session, now: datetime, *, account_id: int, actor: str) -> StaffAccount:
    """Remove the second factor (a lost phone): the person enrols again at their next sign-in."""
    account = get_account(session, account_id, lock=True)
    account.totp_secret, account.totp_last_step = None, None
    account.session_epoch += 1
    session.add(account)
    audit.append(session, now, actor=actor, action="staff.totp_reset", object_type="staff_account",
                 object_id=account.id)
    return account


def account_views(session: Session, accounts: list[StaffAccount]) -> list[dict[str, Any]]:
    """Accounts with their memberships and each membership's organisation, in two queries however many."""
    ids = [account.id for account in accounts]
    rows = session.execute(select(Membership, Organisation).outerjoin(
        Organisation, Organisation.id == Membership.organisation_id).where(Membership.account_id.in_(ids))
        .order_by(Membership.organisation_id.is_not(None), Membership.organisation_id, Membership.role)).all()
    held: dict[int, list[dict[str, Any]]] = {account_id: [] for account_id in ids}
    for membership, organisation in rows:
        held[membership.account_id].append(membership_view(membership, organisation))
    return [{"id": account.id, "username": account.username, "display_name": account.display_name,
             "disabled": account.disabled, "can_sign_in": account.password_hash is not None,
             "second_factor": account.totp_secret is not None,
             "last_sign_in_at": isoformat_utc(account.last_sign_in_at) if account.last_sign_in_at else None,
             "memberships": held[account.id]} for account in accounts]


def membership_view(membership: Membership, organisation: Organisation | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {"scope": scope_of(membership.organisation_id), "role": membership.role}
    if organisation is not None:
        view["organisation"] = {"id": organisation.id, "name": organisation.name, "kind": organisation.kind,
                                "status": organisation.status}
    return view
