"""Invitations: a one-time link that gives whoever opens it a role, in the platform or in one organisation.

The inviter passes the link on (WeChat, mail, in person); the invitee signs in, or makes an account, and accepts.
Only the link's SHA-256 is stored; it works once, until it expires or the inviter revokes it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from backend import audit
from backend.clock import as_utc, isoformat_utc
from backend.errors import Conflict, InvalidInput, NotFound
from backend.registry.models import Organisation
from backend.staff import service
from backend.staff.models import Invitation, Membership, StaffAccount
from backend.staff.roles import ORG_ROLES, PLATFORM_ROLES, scope_of

PREFIX = "thi_"
MAX_OPEN_PER_SCOPE = 50  # a leaked org_admin account cannot mint links without end


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _open(statement, now: datetime):
    return statement.where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
                           Invitation.expires_at > now)


def invite(session: Session, now: datetime, *, organisation_id: int | None, role: str, note: str, days: int,
           actor: str) -> tuple[Invitation, str]:
    if role not in (PLATFORM_ROLES if organisation_id is None else ORG_ROLES):
        raise InvalidInput("role", "该范围内没有这个角色 (no such role in this scope)")
    note = " ".join(note.split())
    if len(note) > 50 or not note.isprintable():
        raise InvalidInput("note", "备注最多 50 个可打印字符 (at most 50 printable characters)")
    if organisation_id is not None:
        organisation = session.get(Organisation, organisation_id)
        if organisation is None or organisation.status != "verified":
            raise Conflict("机构通过审核后才能邀请成员 (only a verified organisation invites members)",
                           code="organisation_not_verified")
    scope = (Invitation.organisation_id.is_(None) if organisation_id is None
             else Invitation.organisation_id == organisation_id)
    pending = session.execute(_open(select(func.count()).select_from(Invitation).where(scope), now)).scalar_one()
    if pending >= MAX_OPEN_PER_SCOPE:
        raise Conflict(f"未接受的邀请已达 {MAX_OPEN_PER_SCOPE} 个，请先撤销一些 (too many open invitations)",
                       code="too_many_invitations")
    secret = PREFIX + secrets.token_urlsafe(24)
    invitation = Invitation(organisation_id=organisation_id, role=role, note=note, token_hash=_digest(secret),
                            invited_by=actor, created_at=now, expires_at=now + timedelta(days=days))
    session.add(invitation)
    session.flush()
    audit.append(session, now, actor=actor, action="staff.invite", object_type="staff_invitation",
                 object_id=invitation.id, after={"scope": scope_of(organisation_id), "role": role,
                                                 "expires_at": isoformat_utc(invitation.expires_at)})
    return invitation, secret


def find_open(session: Session, secret: str, now: datetime, *, lock: bool = False) -> Invitation:
    """The invitation behind a link, while it can still be accepted."""
    invitation = None
    if secret.startswith(PREFIX) and len(secret) <= 64:
        statement = select(Invitation).where(Invitation.token_hash == _digest(secret))
        invitation = session.execute(statement.with_for_update() if lock else statement).scalar_one_or_none()
    if (invitation is None or invitation.accepted_at is not None or invitation.revoked_at is not None
            or as_utc(invitation.expires_at) <= now):
        raise NotFound("邀请链接无效、已使用或已过期 (the invitation is unknown, used or expired)")
    return invitation


def accept(session: Session, now: datetime, *, secret: str, account: StaffAccount) -> Membership:
    """Take the invitation's role; the link then stops working. Nobody loses a higher role by accepting."""
    invitation = find_open(session, secret, now, lock=True)  # two tabs accepting at once: one wins
    if invitation.organisation_id is not None:
        organisation = session.get(Organisation, invitation.organisation_id)
        if organisation is None or organisation.status != "verified":
            raise Conflict("该机构目前不能接纳成员 (the organisation is not active)", code="organisation_not_verified")
        current = session.execute(select(Membership.role).where(
            Membership.account_id == account.id, Membership.organisation_id == invitation.organisation_id)
        ).scalar_one_or_none()
        if current is not None and ORG_ROLES.index(current) >= ORG_ROLES.index(invitation.role):
            raise Conflict("你已是该机构成员 (you are already a member with this role or a higher one)",
                           code="already_member")
    invitation.accepted_by, invitation.accepted_at = account.id, now
    session.add(invitation)
    membership = service.grant(session, now, account=account, role=invitation.role,
                               organisation_id=invitation.organisation_id, actor=account.actor)
    audit.append(session, now, actor=account.actor, action="staff.invitation_accept",
                 object_type="staff_invitation", object_id=invitation.id,
                 after={"scope": scope_of(invitation.organisation_id), "role": invitation.role})
    return membership


def revoke(session: Session, now: datetime, *, invitation_id: int, organisation_id: int | None, actor: str) -> None:
    scope = (Invitation.organisation_id.is_(None) if organisation_id is None
             else Invitation.organisation_id == organisation_id)
    invitation = session.execute(_open(select(Invitation).where(Invitation.id == invitation_id, scope), now)
                                 .with_for_update()).scalar_one_or_none()
    if invitation is None:
        raise NotFound("邀请不存在或已失效 (no such open invitation)")
    invitation.revoked_at = now
    session.add(invitation)
    audit.append(session, now, actor=actor, action="staff.invitation_revoke", object_type="staff_invitation",
                 object_id=invitation.id)


def open_invitations(session: Session, organisation_id: int | None, now: datetime) -> list[Invitation]:
    scope = (Invitation.organisation_id.is_(None) if organisation_id is None
             else Invitation.organisation_id == organisation_id)
    return list(session.execute(_open(select(Invitation).where(scope), now).order_by(Invitation.id)).scalars())


def invitation_view(invitation: Invitation) -> dict:
    return {"id": invitation.id, "scope": scope_of(invitation.organisation_id), "role": invitation.role,
            "note": invitation.note, "invited_by": invitation.invited_by,
            "created_at": isoformat_utc(invitation.created_at), "expires_at": isoformat_utc(invitation.expires_at)}
