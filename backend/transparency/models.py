"""The transparency log's tables: leaves, the stored interior nodes, the head, and every signed tree head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, SmallInteger
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


class LogEntry(SQLModel, table=True):
    """Leaf ``leaf_index`` (0, 1, 2 … with no gaps): SHA-256(0x00 || the certificate's payload SHA-256)."""

    __tablename__ = "log_entry"
    __table_args__ = (CheckConstraint("leaf_index >= 0", name="ck_log_entry_index"),)

    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    certificate_id: int = Field(foreign_key="certificate.id", unique=True)
    leaf_hash: str = Field(max_length=64)


class LogNode(SQLModel, table=True):
    """The hash of the perfect subtree of 2**level leaves that starts at leaf ``start`` (level >= 1).

    Written once, when its last leaf is appended; any root or proof then needs O(log n) of them.
    """

    __tablename__ = "log_node"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 62 AND start >= 0 "
                                      "AND start % (CAST(1 AS BIGINT) << level) = 0", name="ck_log_node_aligned"),)

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    start: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(max_length=64)


class LogPending(SQLModel, table=True):
    """A certificate signed but not yet in the log: written with the certificate, removed when the sequencer
    appends it (``log.merge``). The log's merge queue, as a Certificate Transparency log's pending entries."""

    __tablename__ = "log_pending"

    certificate_id: int = Field(foreign_key="certificate.id", primary_key=True,
                                sa_column_kwargs={"autoincrement": False})
    queued_at: datetime = Field(sa_type=UTCDateTime)


class LogHead(SQLModel, table=True):
    """The log's size, a single row: only the sequencer locks it, so leaf indexes are dense and appends linear."""

    __tablename__ = "log_head"
    __table_args__ = (CheckConstraint("id = 1 AND tree_size >= 0", name="ck_log_head_single"),)

    id: int = Field(default=1, primary_key=True)
    tree_size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class TreeHead(SQLModel, table=True):
    """A signed tree head (STH), one per batch the sequencer appended: the sizes the log has had.

    ``signature`` is Ed25519 by the key ``kid`` over RFC 6962 §3.5's TreeHeadSignature: version 0 (v1),
    signature_type 1 (tree_hash), uint64 timestamp (ms since the epoch), uint64 tree_size, the 32-byte root.
    """

    __tablename__ = "log_tree_head"
    __table_args__ = (CheckConstraint("tree_size >= 0", name="ck_log_tree_head_size"),
                      CheckConstraint("previous_size >= 0 AND previous_size < tree_size",
                                      name="ck_log_tree_head_previous"))

    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    previous_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    """The size of the head signed before this one (0 for the first): heads are signed per appended batch, so
    this chains them, and a head removed from between two others is noticed (``verify.check_log``)."""
    root_hash: str = Field(max_length=64)
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    signature: str = Field(max_length=128)
    kid: str = Field(max_length=64)
