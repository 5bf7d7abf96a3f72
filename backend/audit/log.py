"""Write audit events, seal them into the chain, verify it.

Each sealed event's hash covers its content, its place ``seq`` and the previous event's hash, so changing,
removing or reordering any sealed event breaks every later link.

Why events are chained after commit, not as they are written (issue 17): chaining in the writing transaction means
locking the chain's single head row until commit, so every ledger operation of every process queued on one row and
more workers made the product slower. Now a transaction writes its events unsealed (one INSERT, no lock), and one
sealer at a time (``seal``, run by ``backend.sequencer`` every SEQUENCER_INTERVAL_MS) chains what has committed, in
the order it finds it, under the head's lock, which nothing else takes. The chain then proves the order and the
integrity of everything sealed; an event not yet sealed is protected only by the database until the sealer reaches
it (normally within a second), and ``verify`` reports events left unsealed longer than SEAL_DELAY_SECONDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from backend.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from backend.canonical import sha256_hex
from backend.clock import as_utc, isoformat_utc

SEAL_BATCH = 5000  # events per sealing transaction

_head = AuditHead.__table__
_event = AuditEvent.__table__
# Built once: writing an event is on the path of every ledger operation.
_INSERT_EVENT = insert(_event)
_CONTENT = (_event.c.id, _event.c.at, _event.c.actor, _event.c.action, _event.c.object_type, _event.c.object_id,
            _event.c.before, _event.c.after)
# SKIP LOCKED: a second sealer (another process's sequencer) leaves the work to the one already at it.
_LOCK_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update(skip_locked=True)
_UNSEALED = select(*_CONTENT).where(_event.c.seq.is_(None)).order_by(_event.c.id).limit(bindparam("limit"))
_SEAL = (update(_event).where(_event.c.id == bindparam("event_id"), _event.c.seq.is_(None))
         .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev_hash"), hash=bindparam("new_hash")))
_ADVANCE_HEAD = update(_head).where(_head.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
_UNSEALED_SUMMARY = select(func.count(), func.min(_event.c.at), func.min(_event.c.id)).where(_event.c.seq.is_(None))


def event_hash(*, seq: int, at: datetime, actor: str, action: str, object_type: str, object_id: str,
               before: Any, after: Any, prev_hash: str) -> str:
    return sha256_hex({"seq": seq, "at": isoformat_utc(at), "actor": actor, "action": action,
                       "object_type": object_type, "object_id": object_id, "before": before,
                       "after": after, "prev_hash": prev_hash})


def append(session: Session, at: datetime, *, actor: str, action: str, object_type: str, object_id: Any,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Write one event, unsealed, in the caller's transaction (it commits or rolls back with the change)."""
    session.connection().execute(_INSERT_EVENT, {"at": at, "actor": actor, "action": action,
                                                 "object_type": object_type, "object_id": str(object_id),
                                                 "before": before, "after": after})


def append_changes(session: Session, at: datetime, *, actor: str, action: str, object_type: str, object_id: Any,
                   before: dict[str, Any], after: dict[str, Any]) -> bool:
    """An event naming only the fields that changed, each before and after; none (False) when nothing did — a
    repeated PATCH leaves no trace of a change that did not happen."""
    changed = [name for name in after if before.get(name) != after[name]]
    if not changed:
        return False
    append(session, at, actor=actor, action=action, object_type=object_type, object_id=object_id,
           before={name: before.get(name) for name in changed}, after={name: after[name] for name in changed})
    return True


def seal(session: Session, *, limit: int = SEAL_BATCH) -> int:
    """Chain up to ``limit`` committed unsealed events to the tip, oldest id first; the number sealed (0 when
    another sealer holds the head). The caller commits."""
    connection = session.connection()
    head = connection.execute(_LOCK_HEAD).first()
    if head is None:
        return 0
    seq, prev_hash = head
    seals = []
    for event_id, at, actor, action, object_type, object_id, before, after in connection.execute(
            _UNSEALED, {"limit": limit}):
        seq += 1
        digest = event_hash(seq=seq, at=at, actor=actor, action=action, object_type=object_type,
                            object_id=object_id, before=before, after=after, prev_hash=prev_hash)
        seals.append({"event_id": event_id, "new_seq": seq, "new_prev_hash": prev_hash, "new_hash": digest})
        prev_hash = digest
    if seals:
        if connection.execute(_SEAL, seals).rowcount != len(seals):  # never move the head past a gap
            raise RuntimeError("audit seal: an event was sealed by someone else meanwhile; nothing sealed")
        connection.execute(_ADVANCE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
    return len(seals)


@dataclass(frozen=True)
class Unsealed:
    count: int
    oldest_at: datetime | None
    oldest_id: int | None

    def age_seconds(self, now: datetime) -> float | None:
        return None if self.oldest_at is None else (now - as_utc(self.oldest_at)).total_seconds()


def unsealed(session: Session) -> Unsealed:
    count, oldest_at, oldest_id = session.connection().execute(_UNSEALED_SUMMARY).one()
    return Unsealed(count, oldest_at, oldest_id)


@dataclass(frozen=True)
class ChainReport:
    length: int
    broken_at: int | None = None
    problem: str | None = None
    unsealed: Unsealed = Unsealed(0, None, None)
    overdue: str | None = None
    """Set when an event has waited longer than the sealing delay: the sealer is not running (not tampering)."""

    @property
    def ok(self) -> bool:
        return self.broken_at is None and self.overdue is None


def verify(session: Session, *, page: int = 5000, now: datetime | None = None,
           delay_seconds: float | None = None, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Walk the sealed chain from the start; name the first event whose link or content does not hold. With
    ``now`` and ``delay_seconds``, an event left unsealed for longer than the delay is reported too; ``progress``
    hears the last seq checked after each page."""
    waiting = unsealed(session)
    report = _walk(session, page, progress)
    if report.broken_at is None and now is not None and delay_seconds is not None and waiting.count:
        age = waiting.age_seconds(now)
        if age > delay_seconds:
            return ChainReport(report.length, unsealed=waiting, overdue=(
                f"{waiting.count} event(s) unsealed, the oldest (id {waiting.oldest_id}) for {age:.0f} s, longer "
                f"than the sealing delay of {delay_seconds:g} s: is the sequencer running?"))
    return ChainReport(report.length, report.broken_at, report.problem, waiting)


def _walk(session: Session, page: int, progress: Callable[[int], None] | None = None) -> ChainReport:
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
        if progress is not None:
            progress(last_seq)
    head = session.get(AuditHead, 1)
    if head is None or head.seq != last_seq or head.hash != expected_prev:
        return ChainReport(last_seq, last_seq + 1, "audit_head does not point at the last event "
                           "(an event at the end was removed, or the head was altered)")
    return ChainReport(last_seq)


def recent(session: Session, *, limit: int, before: int | None = None) -> list[AuditEvent]:
    """Sealed events newest first; ``before`` pages on from a seq. (Seal first to include what just committed.)"""
    statement = select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq.desc()).limit(limit)
    if before is not None:
        statement = statement.where(AuditEvent.seq < before)
    return list(session.execute(statement).scalars())


def event_view(event: AuditEvent) -> dict[str, Any]:
    return {"seq": event.seq, "at": isoformat_utc(event.at), "actor": event.actor, "action": event.action,
            "object": f"{event.object_type}:{event.object_id}", "before": event.before, "after": event.after,
            "hash": event.hash}
