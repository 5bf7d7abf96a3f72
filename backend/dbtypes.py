"""Column types shared by the tables."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, DateTime

# timestamptz on PostgreSQL, so an aware UTC datetime is stored as the instant it is, whatever the session's
# TimeZone; SQLite keeps the text and hands back a naive value (read it with backend.clock.as_utc).
UTCDateTime = DateTime(timezone=True)

MAX_ID = 2**31 - 1
"""The largest primary key: ids are INTEGER on PostgreSQL. A larger id in a request names no row."""


def one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    """A CHECK that the column holds one of the values: the database's own backstop for an enum."""
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)
