"""``GET /healthz``: is the database reachable and migrated, is Redis reachable. 503 when any is not."""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import text

from backend.cache import get_redis
from backend.db import get_engine, schema_revision
from backend.migrate import head_revision


def init_app(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        report = {"db": "ok", "redis": "ok", "certificates": "ok", "schema": None, "schema_head": head_revision(),
                  "version": app.config["VERSION"]}
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
        if "cert_keys_error" in app.extensions:
            report["certificates"], healthy = "error: " + app.extensions["cert_keys_error"], False
        try:
            get_redis().ping()
        except Exception as error:
            report["redis"], healthy = f"error: {type(error).__name__}", False
        report["status"] = "ok" if healthy else "unavailable"
        report["backend"] = {"db": engine.dialect.name, "redis": type(get_redis()).__module__.split(".")[0]}
        return jsonify(report), 200 if healthy else 503
