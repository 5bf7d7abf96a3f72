"""JSON shapes of registry rows, shared by the public and the operator API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.clock import isoformat_utc
from backend.ledger.queries import batch_supply
from backend.registry import adcode
from backend.registry.models import Batch, Methodology, Organisation, Project, ProjectDecision


def methodology_view(methodology: Methodology) -> dict[str, Any]:
    return {"id": methodology.id, "code": methodology.code, "name": methodology.name,
            "ecosystem": methodology.ecosystem, "version": methodology.version,
            "source_document": methodology.source_document}


def batch_view(batch: Batch, supply: dict[str, int]) -> dict[str, Any]:
    return {"id": batch.id, "code": batch.code, "project_id": batch.project_id, "vintage": batch.vintage,
            "monitoring_start": batch.monitoring_start.isoformat(), "monitoring_end": batch.monitoring_end.isoformat(),
            "quantity_g": batch.quantity_g, "issued_at": isoformat_utc(batch.issued_at), **supply}


def project_views(session: Session, projects: list[Project], *, operator: bool = False) -> list[dict[str, Any]]:
    """Projects with owner, methodology and batches (with supply), in as few queries as the list needs."""
    ids = [p.id for p in projects]
    batches = session.execute(select(Batch).where(Batch.project_id.in_(ids)).order_by(Batch.id)).scalars().all()
    supply = batch_supply(session, [b.id for b in batches])
    owners = {o.id: o for o in session.execute(
        select(Organisation).where(Organisation.id.in_({p.owner_id for p in projects}))).scalars()}
    methods = {m.id: m for m in session.execute(
        select(Methodology).where(Methodology.id.in_({p.methodology_id for p in projects}))).scalars()}
    views = []
    for project in projects:
        view = {"id": project.id, "name": project.name,
                "owner": {"id": project.owner_id, "name": owners[project.owner_id].name},
                "county_adcode": project.county_adcode, "county_name": adcode.full_name(project.county_adcode),
                "ecosystem": project.ecosystem, "methodology": methodology_view(methods[project.methodology_id]),
                "area_mu": str(project.area_mu), "crediting_start": project.crediting_start.isoformat(),
                "crediting_end": project.crediting_end.isoformat(), "description": project.description,
                "state": project.state,
                "batches": [batch_view(b, supply[b.id]) for b in batches if b.project_id == project.id]}
        if operator:
            view["state_reason"] = project.state_reason
            view["decided_by"] = project.decided_by
            view["decided_at"] = isoformat_utc(project.decided_at) if project.decided_at else None
            view["decisions"] = [
                {"from": d.from_state, "to": d.to_state, "reason": d.reason, "actor": d.actor,
                 "at": isoformat_utc(d.decided_at)}
                for d in session.execute(select(ProjectDecision).where(ProjectDecision.project_id == project.id)
                                         .order_by(ProjectDecision.id)).scalars()]
        views.append(view)
    return views
