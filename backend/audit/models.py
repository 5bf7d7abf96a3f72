"""The hash-chained audit log: every state change, written with the change, chained by the sealer shortly after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, text
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime

GENESIS_HASH = "0" * 64
# BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the autoincrementing rowid.
EVENT_ID = BigInteger().with_variant(Integer, "sqlite")


class AuditEvent(SQLModel, table=True):
    """One state change. Written unsealed (``seq``, ``prev_hash`` and ``hash`` empty) in the transaction that made
    the change; the sealer (``audit.seal``) later gives it its place in the chain. On PostgreSQL a trigger refuses
    any other change: sealing an unsealed event is the only update there is (migration 0013)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_unsealed", "id", postgresql_where=text("seq IS NULL"),
                            sqlite_where=text("seq IS NULL")),
                      Index("ix_audit_event_object", "object_type", "object_id"))  # one record's history

    id: int | None = Field(default=None, sa_column=Column(EVENT_ID, primary_key=True, autoincrement=True))
    """Order of writing (ids are handed out at insert, so a later id may commit first)."""
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, unique=True))
    """Position in the chain, 1, 2, 3 … with no gaps, given at sealing: the order the sealer saw events committed."""
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's tip, a single row, locked only by the sealer (never by the transactions that write events)."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(default=GENESIS_HASH, max_length=64)
