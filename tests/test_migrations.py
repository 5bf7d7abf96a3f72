"""Migrations that cannot carry old data forward say so instead of leaving a half-working database."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from backend import migrate


def test_0004_refuses_certificates_issued_before_the_transparency_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0003")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("PRAGMA foreign_keys=OFF"))  # a certificate row alone is enough to trip it
        connection.execute(text("INSERT INTO certificate (id, number, year, sequence, retirement_id, payload, "
                                "payload_sha256, jws, kid, name_salt, created_at) VALUES (1, 'TH2026-00000001', "
                                "2026, 1, 1, '{}', 'x', 'j', 'k', 's', '2026-01-01 00:00:00')"))
    engine.dispose()
    with pytest.raises(RuntimeError, match="rm instance/tanhui.db"):
        migrate.upgrade(url)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(fresh)  # an empty database goes all the way


def test_the_migrations_build_exactly_the_tables_the_models_describe(app, stores):
    """Hand-written migrations (0008 widens columns on PostgreSQL only, rewrites a CHECK in batch mode on SQLite)
    must land where the models are: Alembic's own comparison finds nothing to add, drop or change. Column types
    are compared on PostgreSQL; SQLite keeps no VARCHAR lengths worth comparing."""
    import backend.models  # noqa: F401  (every table on the metadata)
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with app.extensions["db_engine"].connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": stores.kind == "services"})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
