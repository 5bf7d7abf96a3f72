"""``GET /healthz``: is the database reachable and migrated, is Redis reachable. 503 when any is not."""

from __future__ import annotations

from typing import Literal

from flask import Flask, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from backend.cache import get_redis
from backend.db import get_engine, schema_revision
from backend.http import Route, register
from backend.migrate import head_revision


class Health(BaseModel):
    """What /healthz reports, healthy (200) or not (503): each part "ok" or what is wrong with it."""

    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "unavailable"]
    db: str
    redis: str
    certificates: str
    schema_: str | None = Field(alias="schema", description="the database's migration revision")
    schema_head: str
    version: str
    backend: dict[str, str]


def healthz():
    report = {"db": "ok", "redis": "ok", "certificates": "ok", "schema": None, "schema_head": head_revision(),
              "version": current_app.config["VERSION"]}
    healthy = True
    engine = get_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        report["schema"] = schema_revision(engine)
    except Exception as error:  # any failure to reach the database is the answer, not a crash
        report["db"], healthy = f"error: {type(error).__name__}", False
    if report["db"] == "ok" and report["schema"] != report["schema_head"]:
        report["db"], healthy = "migrations pending: run flask --app backend db upgrade", False
    if "cert_keys_error" in current_app.extensions:
        report["certificates"], healthy = "error: " + current_app.extensions["cert_keys_error"], False
    try:
        get_redis().ping()
    except Exception as error:
        report["redis"], healthy = f"error: {type(error).__name__}", False
    report["status"] = "ok" if healthy else "unavailable"
    report["backend"] = {"db": engine.dialect.name, "redis": type(get_redis()).__module__.split(".")[0]}
    return jsonify(report), 200 if healthy else 503


ROUTES = [Route("GET", "/healthz", healthz, "Health: database reachable and migrated, Redis reachable, signing key "
                "loaded", response=Health, tags=("public",),
                responses={503: ("一项不可用 (something is unavailable: the same report)", Health)})]


def init_app(app: Flask) -> None:
    register(app, ROUTES)
