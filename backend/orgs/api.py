"""Organisations over JSON: signing up (/api/v1, no login) and the organisation's own people (/api/org/v1, a
member's personal token). Who may call each route: backend/access/policy.py."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app

from backend.access.identity import staff_principal
from backend.db import atomic, read
from backend.errors import DomainError, InvalidInput
from backend.http import Route, register
from backend.schemas import Items, Revoked
from backend.orgs import schemas, service, signup
from backend.staff import invitations
from backend.staff.service import prepare_account
from backend.staff.schemas import InvitationLinkOut, InvitationOut, OrgInviteIn, RoleIn

signup_bp = Blueprint("org_signup", __name__, url_prefix="/api/v1")
bp = Blueprint("org_api", __name__, url_prefix="/api/org/v1")
ACCOUNT_FIELDS = ("username", "display_name", "password")


def _now():
    return current_app.config["CLOCK"]()


def invitation_url(area: str, secret: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/{area}/invite/{secret}"


def _in_admin_part(error: DomainError) -> DomainError:
    """The account's checks name ``username``, ``password``…; in this body those fields are ``admin.…``."""
    if isinstance(error, InvalidInput) and error.field in ACCOUNT_FIELDS:
        return InvalidInput(f"admin.{error.field}", error.details[0]["message"], code=error.code)
    if isinstance(error.details, dict) and error.details.get("field") in ACCOUNT_FIELDS:
        error.details = {**error.details, "field": f"admin.{error.details['field']}"}
    return error


def apply(body: schemas.ApplicationIn):
    """Apply for an organisation; the applicant's account becomes its first org_admin."""
    try:
        new = prepare_account(body.admin.username, body.admin.display_name, body.admin.password)
        organisation, _ = signup.apply_with_new_account(_now(), signup.organisation_fields(body), new)
    except DomainError as error:
        raise _in_admin_part(error) from None
    return {"organisation": service.organisation_view(organisation),
            "admin": {"username": body.admin.username.strip().lower()},
            "next": "审核通过后即可办理业务；可先登录 /org/login 查看进度 (a reviewer verifies the application; "
                    "sign in at /org/login to follow it)"}


def get_organisation(org_id: int):
    def view(s):
        organisation = service.get(s, org_id)
        result = service.organisation_view(organisation, for_reviewer=True)
        result["decisions"] = [service.decision_view(d) for d in service.decisions(s, org_id)]
        return result
    return read(view)


def resubmit(org_id: int, body: schemas.ResubmitIn):
    changes = body.model_dump(exclude_unset=True, exclude_none=True)  # null: leave that field as it is
    actor = staff_principal().actor
    return service.organisation_view(atomic(lambda s: service.resubmit(s, _now(), organisation_id=org_id,
                                                                       changes=changes, actor=actor)),
                                     for_reviewer=True)


def list_members(org_id: int):
    return {"items": read(lambda s: [service.member_view(a, m) for a, m in service.members(s, org_id)])}


def change_member_role(org_id: int, account_id: int, body: RoleIn):
    actor = staff_principal().actor
    atomic(lambda s: service.change_role(s, _now(), organisation_id=org_id, account_id=account_id, role=body.role,
                                         actor=actor))
    return list_members(org_id)


def remove_member(org_id: int, account_id: int):
    actor = staff_principal().actor
    atomic(lambda s: service.remove_member(s, _now(), organisation_id=org_id, account_id=account_id, actor=actor))
    return list_members(org_id)


def list_invitations(org_id: int):
    now = _now()
    return {"items": read(lambda s: [invitations.invitation_view(i)
                                     for i in invitations.open_invitations(s, org_id, now)])}


def invite_member(org_id: int, body: OrgInviteIn):
    """A one-time link for the invitee; shown here once (only its hash is kept)."""
    actor = staff_principal().actor
    invitation, secret = atomic(lambda s: invitations.invite(
        s, _now(), organisation_id=org_id, role=body.role, note=body.note,
        days=current_app.config["INVITATION_DAYS"], actor=actor))
    return {**invitations.invitation_view(invitation), "url": invitation_url("org", secret)}


def revoke_invitation(org_id: int, invitation_id: int):
    actor = staff_principal().actor
    atomic(lambda s: invitations.revoke(s, _now(), invitation_id=invitation_id, organisation_id=org_id, actor=actor))
    return {"revoked": invitation_id}


SIGNUP_ROUTES = [
    Route("POST", "/organisations/applications", apply, "Sign an organisation up, with its first org_admin",
          body=schemas.ApplicationIn, status=201, tags=("organisations",),
          rate_limit=("org-signup", "SIGNUP_RATE_LIMIT_PER_MINUTE"), response=schemas.ApplicationOut, errors=(409,),
          description="credit_code must be a valid 统一社会信用代码 (its check character) and adcode a GB/T 2260 "
                      "code; admin.username must be free and admin.password strong enough (400 naming the field); "
                      "an organisation with the same credit code already applied: 409."),
]
ORG = "/organisations/<int:org_id>"
ROUTES = [
    Route("GET", ORG, get_organisation, "My organisation, with its verification history", tags=("organisations",),
          response=schemas.OrganisationRecordOut),
    Route("POST", f"{ORG}/resubmit", resubmit, "Correct a rejected application and submit it again",
          body=schemas.ResubmitIn, tags=("organisations",), response=schemas.ReviewedOrganisationOut,
          description="Only a rejected application can be resubmitted (409 otherwise); null leaves a field as it is."),
    Route("GET", f"{ORG}/members", list_members, "The organisation's people and their roles",
          tags=("organisations",), response=Items[schemas.MemberOut]),
    Route("PATCH", f"{ORG}/members/<int:account_id>", change_member_role, "Change a member's role",
          body=RoleIn, tags=("organisations",), response=Items[schemas.MemberOut]),
    Route("DELETE", f"{ORG}/members/<int:account_id>", remove_member, "Remove a member",
          tags=("organisations",), response=Items[schemas.MemberOut]),
    Route("GET", f"{ORG}/invitations", list_invitations, "Open invitations", tags=("organisations",),
          response=Items[InvitationOut]),
    Route("POST", f"{ORG}/invitations", invite_member, "Invite someone: a one-time link, shown once",
          body=OrgInviteIn, status=201, tags=("organisations",), response=InvitationLinkOut),
    Route("DELETE", f"{ORG}/invitations/<int:invitation_id>", revoke_invitation, "Revoke an open invitation",
          tags=("organisations",), response=Revoked),
]
register(signup_bp, SIGNUP_ROUTES)
register(bp, ROUTES)


def init_app(app: Flask) -> None:
    app.register_blueprint(signup_bp)
    app.register_blueprint(bp)
