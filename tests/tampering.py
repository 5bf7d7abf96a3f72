"""Editing rows behind the ledger's back, as a careless script or an attacker with database access would.

On PostgreSQL the history tables refuse UPDATE and DELETE (migration 0002); a superuser can still switch the
triggers off for the session, which is what this does — so the tests prove the checkers catch what gets past.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine


def tamper(engine: Engine, sql: str, *, rows: int | None = 1, **params) -> None:
    """Run one statement in its own transaction; ``rows`` is how many rows it must touch (None: any)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        result = connection.execute(text(sql), params)
        if rows is not None:
            assert result.rowcount == rows, f"the tampering statement touched {result.rowcount} rows"
