"""Registry domain functions: methodologies, organisations, projects and their review, issuance batches.

Each takes an explicit session and the current time, validates what the schema cannot, audits the change, and
leaves committing to the caller.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from backend import audit
from backend.dbtypes import MAX_ID
from backend.errors import Conflict, InvalidInput, NotFound
from backend.ledger import engine, operations
from backend.ledger.holders import check_holder
from backend.orgs import creditcode
from backend.registry import adcode
from backend.registry.models import (
    ECOSYSTEMS,
    ORGANISATION_KINDS,
    Batch,
    Methodology,
    Organisation,
    OrganisationDecision,
    Project,
    ProjectDecision,
)

ECOSYSTEM_LETTERS = {"forest": "FOR", "bamboo": "BAM", "grassland": "GRA", "wetland": "WET"}

# action → (states it may start from, state it leads to, whether a reason is required)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "submit": (("draft",), "submitted", False),
    "register": (("submitted",), "registered", False),
    "reject": (("submitted",), "rejected", True),
    "suspend": (("registered",), "suspended", True),
    "reinstate": (("suspended",), "registered", True),
}


def _snapshot(row: Any) -> dict[str, Any]:
    data = row.model_dump(mode="json")
    return {key: value for key, value in data.items() if value is not None}


def _check_choice(value: str, choices: tuple[str, ...], field: str) -> None:
    if value not in choices:
        raise InvalidInput(field, f"应为 {', '.join(choices)} 之一 (must be one of them)")


def create_methodology(session: Session, now: datetime, *, actor: str, code: str, name: str, ecosystem: str,
                       version: str, source_document: str) -> Methodology:
    _check_choice(ecosystem, ECOSYSTEMS, "ecosystem")
    if session.execute(select(Methodology.id).where(Methodology.code == code)).first():
        raise Conflict(f"方法学 {code} 已存在 (methodology code already registered)", code="duplicate",
                       details={"field": "code"})
    methodology = Methodology(code=code, name=name, ecosystem=ecosystem, version=version,
                              source_document=source_document, created_at=now)
    session.add(methodology)
    session.flush()
    audit.append(session, now, actor=actor, action="methodology.create", object_type="methodology",
                 object_id=methodology.id, after=_snapshot(methodology))
    return methodology


def require_holder(session: Session, holder: str, field: str) -> str:
    """A holder credits may be sent to: the platform, an organisation that exists, or a user.

    Users have no table until the mini-program arrives, so ``user:<id>`` is taken as given until then.
    """
    check_holder(holder, field)
    # an id beyond any row's (the pattern allows 18 digits) is unknown too, not a query PostgreSQL's integer refuses
    if holder.startswith("org:") and (int(holder[4:]) > MAX_ID or session.get(Organisation, int(holder[4:])) is None):
        raise InvalidInput(field, f"机构 {holder} 不存在 (unknown organisation)")
    return holder


def create_organisation(session: Session, now: datetime, *, actor: str, name: str, kind: str,
                        credit_code: str | None = None, adcode_: str | None = None) -> Organisation:
    _check_choice(kind, ORGANISATION_KINDS, "kind")
    if adcode_ is not None and adcode_ not in adcode.divisions():
        raise InvalidInput("adcode", "不是有效的行政区划代码 (not a GB/T 2260 code)")
    if credit_code is not None:
        credit_code = creditcode.check(credit_code)
    if credit_code is not None and session.execute(
            select(Organisation.id).where(Organisation.credit_code == credit_code)).first():
        raise Conflict("统一社会信用代码已登记 (credit code already registered)", code="duplicate",
                       details={"field": "credit_code"})
    # An operator registering an organisation (a project owner, say) has verified it by doing so.
    organisation = Organisation(name=name, kind=kind, credit_code=credit_code, adcode=adcode_, created_at=now,
                                status="verified", decided_by=actor, decided_at=now)
    session.add(organisation)
    session.flush()
    session.add(OrganisationDecision(organisation_id=organisation.id, to_state="verified", actor=actor,
                                     decided_at=now, reason="运营方登记 (registered by an operator)"))
    audit.append(session, now, actor=actor, action="organisation.create", object_type="organisation",
                 object_id=organisation.id, after=_snapshot(organisation))
    return organisation


def methodologies(session: Session) -> list[Methodology]:
    return list(session.execute(select(Methodology).order_by(Methodology.id)).scalars())


def projects(session: Session, *, states: tuple[str, ...] | None = None, ecosystem: str | None = None,
             province: str | None = None, limit: int | None = None) -> list[Project]:
    """Projects in id order, optionally in these states, of this ecosystem, in this province (adcode)."""
    statement = select(Project).order_by(Project.id)
    if states:
        statement = statement.where(Project.state.in_(states))
    if ecosystem:
        statement = statement.where(Project.ecosystem == ecosystem)
    if province:
        statement = statement.where(Project.county_adcode.startswith(province[:2]))
    return list(session.execute(statement.limit(limit)).scalars())


def get_project(session: Session, project_id: int, *, lock: bool = False) -> Project:
    statement = select(Project).where(Project.id == project_id)
    if lock:
        statement = statement.with_for_update()
    project = session.execute(statement).scalar_one_or_none()
    if project is None:
        raise NotFound(f"项目 {project_id} 不存在 (unknown project)", details={"project_id": project_id})
    return project


def create_project(session: Session, now: datetime, *, actor: str, owner_id: int, name: str, county_adcode: str,
                   ecosystem: str, methodology_id: int, area_mu: Decimal, crediting_start: date,
                   crediting_end: date, description: str = "") -> Project:
    if session.get(Organisation, owner_id) is None:
        raise InvalidInput("owner_id", "业主单位不存在 (unknown organisation)")
    if not adcode.is_county(county_adcode):
        raise InvalidInput("county_adcode", "应为县级行政区划代码 (must be a county-level GB/T 2260 code)")
    _check_choice(ecosystem, ECOSYSTEMS, "ecosystem")
    methodology = session.get(Methodology, methodology_id)
    if methodology is None:
        raise InvalidInput("methodology_id", "方法学不存在 (unknown methodology)")
    if methodology.ecosystem != ecosystem:
        raise InvalidInput("methodology_id", f"方法学适用于 {methodology.ecosystem}，与项目生态系统不符 "
                           "(methodology is for another ecosystem)")
    if crediting_end <= crediting_start:
        raise InvalidInput("crediting_end", "计入期结束须晚于开始 (must be after crediting_start)")
    project = Project(owner_id=owner_id, name=name, county_adcode=county_adcode, ecosystem=ecosystem,
                      methodology_id=methodology_id, area_mu=area_mu, crediting_start=crediting_start,
                      crediting_end=crediting_end, description=description, state="draft", created_at=now)
    session.add(project)
    session.flush()
    audit.append(session, now, actor=actor, action="project.create", object_type="project", object_id=project.id,
                 after=_snapshot(project))
    return project


def decide(session: Session, now: datetime, *, actor: str, project_id: int, action: str,
           reason: str | None = None) -> Project:
    """Move a project through review: submit, register, reject, suspend, reinstate."""
    if action not in TRANSITIONS:
        raise NotFound(f"未知操作 {action} (unknown review action)")
    sources, target, needs_reason = TRANSITIONS[action]
    if needs_reason and not (reason and reason.strip()):
        raise InvalidInput("reason", "此操作须说明原因 (a reason is required)")
    project = get_project(session, project_id, lock=True)
    if project.state not in sources:
        raise Conflict(f"项目当前状态为 {project.state}，不能 {action} (not allowed from this state)",
                       code="invalid_state", details={"state": project.state, "action": action})
    before = {"state": project.state}
    session.add(ProjectDecision(project_id=project.id, from_state=project.state, to_state=target, reason=reason,
                                actor=actor, decided_at=now))
    project.state, project.state_reason, project.decided_by, project.decided_at = target, reason, actor, now
    session.add(project)
    session.flush()
    audit.append(session, now, actor=actor, action=f"project.{action}", object_type="project", object_id=project.id,
                 before=before, after={"state": target, "reason": reason})
    return project


def batch_code(project: Project, vintage: int, sequence: int) -> str:
    """SC-FOR-510129-0007-2024-01: province, ecosystem, county, project, vintage, sequence."""
    province = adcode.PROVINCE_LETTERS[project.county_adcode[:2]]
    return (f"{province}-{ECOSYSTEM_LETTERS[project.ecosystem]}-{project.county_adcode}-{project.id:04d}-"
            f"{vintage}-{sequence:02d}")


def create_batch(session: Session, now: datetime, *, actor: str, client_id: str, project_id: int,
                 monitoring_start: date, monitoring_end: date, vintage: int, quantity_g: int,
                 to_holder: str = "platform") -> Batch:
    """Issue a batch for a registered project: serials ``[1, quantity_g]`` go to ``to_holder``.

    Idempotent by ``client_id``: the same request again returns the same batch.
    """
    operations.check_client_id(client_id)
    operations.check_amount(quantity_g, "quantity_g")
    require_holder(session, to_holder, "to_holder")
    request = {"project_id": project_id, "monitoring_start": monitoring_start.isoformat(),
               "monitoring_end": monitoring_end.isoformat(), "vintage": vintage, "quantity_g": quantity_g,
               "to_holder": to_holder, "actor": actor}
    if (done := engine.replay(session, client_id, operations.issue_digest(request))) is not None:
        return session.get(Batch, done.batch_id)
    if monitoring_end < monitoring_start:
        raise InvalidInput("monitoring_end", "监测期结束不能早于开始 (must not be before monitoring_start)")
    project = get_project(session, project_id, lock=True)
    # A concurrent retry of this request may have issued the batch while we waited for the project's lock.
    if (done := engine.replay(session, client_id, operations.issue_digest(request))) is not None:
        return session.get(Batch, done.batch_id)
    if project.state != "registered":
        raise Conflict(f"项目状态为 {project.state}，只有已登记项目可以签发 (only registered projects get batches)",
                       code="invalid_state", details={"state": project.state})
    if monitoring_start < project.crediting_start or monitoring_end > project.crediting_end:
        raise InvalidInput("monitoring_start", "监测期须在项目计入期内 (monitoring period must lie within the "
                           "crediting period)")
    if not monitoring_start.year <= vintage <= monitoring_end.year:
        raise InvalidInput("vintage", "年份须在监测期内 (vintage must be a year of the monitoring period)")
    overlapping = session.execute(select(Batch.code).where(
        Batch.project_id == project.id, Batch.monitoring_start <= monitoring_end,
        Batch.monitoring_end >= monitoring_start)).scalars().first()
    if overlapping:
        raise Conflict(f"监测期与批次 {overlapping} 重叠 (monitoring period overlaps an issued batch)",
                       code="overlapping_period", details={"batch": overlapping, "field": "monitoring_start"})
    sequence = (session.execute(select(func.max(Batch.sequence)).where(
        Batch.project_id == project.id, Batch.vintage == vintage)).scalar() or 0) + 1
    batch = Batch(code=batch_code(project, vintage, sequence), project_id=project.id,
                  monitoring_start=monitoring_start, monitoring_end=monitoring_end, vintage=vintage,
                  sequence=sequence, quantity_g=quantity_g, issued_at=now, issued_by=actor)
    session.add(batch)
    session.flush()
    audit.append(session, now, actor=actor, action="batch.create", object_type="batch", object_id=batch.id,
                 after=_snapshot(batch))
    operations.issue(session, now, client_id=client_id, batch=batch, to_holder=to_holder, actor=actor,
                     request=request)
    return batch
