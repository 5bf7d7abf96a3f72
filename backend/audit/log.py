"""Append to the audit chain and verify it.

Each event's hash covers its content and the previous event's hash, so changing, removing or reordering any
event breaks every later link. Appending locks the single ``audit_head`` row until commit, so the chain stays
linear; ledger operations append as their last step, after their account locks, so the head is held briefly and
always taken last (batch creation appends before it issues, but then locks only the new batch's own accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from backend.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from backend.canonical import sha256_hex
from backend.clock import isoformat_utc

_head = AuditHead.__table__
_event = AuditEvent.__table__
# Built once: appending is on the path of every ledger operation.
_LOCK_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update()
_INSERT_EVENT = insert(_event)
_ADVANCE_HEAD = update(_head).where(_head.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))


def event_hash(*, seq: int, at: datetime, actor: str, action: str, object_type: str, object_id: str,
               before: Any, after: Any, prev_hash: str) -> str:
    return sha256_hex({"seq": seq, "at": isoformat_utc(at), "actor": actor, "action": action,
                       "object_type": object_type, "object_id": object_id, "before": before,
                       "after": after, "prev_hash": prev_hash})


def lock_head(session: Session) -> None:
    """Take the chain's head now, before any other lock the transaction will need (see ledger.operations)."""
    session.connection().execute(_LOCK_HEAD).one()


def append(session: Session, at: datetime, *, actor: str, action: str, object_type: str, object_id: Any,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> str:
    """Chain one event to the tip and return its hash."""
    connection = session.connection()
    seq, prev_hash = connection.execute(_LOCK_HEAD).one()
    fields = dict(seq=seq + 1, at=at, actor=actor, action=action, object_type=object_type,
                  object_id=str(object_id), before=before, after=after, prev_hash=prev_hash)
    fields["hash"] = event_hash(**fields)
    connection.execute(_INSERT_EVENT, fields)
    connection.execute(_ADVANCE_HEAD, {"new_seq": fields["seq"], "new_hash": fields["hash"]})
    return fields["hash"]
@dataclass(frozen=True)
class ChainReport:
    length: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(session: Session, *, page: int = 5000) -> ChainReport:
    """Walk the chain from the start; name the first event whose link or content does not hold."""
    expected_prev, expected_seq, last_seq = GENESIS_HASH, 1, 0
    while True:
        events = session.execute(select(AuditEvent).where(AuditEvent.seq > last_seq)
                                 .order_by(AuditEvent.seq).limit(page)).scalars().all()
        if not events:
            break
        for event in events:
            if event.seq != expected_seq:
                return ChainReport(last_seq, expected_seq, f"event {expected_seq} is missing (next is {event.seq})")
            if event.prev_hash != expected_prev:
                return ChainReport(last_seq, event.seq,
                                   f"event {event.seq}: prev_hash does not match the hash of event {event.seq - 1}")
            recomputed = event_hash(seq=event.seq, at=event.at, actor=event.actor, action=event.action,
                                    object_type=event.object_type, object_id=event.object_id,
                                    before=event.before, after=event.after, prev_hash=event.prev_hash)
            if recomputed != event.hash:
                return ChainReport(last_seq, event.seq,
                                   f"event {event.seq} ({event.action} {event.object_type} {event.object_id}): "
                                   "content does not match its hash")
            expected_prev, expected_seq, last_seq = event.hash, event.seq + 1, event.seq
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is None or head.seq != last_seq or head.hash != expected_prev:
        return ChainReport(last_seq, last_seq + 1, "audit_head does not point at the last event "
                           "(an event at the end was removed, or the head was altered)")
    return ChainReport(last_seq)


def recent(session: Session, *, limit: int, before: int | None = None) -> list[AuditEvent]:
    """Events newest first; ``before`` pages on from a seq."""
    statement = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before is not None:
        statement = statement.where(AuditEvent.seq < before)
    return list(session.execute(statement).scalars())


def event_view(event: AuditEvent) -> dict[str, Any]:
    return {"seq": event.seq, "at": isoformat_utc(event.at), "actor": event.actor, "action": event.action,
            "object": f"{event.object_type}:{event.object_id}", "before": event.before, "after": event.after,
            "hash": event.hash}
