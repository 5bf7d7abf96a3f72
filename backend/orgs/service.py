"""An organisation's lifecycle and its members.

applied ──verify──▶ verified ──suspend──▶ suspended ──reinstate──▶ verified
   │                   
   └──reject──▶ rejected ──resubmit (its org_admin, with corrections)──▶ applied

Every step is a decision row and an audit event. Only a verified organisation acts: its members' routes that
change anything are refused otherwise (the permission table checks the status on every request).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from backend import audit
from backend.clock import isoformat_utc
from backend.errors import Conflict, InvalidInput, NotFound
from backend.ledger.holders import mask_name
from backend.orgs import creditcode
from backend.registry import adcode
from backend.registry.models import ORGANISATION_KINDS, Organisation, OrganisationDecision
from backend.staff import service as staff
from backend.staff.models import Membership, StaffAccount
from backend.staff.roles import org_rank

# action → (states it may start from, state it leads to, whether a reason is required)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "verify": (("applied",), "verified", False),
    "reject": (("applied",), "rejected", True),
    "suspend": (("verified",), "suspended", True),
    "reinstate": (("suspended",), "verified", True),
    "resubmit": (("rejected",), "applied", False),
}
KIND_LABELS = {"forest_farm": "林场", "cooperative": "合作社", "company": "企业", "government": "政府部门",
               "court": "人民法院", "procuratorate": "人民检察院", "event_organiser": "活动主办方",
               "scenic_area": "景区", "school": "学校", "ngo": "社会组织", "other": "其他"}
STATUS_LABELS = {"applied": "审核中", "verified": "已认证", "rejected": "未通过", "suspended": "已暂停"}
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")


def check_contact(name: str, phone: str, email: str | None) -> tuple[str, str, str | None]:
    name = staff.check_display_name(name, "contact_name")
    phone = phone.replace(" ", "")
    if not (_MOBILE.fullmatch(phone) or _LANDLINE.fullmatch(phone)):
        raise InvalidInput("contact_phone", "应为手机号或带区号的座机号 (a mainland mobile or landline number)")
    if email is not None and not _EMAIL.fullmatch(email.strip()):
        raise InvalidInput("contact_email", "邮箱格式不正确 (not an e-mail address)")
    return name, phone, email.strip() if email else None


def _check_fields(name: str, kind: str, region: str) -> tuple[str, str, str]:
    name = " ".join(name.split())
    if not 2 <= len(name) <= 200 or not name.isprintable():
        raise InvalidInput("name", "机构名称为 2–200 个字符 (2–200 printable characters)")
    if kind not in ORGANISATION_KINDS:
        raise InvalidInput("kind", f"应为 {', '.join(ORGANISATION_KINDS)} 之一 (unknown kind)")
    if region not in adcode.divisions():
        raise InvalidInput("adcode", "不是有效的行政区划代码 (not a GB/T 2260 code)")
    return name, kind, region


def _decision(session: Session, now: datetime, organisation: Organisation, to_state: str, reason: str | None,
              actor: str, action: str) -> None:
    before = organisation.status if organisation.id is not None and action != "apply" else None
    session.add(OrganisationDecision(organisation_id=organisation.id, from_state=before, to_state=to_state,
                                     reason=reason, actor=actor, decided_at=now))
    organisation.status, organisation.status_reason = to_state, reason
    organisation.decided_by, organisation.decided_at = actor, now
    session.add(organisation)
    session.flush()
    audit.append(session, now, actor=actor, action=f"organisation.{action}", object_type="organisation",
                 object_id=organisation.id, before={"status": before} if before else None,
                 after={"status": to_state, "reason": reason})


def apply(session: Session, now: datetime, *, name: str, kind: str, credit_code: str, region: str,
          contact_name: str, contact_phone: str, contact_email: str | None, applicant: StaffAccount,
          ) -> Organisation:
    """An organisation applies, with ``applicant`` as its first org_admin; a reviewer decides."""
    name, kind, region = _check_fields(name, kind, region)
    credit_code = creditcode.check(credit_code)
    contact_name, contact_phone, contact_email = check_contact(contact_name, contact_phone, contact_email)
    existing = session.execute(select(Organisation).where(Organisation.credit_code == credit_code)
                               ).scalar_one_or_none()
    if existing is not None:
        hint = ("，请以其管理员身份登录后修改并重新提交 (sign in as its org_admin and resubmit)"
                if existing.status == "rejected" else " (already registered)")
        raise Conflict(f"该统一社会信用代码已登记{hint}", code="duplicate", details={"field": "credit_code"})
    organisation = Organisation(name=name, kind=kind, credit_code=credit_code, adcode=region, created_at=now,
                                status="applied", contact_name=contact_name, contact_phone=contact_phone,
                                contact_email=contact_email)
    session.add(organisation)
    session.flush()
    audit.append(session, now, actor=applicant.actor, action="organisation.create", object_type="organisation",
                 object_id=organisation.id, after={"name": name, "kind": kind, "credit_code": credit_code,
                                                   "adcode": region, "contact": mask_name(contact_name)})
    _decision(session, now, organisation, "applied", None, applicant.actor, "apply")
    staff.grant(session, now, account=applicant, role="org_admin", organisation_id=organisation.id,
                actor=applicant.actor)
    return organisation


def get(session: Session, organisation_id: int, *, lock: bool = False) -> Organisation:
    statement = select(Organisation).where(Organisation.id == organisation_id)
    organisation = session.execute(statement.with_for_update() if lock else statement).scalar_one_or_none()
    if organisation is None:
        raise NotFound("机构不存在 (unknown organisation)")
    return organisation


def decide(session: Session, now: datetime, *, organisation_id: int, action: str, reason: str | None,
           actor: str) -> Organisation:
    """verify, reject, suspend, reinstate (a reviewer), or resubmit (the organisation's own org_admin)."""
    if action not in TRANSITIONS:
        raise NotFound(f"未知操作 {action} (unknown action)")
    sources, target, needs_reason = TRANSITIONS[action]
    reason = " ".join(reason.split()) if reason else None
    if needs_reason and not reason:
        raise InvalidInput("reason", "此操作须说明原因 (a reason is required)")
    organisation = get(session, organisation_id, lock=True)
    if organisation.status not in sources:
        raise Conflict(f"机构当前状态为 {organisation.status}，不能 {action} (not allowed from this state)",
                       code="invalid_state", details={"status": organisation.status, "action": action})
    _decision(session, now, organisation, target, reason, actor, action)
    return organisation


def resubmit(session: Session, now: datetime, *, organisation_id: int, changes: dict[str, Any], actor: str,
             ) -> Organisation:
    """A rejected application, corrected by its org_admin and put before a reviewer again."""
    organisation = get(session, organisation_id, lock=True)
    name, kind, region = _check_fields(changes.get("name", organisation.name), changes.get("kind", organisation.kind),
                                       changes.get("adcode", organisation.adcode or ""))
    contact = check_contact(changes.get("contact_name", organisation.contact_name or ""),
                            changes.get("contact_phone", organisation.contact_phone or ""),
                            changes.get("contact_email", organisation.contact_email))
    before = {"name": organisation.name, "kind": organisation.kind, "adcode": organisation.adcode}
    organisation.name, organisation.kind, organisation.adcode = name, kind, region
    contact_changed = contact != (organisation.contact_name, organisation.contact_phone, organisation.contact_email)
    organisation.contact_name, organisation.contact_phone, organisation.contact_email = contact
    # The corrections themselves; contact details only as "changed" (the chain keeps no phone numbers).
    audit.append(session, now, actor=actor, action="organisation.correct", object_type="organisation",
                 object_id=organisation.id, before=before,
                 after={"name": name, "kind": kind, "adcode": region, "contact_changed": contact_changed})
    return decide(session, now, organisation_id=organisation_id, action="resubmit", reason=None, actor=actor)


def decisions(session: Session, organisation_id: int) -> list[OrganisationDecision]:
    return list(session.execute(select(OrganisationDecision).where(
        OrganisationDecision.organisation_id == organisation_id).order_by(OrganisationDecision.id)).scalars())


def listing(session: Session, *, status: str | None = None, kind: str | None = None, ids: list[int] | None = None,
            limit: int = 200) -> list[Organisation]:
    statement = select(Organisation).order_by(Organisation.id).limit(limit)
    if ids is not None:
        statement = statement.where(Organisation.id.in_(ids))
    if status:
        statement = statement.where(Organisation.status == status)
    if kind:
        statement = statement.where(Organisation.kind == kind)
    return list(session.execute(statement).scalars())


# --- members ---------------------------------------------------------------------------------------------------------

def members(session: Session, organisation_id: int) -> list[tuple[StaffAccount, Membership]]:
    """The organisation's people, highest role first."""
    rows = session.execute(select(StaffAccount, Membership).join(Membership, Membership.account_id == StaffAccount.id)
                           .where(Membership.organisation_id == organisation_id).order_by(StaffAccount.username)).all()
    return sorted(((row.StaffAccount, row.Membership) for row in rows), key=lambda pair: -org_rank(pair[1].role))


def _admins_left(session: Session, organisation_id: int, without: int) -> int:
    """The organisation's other org_admins whose accounts can still act."""
    return session.execute(select(func.count()).select_from(Membership)
                           .join(StaffAccount, StaffAccount.id == Membership.account_id).where(
        Membership.organisation_id == organisation_id, Membership.role == "org_admin",
        Membership.account_id != without, StaffAccount.disabled.is_(False))).scalar_one()


def _member(session: Session, organisation_id: int, account_id: int) -> tuple[StaffAccount, Membership]:
    # Lock the organisation first: two admins demoting each other at once must not leave nobody in charge.
    get(session, organisation_id, lock=True)
    row = session.execute(select(StaffAccount, Membership).join(Membership, Membership.account_id == StaffAccount.id)
                          .where(Membership.organisation_id == organisation_id,
                                 Membership.account_id == account_id)).one_or_none()
    if row is None:
        raise NotFound("该账号不是本机构成员 (not a member of this organisation)")
    return row.StaffAccount, row.Membership


def change_role(session: Session, now: datetime, *, organisation_id: int, account_id: int, role: str,
                actor: str) -> Membership:
    account, membership = _member(session, organisation_id, account_id)
    if membership.role == "org_admin" and role != "org_admin" and not _admins_left(session, organisation_id,
                                                                                   account_id):
        raise Conflict("机构至少要有一名管理员 (the organisation must keep an org_admin)", code="last_org_admin")
    return staff.grant(session, now, account=account, role=role, organisation_id=organisation_id, actor=actor)


def remove_member(session: Session, now: datetime, *, organisation_id: int, account_id: int, actor: str) -> None:
    account, membership = _member(session, organisation_id, account_id)
    if membership.role == "org_admin" and not _admins_left(session, organisation_id, account_id):
        raise Conflict("机构至少要有一名管理员 (the organisation must keep an org_admin)", code="last_org_admin")
    staff.revoke_membership(session, now, account=account, organisation_id=organisation_id, actor=actor)


# --- views -------------------------------------------------------------------------------------------------------------

def acting_of_kind(session: Session, org_id: int, kinds: tuple[str, ...]) -> Organisation:
    """The organisation a scenario's record is opened for: one of ``kinds`` (else NotFound, like a stranger's) and
    verified (else 409 organisation_not_active)."""
    organisation = session.get(Organisation, org_id)
    if organisation is None or organisation.kind not in kinds:
        raise NotFound("机构不存在 (unknown organisation)")
    if organisation.status != "verified":
        raise Conflict("机构尚未通过审核或已暂停 (the organisation is not verified)", code="organisation_not_active")
    return organisation


def organisation_view(organisation: Organisation, *, for_reviewer: bool = False) -> dict[str, Any]:
    view = {"id": organisation.id, "name": organisation.name, "kind": organisation.kind,
            "kind_label": KIND_LABELS.get(organisation.kind, organisation.kind), "status": organisation.status,
            "status_label": STATUS_LABELS[organisation.status], "credit_code": organisation.credit_code,
            "adcode": organisation.adcode, "holder": organisation.holder}
    if for_reviewer:
        view.update({
            "credit_code_check": (None if organisation.credit_code is None
                                  else creditcode.is_valid(organisation.credit_code)),
            "region_name": adcode.full_name(organisation.adcode) if organisation.adcode else None,
            "status_reason": organisation.status_reason, "contact_name": organisation.contact_name,
            "contact_phone": organisation.contact_phone, "contact_email": organisation.contact_email,
            "decided_by": organisation.decided_by,
            "decided_at": isoformat_utc(organisation.decided_at) if organisation.decided_at else None,
            "created_at": isoformat_utc(organisation.created_at)})
    return view


def decision_view(decision: OrganisationDecision) -> dict[str, Any]:
    return {"from": decision.from_state, "to": decision.to_state, "reason": decision.reason,
            "actor": decision.actor, "at": isoformat_utc(decision.decided_at)}


def member_view(account: StaffAccount, membership: Membership) -> dict[str, Any]:
    return {"account_id": account.id, "username": account.username, "display_name": account.display_name,
            "role": membership.role, "disabled": account.disabled,
            "since": isoformat_utc(membership.granted_at),
            "last_sign_in_at": isoformat_utc(account.last_sign_in_at) if account.last_sign_in_at else None}
