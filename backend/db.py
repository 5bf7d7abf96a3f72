"""The database: one engine per app, sessions per unit of work, and retries for transient failures.

SQLite is the embedded default. pysqlite's own transaction handling runs a SELECT outside the transaction, which
lost 39–63 % of concurrent decrements when measured (DESIGN.md §3), so we take over: autocommit at the driver, and
``BEGIN IMMEDIATE`` for every transaction, which serialises writers without "database is locked" storms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

log = logging.getLogger(__name__)
T = TypeVar("T")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # Sessions run in UTC whatever the server's default; options already in the URL (a search_path, say) stay.
    parsed = make_url(url)
    options = " ".join(filter(None, [parsed.query.get("options"), "-c timezone=UTC"]))
    return create_engine(parsed.difference_update_query(["options"]), pool_size=pool_size, max_overflow=pool_size,
                         pool_pre_ping=True, connect_args={"options": options})


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], pool_size=app.config["DATABASE_POOL_SIZE"])
    app.extensions["db_engine"] = engine


def get_engine() -> Engine:
    return current_app.extensions["db_engine"]


# PostgreSQL SQLSTATEs worth another attempt: serialization_failure, deadlock_detected, unique_violation
# (two first writers of the same idempotency key: the loser retries and then finds the winner's row).
_RETRY_PGCODES = {"40001", "40P01", "23505"}


def _is_transient(error: DBAPIError) -> bool:
    pgcode = getattr(error.orig, "sqlstate", None)
    if pgcode in _RETRY_PGCODES:
        return True
    text = str(error.orig).lower()
    if isinstance(error, OperationalError) and "database is locked" in text:
        return True
    return isinstance(error, IntegrityError) and "unique constraint failed" in text


def atomic(work: Callable[[Session], T], *, engine: Engine | None = None, attempts: int = 5) -> T:
    """Run ``work(session)`` in one transaction and commit; retry the whole unit on a transient failure.

    Domain errors propagate after a rollback. Objects stay readable after commit (no expiry on commit).
    """
    engine = engine or get_engine()
    for attempt in range(1, attempts + 1):
        with Session(engine, expire_on_commit=False) as session:
            try:
                result = work(session)
                session.commit()
                return result
            except DBAPIError as error:
                session.rollback()
                if attempt == attempts or not _is_transient(error):
                    raise
                log.info("transient database error, attempt %d: %s", attempt, error.orig)
                time.sleep(0.002 * attempt)
    raise AssertionError("unreachable")


def read(work: Callable[[Session], T], *, engine: Engine | None = None) -> T:
    """Run ``work(session)`` on a read-only unit of work: nothing is committed."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        return work(session)


@contextmanager
def snapshot(engine: Engine | None = None) -> Iterator[Session]:
    """A read-only session on one consistent snapshot, for checks that read many tables while writers go on.

    Under PostgreSQL's default READ COMMITTED each statement sees a newer state, so a checker comparing one
    table with another would report writes that landed between its queries. SQLite's transaction already holds
    the database (BEGIN IMMEDIATE), which is a snapshot too.
    """
    engine = engine or get_engine()
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with Session(bind=connection) as session:
            yield session


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None before the first migration."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
