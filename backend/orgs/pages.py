"""The organisation portal, /org/: who I am and my organisations, signing an organisation up, and the members
page (invite, change role, remove). Scenario pages (cases, events, staff lists) hang off the same layout."""

from __future__ import annotations

from flask import current_app, flash, redirect, request

from backend.access.identity import optional_staff_principal, staff_principal
from backend.db import atomic, read
from backend.errors import DomainError
from backend.orgs import schemas, service, signup
from backend.orgs.api import invitation_url
from backend.ratelimit import limit
from backend.registry.models import ORGANISATION_KINDS
from backend.staff import invitations
from backend.staff import principal as principals
from backend.staff.roles import ORG_ROLES, ROLE_LABELS, org_rank
from backend.staff.schemas import OrgInviteIn, RoleIn
from backend.staff.web import field_errors, new_account_from, page, page_blueprint, parse_form, sign_in

bp = page_blueprint("org_pages", __name__)


def _now():
    return current_app.config["CLOCK"]()


def home():
    principal = staff_principal()
    ids = list(principal.organisations)
    organisations = read(lambda s: {o.id: o for o in service.listing(s, ids=ids)}) if ids else {}
    return page("orgs/home.html", principal=principal, organisations=organisations, role_labels=ROLE_LABELS,
                kinds=service.KIND_LABELS, statuses=service.STATUS_LABELS)


def apply():
    signed_in = optional_staff_principal()
    context = dict(signed_in=signed_in, kinds=[(k, service.KIND_LABELS[k]) for k in ORGANISATION_KINDS])
    if request.method == "GET":
        return page("orgs/apply.html", form={}, **context)
    try:
        limit("org-signup", current_app.config["SIGNUP_RATE_LIMIT_PER_MINUTE"])
        form = parse_form(schemas.ApplicationForm)
        fields = signup.organisation_fields(form)
        if signed_in is not None:
            organisation = signup.apply_as(_now(), fields, account_id=signed_in.account_id)
        else:
            organisation, account_id = signup.apply_with_new_account(_now(), fields, new_account_from(form))
            sign_in(read(lambda s: principals.load(s, account_id)))  # to follow the application at /org/
    except DomainError as error:
        return page("orgs/apply.html", error.status, error=error, errors=field_errors(error), form=request.form,
                    **context)
    flash(f"已提交「{organisation.name}」的入驻申请，审核通过后即可办理业务 (application submitted)")
    return redirect("/org/")


def members(org_id: int, status: int = 200, **extra):
    principal = staff_principal()
    now = _now()

    def gather(s):
        return (service.get(s, org_id), service.members(s, org_id), invitations.open_invitations(s, org_id, now))
    organisation, people, pending = read(gather)
    held = principal.org_role(org_id)
    manages = (held is not None and held.role == "org_admin") or principal.has_platform_role("admin")
    return page("orgs/members.html", status, principal=principal, organisation=organisation, people=people,
                pending=pending, manages=manages and organisation.status == "verified", role_labels=ROLE_LABELS,
                roles=[(r, ROLE_LABELS[r]) for r in reversed(ORG_ROLES)], org_rank=org_rank,
                statuses=service.STATUS_LABELS, **extra)


def invite(org_id: int):
    actor = staff_principal().actor
    try:
        form = parse_form(OrgInviteIn)
        invitation, secret = atomic(lambda s: invitations.invite(
            s, _now(), organisation_id=org_id, role=form.role, note=form.note,
            days=current_app.config["INVITATION_DAYS"], actor=actor))
    except DomainError as error:
        return members(org_id, error.status, error=error, errors=field_errors(error))
    return members(org_id, 201, new_link=invitation_url("org", secret), new_invitation=invitation)


def change_role(org_id: int, account_id: int):
    actor = staff_principal().actor
    try:
        form = parse_form(RoleIn)
        atomic(lambda s: service.change_role(s, _now(), organisation_id=org_id, account_id=account_id,
                                             role=form.role, actor=actor))
    except DomainError as error:
        return members(org_id, error.status, error=error)
    flash("角色已修改 (role changed)")
    return redirect(f"/org/{org_id}/members")


def remove(org_id: int, account_id: int):
    actor = staff_principal().actor
    try:
        atomic(lambda s: service.remove_member(s, _now(), organisation_id=org_id, account_id=account_id,
                                               actor=actor))
    except DomainError as error:
        return members(org_id, error.status, error=error)
    flash("已移除成员 (member removed)")
    return redirect(f"/org/{org_id}/members")


def revoke_invitation(org_id: int, invitation_id: int):
    actor = staff_principal().actor
    atomic(lambda s: invitations.revoke(s, _now(), invitation_id=invitation_id, organisation_id=org_id, actor=actor))
    flash("邀请已撤销 (invitation revoked)")
    return redirect(f"/org/{org_id}/members")


ORG = "/org/<int:org_id>"
PAGES = [  # rule, endpoint (as the permission table names it), view, methods
    ("/org/", "home", home, ["GET"]),
    ("/org/apply", "apply", apply, ["GET", "POST"]),
    (f"{ORG}/members", "members", members, ["GET"]),
    (f"{ORG}/members/invite", "invite", invite, ["POST"]),
    (f"{ORG}/members/<int:account_id>/role", "change_role", change_role, ["POST"]),
    (f"{ORG}/members/<int:account_id>/remove", "remove", remove, ["POST"]),
    (f"{ORG}/invitations/<int:invitation_id>/revoke", "revoke_invitation", revoke_invitation, ["POST"]),
]
for rule, endpoint, view, methods in PAGES:
    bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)


def init_app(app) -> None:
    app.register_blueprint(bp)
