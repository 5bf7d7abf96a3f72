"""Migrations that cannot carry old data forward say so instead of leaving a half-working database."""

from __future__ import annotations

import uuid

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
    import backend.models

    backend.models.import_extension_models()  # every table on the metadata
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with app.extensions["db_engine"].connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": stores.kind == "services"})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


@pytest.fixture
def own_database(stores, tmp_path):
    """A database of this test's own, empty, on the stores' kind: it is migrated up and down."""
    if stores.kind == "embedded":
        yield f"sqlite:///{tmp_path / 'own.db'}", None
        return
    from tests.conftest import PG_URL, REDIS_URL

    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}", REDIS_URL
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def demo_app(own_database, tmp_path):
    """An app on the test's own database, migrated to the newest schema and holding the demo data."""
    from backend import create_app
    from backend.certificates import certify
    from backend.demo import load_demo

    url, redis_url = own_database
    migrate.upgrade(url)
    app = create_app({"TESTING": True, "APP_ENV": "test", "DATABASE_URL": url, "REDIS_URL": redis_url,
                      "SECRET_KEY": "migration-test", "CERT_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
                      "REDIS_KEY_PREFIX": f"{uuid.uuid4().hex[:8]}:"})
    with app.app_context():
        load_demo(app.config["CLOCK"](), certify())
    return app


def test_a_database_with_data_goes_down_to_0007_and_up_again_intact(own_database, tmp_path):
    """The demo's projects, retirements, certificates, organisations and people, migrated down past 0008 and 0009
    and up again: SQLite's batch mode recreates tables other rows refer to (it must not trip on their foreign
    keys), 0009 moves names and salts out of history and back, and afterwards every invariant and the chain hold
    and every kept name still opens its certificate's commitment."""
    from backend import sequencer
    from backend.audit import verify
    from backend.certificates import key_ring
    from backend.db import atomic, snapshot
    from backend.ledger.invariants import check
    from backend.transparency import log as transparency_log

    url, _ = own_database
    app = demo_app(own_database, tmp_path)
    try:
        with pytest.raises(RuntimeError, match="run `flask seal` first"):  # 0013 cannot unseal
            migrate.downgrade(url, "0007")
        sequencer.seal_events(app)
        with app.app_context():  # one certificate per batch: the code before 0013 needs a tree head at every size
            ring = key_ring()
            while atomic(lambda s: transparency_log.merge(s, app.config["CLOCK"](), ring, limit=1)):
                pass
        migrate.downgrade(url, "0007")
        engine = create_engine(url)
        with engine.connect() as connection:
            names = connection.execute(text("SELECT beneficiary_name FROM retirement ORDER BY id")).scalars().all()
        engine.dispose()
        assert names == ["张三", "成都马拉松组委会", "李四"]
        migrate.upgrade(url)
        with app.app_context(), snapshot(app.extensions["db_engine"]) as session:
            assert check(session) == [] and verify(session).ok
            kept = session.execute(text("SELECT full_name FROM beneficiary_name ORDER BY retirement_id")).scalars()
            assert list(kept) == names
            statuses = session.execute(text("SELECT DISTINCT status FROM organisation")).scalars().all()
            assert statuses == ["verified"]
    finally:
        app.extensions["db_engine"].dispose()


def test_0013_will_not_go_down_with_a_log_whose_heads_are_per_batch(own_database, tmp_path):
    """Before 0013 every size of the log had its signed tree head; a log appended in batches cannot go back."""
    from backend import sequencer

    url, _ = own_database
    app = demo_app(own_database, tmp_path)
    try:
        sequencer.run_once(app)  # the demo's three certificates, one batch, one head
        with pytest.raises(RuntimeError, match="tree heads for 1 of its 3 sizes"):
            migrate.downgrade(url, "0012")
    finally:
        app.extensions["db_engine"].dispose()
