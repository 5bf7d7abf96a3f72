"""Public read-only API under /api/v1: registered projects, their batches and what is available."""

from __future__ import annotations

import re

from flask import Blueprint, Flask
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel import Session

from backend.db import read
from backend.errors import NotFound
from backend.http import Route, anchored, register
from backend.ledger.schemas import SerialOut
from backend.registry.schemas import ProjectOut
from backend.schemas import Items
from backend.ledger.queries import serial_holder
from backend.registry import service
from backend.registry.models import ECOSYSTEMS, Batch, Project
from backend.registry.views import project_views

bp = Blueprint("public", __name__, url_prefix="/api/v1")
PUBLIC_STATES = ("registered", "suspended")
BATCH_CODE = re.compile(r"^[A-Z]{2}-[A-Z]{3}-\d{6}-\d{4,10}-\d{4}-\d{2,4}$")


class ProjectQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ecosystem: str | None = Field(default=None, pattern="^(" + "|".join(ECOSYSTEMS) + ")$")
    province: str | None = Field(default=None, pattern=r"^\d{2}0000$")


def list_projects(query: ProjectQuery):
    """Registered (and suspended) projects with their batches and each batch's available_g."""
    return {"items": read(lambda session: project_views(session, service.projects(
        session, states=PUBLIC_STATES, ecosystem=query.ecosystem, province=query.province)))}


def get_project(project_id: int):
    def view(session: Session):
        project = session.get(Project, project_id)
        if project is None or project.state not in PUBLIC_STATES:
            raise NotFound(f"项目 {project_id} 不存在 (unknown project)")
        return project_views(session, [project])[0]
    return read(view)


def serial(batch_code: str, serial: int):
    """Which account kind holds serial N of a batch, and for a retired serial, the retirement claiming it."""
    def lookup(session: Session):
        batch = None
        if BATCH_CODE.match(batch_code):
            batch = session.execute(select(Batch).where(Batch.code == batch_code)).scalar_one_or_none()
        if batch is None:
            raise NotFound(f"批次 {batch_code} 不存在 (unknown batch)")
        found = serial_holder(session, batch.id, serial, public=True)
        found["batch_code"] = batch.code
        return found
    return read(lookup)


ROUTES = [
    Route("GET", "/projects", list_projects, "List registered projects", query=ProjectQuery, tags=("public",),
          response=Items[ProjectOut]),
    Route("GET", "/projects/<int:project_id>", get_project, "One registered project", tags=("public",),
          response=ProjectOut),
    Route("GET", "/batches/<batch_code>/serials/<serial:serial>", serial, "Who holds a serial", tags=("public",),
          response=SerialOut, params={"batch_code": anchored(BATCH_CODE)}),
]


register(bp, ROUTES)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
