"""The console's organisations and accounts: /admin/organisations (applications to verify, with the credit-code
check; each organisation's decisions, members and their API tokens; verify, reject, suspend, reinstate) and
/admin/staff (staff accounts, their platform roles and second factor; disable, grant, revoke, reset).

Thin handlers over the same domain calls as the operator JSON API (admin/people.py): orgs.decide for decisions,
staff.set_disabled / grant / revoke_membership / reset_totp for accounts. Who may press what is the permission
table's say (backend/access/policy.py), for the POST and for the button alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import current_app, flash, redirect, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, exists, or_, select
from sqlmodel import Session

from admin import listing
from admin.listing import Sorts, page_of
from backend.access.identity import staff_principal
from backend.clock import CHINA, as_utc
from backend.csvfile import csv_response
from backend.db import atomic, read
from backend.errors import DomainError, NotFound
from backend.orgs import schemas as org_schemas
from backend.orgs import service as orgs
from backend.registry.models import ORGANISATION_KINDS, ORGANISATION_STATES, Organisation
from backend.staff import invitations, tokens
from backend.staff import service as staff
from backend.staff.models import Membership, StaffAccount
from backend.staff.roles import PLATFORM_ROLES, ROLE_LABELS
from backend.staff.web import field_errors, page, page_blueprint, parse_form

bp = page_blueprint("admin_organisations", __name__)

# What each step of the lifecycle is called, by (from, to): the decision rows keep the states, not the verb.
ACTION_LABELS = {"verify": "通过审核", "reject": "驳回", "suspend": "暂停", "reinstate": "恢复", "resubmit": "重新提交",
                 "apply": "提交申请", "register": "运营方登记", "change": "状态变更"}
OPERATOR_ACTIONS = ("verify", "reject", "suspend", "reinstate")
TOKEN_STATES = {"active": "有效", "expired": "已过期", "revoked": "已撤销"}


def _now() -> datetime:
    return current_app.config["CLOCK"]()


def beijing(moment: datetime | str | None) -> str:
    """A stored moment (or its ISO spelling) as Beijing wall time: 2026-03-12 17:00."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def step_of(from_state: str | None, to_state: str) -> str:
    """The action that took an organisation from one state to the other. Its first decision has no state before
    it: an application, or an operator registering it verified."""
    if from_state is None:
        return "apply" if to_state == "applied" else "register"
    return next((action for action, (sources, target, _) in orgs.TRANSITIONS.items()
                 if from_state in sources and target == to_state), "change")


class Filters(BaseModel):
    # sort, dir, after and format are admin/listing.py's to read
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: str | None = Field(default=None, max_length=100)


# --- organisations ------------------------------------------------------------------------------------------------

class OrganisationFilters(Filters):
    status: Literal[ORGANISATION_STATES] | None = None
    kind: Literal[ORGANISATION_KINDS] | None = None


AWAITING = case((Organisation.status == "applied", 1), else_=0)
ORGANISATION_SORTS = Sorts(columns={"waiting": AWAITING, "created_at": Organisation.created_at,
                                    "name": Organisation.name},
                           default="waiting", unique=Organisation.id)
ORGANISATION_CSV = ("id", "名称", "类型", "状态", "统一社会信用代码", "校验位", "行政区划代码", "所在地", "联系人",
                    "联系电话", "联系邮箱", "申请时间（北京时间）", "最近决定人", "最近决定时间（北京时间）", "原因")


def _organisations_selected(filters: OrganisationFilters):
    statement = select(Organisation)
    if filters.status:
        statement = statement.where(Organisation.status == filters.status)
    if filters.kind:
        statement = statement.where(Organisation.kind == filters.kind)
    if filters.q:
        statement = statement.where(or_(Organisation.name.icontains(filters.q, autoescape=True),
                                        Organisation.credit_code == filters.q.upper()))
    return statement


def _organisation_cursor(row) -> tuple[Any, int]:
    organisation = row[0]
    by = request.args.get("sort") or ORGANISATION_SORTS.default  # already checked by page_of
    value = {"waiting": int(organisation.status == "applied"), "created_at": organisation.created_at,
             "name": organisation.name}[by]
    return value, organisation.id


def list_organisations():
    filters = listing.filters_of(OrganisationFilters)
    statement = _organisations_selected(filters)
    if listing.wants_csv():
        views = read(lambda s: [orgs.organisation_view(o, for_reviewer=True)
                                for o in s.execute(statement.order_by(Organisation.id)).scalars()])
        return csv_response(ORGANISATION_CSV, (
            (v["id"], v["name"], v["kind_label"], v["status_label"], v["credit_code"],
             {True: "正确", False: "不符", None: ""}[v["credit_code_check"]], v["adcode"], v["region_name"],
             v["contact_name"], v["contact_phone"], v["contact_email"], beijing(v["created_at"]), v["decided_by"],
             beijing(v["decided_at"]) if v["decided_at"] else "", v["status_reason"]) for v in views),
            "organisations.csv")

    def look(session: Session):
        listed = page_of(session, statement, ORGANISATION_SORTS, size=listing.PAGE_SIZE,
                         value_of=_organisation_cursor)
        return listed, [orgs.organisation_view(row[0], for_reviewer=True) for row in listed.rows]

    listed, rows = read(look)
    return page("admin/organisations/list.html", listed=listed, rows=rows, filters=filters,
                sorts=ORGANISATION_SORTS, statuses=orgs.STATUS_LABELS, kinds=orgs.KIND_LABELS, beijing=beijing)


def _member_tokens(session: Session, account_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    now = _now()
    held: dict[int, list[dict[str, Any]]] = {account_id: [] for account_id in account_ids}
    for token in tokens.tokens_of_accounts(session, account_ids):
        held[token.account_id].append({**tokens.token_view(token, now), "revoked_at": token.revoked_at})
    return held


def organisation(organisation_id: int, status: int = 200, **extra):
    def look(session: Session):
        view = orgs.organisation_view(orgs.get(session, organisation_id), for_reviewer=True)
        decisions = [{**orgs.decision_view(d), "action": step_of(d.from_state, d.to_state)}
                     for d in orgs.decisions(session, organisation_id)]
        members = orgs.members(session, organisation_id)
        return view, decisions, members, _member_tokens(session, [account.id for account, _ in members])

    view, decisions, members, held = read(look)
    actions = [(action, orgs.TRANSITIONS[action][2]) for action in OPERATOR_ACTIONS
               if view["status"] in orgs.TRANSITIONS[action][0]]
    return page("admin/organisations/detail.html", status, organisation=view, decisions=decisions, members=members,
                tokens=held, actions=actions, action_labels=ACTION_LABELS, statuses=orgs.STATUS_LABELS,
                role_labels=ROLE_LABELS, token_states=TOKEN_STATES, beijing=beijing,
                errors=field_errors(extra.get("error")), **extra)


def decide(organisation_id: int, action: str):
    """Verify, reject, suspend or reinstate: admin_api.decide_organisation's domain call, from a form."""
    actor = staff_principal().actor
    try:
        form = parse_form(org_schemas.DecisionIn)
        decided = atomic(lambda s: orgs.decide(s, _now(), organisation_id=organisation_id, action=action,
                                               reason=form.reason, actor=actor))
    except NotFound:
        raise
    except DomainError as error:
        return organisation(organisation_id, error.status, error=error)
    flash(f"「{decided.name}」已{ACTION_LABELS[action]} ({action})")
    return redirect(f"/admin/organisations/{organisation_id}")


# --- staff accounts -------------------------------------------------------------------------------------------------

class StaffFilters(Filters):
    role: Literal[PLATFORM_ROLES + ("platform", "any")] = "platform"
    disabled: Literal["yes", "no"] | None = None


STAFF_SORTS = Sorts(columns={"username": StaffAccount.username, "created_at": StaffAccount.created_at},
                    default="username", unique=StaffAccount.id)
STAFF_CSV = ("id", "用户名", "姓名", "平台角色", "机构角色", "两步验证", "已停用", "可密码登录",
             "最近登录（北京时间）")


def _staff_selected(filters: StaffFilters):
    statement = select(StaffAccount)
    if filters.role != "any":
        platform = select(Membership.id).where(Membership.account_id == StaffAccount.id,
                                               Membership.organisation_id.is_(None))
        if filters.role != "platform":
            platform = platform.where(Membership.role == filters.role)
        statement = statement.where(exists(platform))
    if filters.disabled:
        statement = statement.where(StaffAccount.disabled.is_(filters.disabled == "yes"))
    if filters.q:
        statement = statement.where(or_(StaffAccount.username.icontains(filters.q, autoescape=True),
                                        StaffAccount.display_name.icontains(filters.q, autoescape=True)))
    return statement


def _roles_text(view: dict[str, Any], platform: bool) -> str:
    held = [m for m in view["memberships"] if (m["scope"] == "platform") == platform]
    return "；".join(m["role"] if platform else f"{m['organisation']['name']}:{m['role']}" for m in held)


def staff_accounts(status: int = 200, **extra):
    filters = listing.filters_of(StaffFilters)
    statement = _staff_selected(filters)
    if listing.wants_csv():
        views = read(lambda s: staff.account_views(
            s, list(s.execute(statement.order_by(StaffAccount.id)).scalars())))
        return csv_response(STAFF_CSV, (
            (v["id"], v["username"], v["display_name"], _roles_text(v, True), _roles_text(v, False),
             "已启用" if v["second_factor"] else "未启用", "是" if v["disabled"] else "否",
             "是" if v["can_sign_in"] else "否", beijing(v["last_sign_in_at"]) if v["last_sign_in_at"] else "")
            for v in views), "staff.csv")
    now = _now()

    def look(session: Session):
        listed = page_of(session, statement, STAFF_SORTS, size=listing.PAGE_SIZE)
        accounts = [row[0] for row in listed.rows]
        views = [{**view, "created_at": account.created_at}
                 for account, view in zip(accounts, staff.account_views(session, accounts), strict=True)]
        return listed, views, [invitations.invitation_view(i) for i in invitations.open_invitations(session, None, now)]

    listed, rows, invited = read(look)
    return page("admin/organisations/staff.html", status, listed=listed, rows=rows, invited=invited,
                filters=filters, sorts=STAFF_SORTS, platform_roles=PLATFORM_ROLES, role_labels=ROLE_LABELS,
                statuses=orgs.STATUS_LABELS, beijing=beijing, me=staff_principal().account_id, **extra)


class PlatformRoleForm(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Literal[PLATFORM_ROLES]


def _account_action(work, done: str):
    """Run one account action in a unit of work; its refusal re-renders the list, its success says so."""
    try:
        account = atomic(work)
    except NotFound:
        raise
    except DomainError as error:
        return staff_accounts(error.status, error=error)
    flash(f"{account.username}：{done}")
    return redirect("/admin/staff")


def set_disabled(account_id: int, action: str):
    actor = staff_principal().actor
    return _account_action(lambda s: staff.set_disabled(s, _now(), account_id=account_id,
                                                        disabled=action == "disable", actor=actor),
                           "已停用，不能再登录 (disabled)" if action == "disable" else "已启用 (enabled)")


def grant_role(account_id: int):
    actor = staff_principal().actor
    form = parse_form(PlatformRoleForm)

    def work(s: Session) -> StaffAccount:
        account = staff.get_account(s, account_id)
        staff.grant(s, _now(), account=account, role=form.role, organisation_id=None, actor=actor)
        return account
    return _account_action(work, f"已授予{ROLE_LABELS[form.role]}")


def revoke_role(account_id: int):
    actor = staff_principal().actor
    form = parse_form(PlatformRoleForm)

    def work(s: Session) -> StaffAccount:
        account = staff.get_account(s, account_id)
        staff.revoke_membership(s, _now(), account=account, organisation_id=None, role=form.role, actor=actor)
        return account
    return _account_action(work, f"已收回{ROLE_LABELS[form.role]}")


def reset_totp(account_id: int):
    actor = staff_principal().actor
    return _account_action(lambda s: staff.reset_totp(s, _now(), account_id=account_id, actor=actor),
                           "两步验证已重置，下次登录时重新设置 (second factor reset)")


bp.add_url_rule("/admin/organisations", endpoint="list_organisations", view_func=list_organisations,
                methods=["GET"])
bp.add_url_rule("/admin/organisations/<int:organisation_id>", endpoint="organisation", view_func=organisation,
                methods=["GET"])
bp.add_url_rule(f"/admin/organisations/<int:organisation_id>/decisions/<any({','.join(OPERATOR_ACTIONS)}):action>",
                endpoint="decide", view_func=decide, methods=["POST"])
bp.add_url_rule("/admin/staff", endpoint="staff", view_func=staff_accounts, methods=["GET"])
bp.add_url_rule("/admin/staff/<int:account_id>/<any(disable,enable):action>", endpoint="set_disabled",
                view_func=set_disabled, methods=["POST"])
bp.add_url_rule("/admin/staff/<int:account_id>/roles/grant", endpoint="grant_role", view_func=grant_role,
                methods=["POST"])
bp.add_url_rule("/admin/staff/<int:account_id>/roles/revoke", endpoint="revoke_role", view_func=revoke_role,
                methods=["POST"])
bp.add_url_rule("/admin/staff/<int:account_id>/totp-reset", endpoint="reset_totp", view_func=reset_totp,
                methods=["POST"])

