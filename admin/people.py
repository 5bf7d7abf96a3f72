"""Operator handlers for people: organisations (verify, reject, suspend, reinstate), staff accounts (roles,
disable, second factor, invitations) and the audit trail. The routes are in admin/api.py's table."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from admin import schemas
from admin.auth import acting
from backend import audit
from backend.db import atomic, read
from backend.orgs import schemas as org_schemas
from backend.orgs import service as orgs
from backend.orgs.api import invitation_url
from backend.staff import invitations
from backend.staff import service as staff
from backend.staff.models import StaffAccount
from backend.staff.schemas import PlatformInviteIn


def _now():
    return current_app.config["CLOCK"]()


# --- organisations ---------------------------------------------------------------------------------------------

def list_organisations(query: schemas.OrganisationQuery):
    return {"items": read(lambda s: [orgs.organisation_view(o, for_reviewer=True)
                                     for o in orgs.listing(s, status=query.status, kind=query.kind,
                                                           limit=query.limit)])}


def get_organisation(organisation_id: int):
    def view(s: Session):
        result = orgs.organisation_view(orgs.get(s, organisation_id), for_reviewer=True)
        result["decisions"] = [orgs.decision_view(d) for d in orgs.decisions(s, organisation_id)]
        result["members"] = [orgs.member_view(a, m) for a, m in orgs.members(s, organisation_id)]
        return result
    return read(view)


def decide_organisation(organisation_id: int, action: str, body: org_schemas.DecisionIn):
    actor = acting()
    atomic(lambda s: orgs.decide(s, _now(), organisation_id=organisation_id, action=action, reason=body.reason,
                                 actor=actor))
    return get_organisation(organisation_id)


# --- staff accounts ------------------------------------------------------------------------------------------------

def list_staff():
    return {"items": read(lambda s: staff.account_views(
        s, list(s.execute(select(StaffAccount).order_by(StaffAccount.id)).scalars())))}


def get_staff(account_id: int):
    return read(lambda s: staff.account_views(s, [staff.get_account(s, account_id)])[0])


def set_staff_disabled(account_id: int, action: str):
    actor = acting()
    atomic(lambda s: staff.set_disabled(s, _now(), account_id=account_id, disabled=action == "disable",
                                        actor=actor))
    return get_staff(account_id)


def grant_platform_role(account_id: int, role: str):
    actor = acting()
    atomic(lambda s: staff.grant(s, _now(), account=staff.get_account(s, account_id), role=role,
                                 organisation_id=None, actor=actor))
    return get_staff(account_id)


def revoke_platform_role(account_id: int, role: str):
    actor = acting()
    atomic(lambda s: staff.revoke_membership(s, _now(), account=staff.get_account(s, account_id),
                                             organisation_id=None, role=role, actor=actor))
    return get_staff(account_id)


def reset_staff_totp(account_id: int):
    actor = acting()
    atomic(lambda s: staff.reset_totp(s, _now(), account_id=account_id, actor=actor))
    return get_staff(account_id)


def list_platform_invitations():
    now = _now()
    return {"items": read(lambda s: [invitations.invitation_view(i)
                                     for i in invitations.open_invitations(s, None, now)])}


def invite_platform_staff(body: PlatformInviteIn):
    """A one-time link that makes whoever opens it a platform reviewer, finance, auditor or admin."""
    actor = acting()
    invitation, secret = atomic(lambda s: invitations.invite(
        s, _now(), organisation_id=None, role=body.role, note=body.note,
        days=current_app.config["INVITATION_DAYS"], actor=actor))
    return {**invitations.invitation_view(invitation), "url": invitation_url("admin", secret)}


def revoke_platform_invitation(invitation_id: int):
    actor = acting()
    atomic(lambda s: invitations.revoke(s, _now(), invitation_id=invitation_id, organisation_id=None, actor=actor))
    return {"revoked": invitation_id}


# --- audit ---------------------------------------------------------------------------------------------------------

def list_audit(query: schemas.AuditQuery):
    """The audit chain, newest first: who did what to which object, when. What has committed is sealed first
    (the sequencer would within a second; never waiting for one already at it), so an operator sees their own
    last action."""
    atomic(audit.seal)
    return {"items": read(lambda s: [audit.event_view(e) for e in audit.recent(s, limit=query.limit,
                                                                                before=query.before)])}
