"""Response shapes of the registry (backend/registry/views.py): methodologies, projects and their batches."""

from __future__ import annotations

from backend.schemas import Out


class MethodologyOut(Out):
    id: int
    code: str
    name: str
    ecosystem: str
    version: str
    source_document: str


class BatchOut(Out):
    id: int
    code: str
    project_id: int
    vintage: int
    monitoring_start: str
    monitoring_end: str
    quantity_g: int
    issued_at: str
    available_g: int
    reserved_g: int
    retired_g: int
    cancelled_g: int
    held_g: int


class Owner(Out):
    id: int
    name: str


class ProjectOut(Out):
    id: int
    name: str
    owner: Owner
    county_adcode: str
    county_name: str
    ecosystem: str
    methodology: MethodologyOut
    area_mu: str
    crediting_start: str
    crediting_end: str
    description: str
    state: str
    batches: list[BatchOut]


class OperatorProjectOut(ProjectOut):
    """A project as operators see it: with its review state and every decision."""

    state_reason: str | None
    decided_by: str | None
    decided_at: str | None
    decisions: list[dict]
