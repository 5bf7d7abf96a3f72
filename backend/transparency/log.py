"""The certificate transparency log: an append-only RFC 6962 Merkle tree of certificate digests.

Each certificate becomes leaf n (dense: 0, 1, 2 …), its leaf hash being SHA-256(0x00 || the 32-byte SHA-256 of
the certificate's canonical payload). A certificate is signed and valid at once; its transaction only queues it
(``log_pending``), and the sequencer (``backend.sequencer``, every SEQUENCER_INTERVAL_MS) appends what is queued
in one batch with one signed tree head, as Certificate Transparency logs merge within their maximum merge delay:
appending in the certificate's transaction made every retirement queue on the log's head row (issue 17). Until
then the certificate's inclusion proof is "pending". Appending stores the perfect subtree nodes the new leaves
complete (one per leaf on average) and an STH for the batch's size; any root or proof is O(log n) stored hashes,
never a walk over the leaves.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, select, tuple_, union_all, update
from sqlmodel import Session

from backend.certificates.keys import KeyRing
from backend.certificates.models import Certificate
from backend.clock import isoformat_utc
from backend.db import atomic
from backend.errors import Conflict, DomainError, InvalidInput, NotFound
from backend.transparency import merkle
from backend.transparency.models import LogEntry, LogHead, LogNode, LogPending, TreeHead

PAGE_LIMIT = 1000  # entries per get-entries answer, as CT logs cap theirs
MERGE_BATCH = 2000  # certificates appended per tree head

_head, _entry, _node, _tree_head = LogHead.__table__, LogEntry.__table__, LogNode.__table__, TreeHead.__table__
_pending = LogPending.__table__
# SKIP LOCKED: a second sequencer (another process's) leaves the work to the one already at it.
_LOCK_HEAD = select(_head.c.tree_size).where(_head.c.id == 1).with_for_update(skip_locked=True)
_GROW = update(_head).where(_head.c.id == 1).values(tree_size=bindparam("new_size"))
_PENDING = (select(_pending.c.certificate_id, Certificate.__table__.c.payload_sha256, _entry.c.leaf_index)
            .join(Certificate.__table__, Certificate.__table__.c.id == _pending.c.certificate_id)
            .outerjoin(_entry, _entry.c.certificate_id == _pending.c.certificate_id)
            .order_by(_pending.c.certificate_id).limit(bindparam("limit")))
_DEQUEUE = delete(_pending).where(_pending.c.certificate_id.in_(bindparam("ids", expanding=True)))
_PENDING_SUMMARY = select(func.count(), func.min(_pending.c.queued_at))
_INSERT_ENTRY = insert(_entry)
_INSERT_NODE = insert(_node)
_INSERT_TREE_HEAD = insert(_tree_head)
_PREVIOUS_TIMESTAMP = select(_tree_head.c.timestamp).where(_tree_head.c.tree_size == bindparam("size"))

Range = tuple[int, int]


def tree_head_message(timestamp_ms: int, tree_size: int, root: bytes) -> bytes:
    """RFC 6962 §3.5 TreeHeadSignature: version v1 (0), signature_type tree_hash (1), timestamp, size, root."""
    return struct.pack(">BBQQ", 0, 1, timestamp_ms, tree_size) + root


def leaf_for(payload_sha256_hex: str) -> bytes:
    return merkle.leaf_hash(bytes.fromhex(payload_sha256_hex))


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _level(width: int) -> int:
    return width.bit_length() - 1


def stored_hashes(session: Session, ranges: Iterable[Range]) -> dict[Range, bytes]:
    """The stored hash of each perfect subtree in ``ranges``: leaves from log_entry, larger ones from log_node."""
    leaves = sorted({a for a, b in ranges if b - a == 1})
    nodes = sorted({(_level(b - a), a) for a, b in ranges if b - a > 1})
    parts = []
    if leaves:
        parts.append(select(literal(0).label("level"), _entry.c.leaf_index.label("start"),
                            _entry.c.leaf_hash.label("hash")).where(_entry.c.leaf_index.in_(leaves)))
    if nodes:
        parts.append(select(_node.c.level, _node.c.start, _node.c.hash)
                     .where(tuple_(_node.c.level, _node.c.start).in_(nodes)))
    if not parts:
        return {}
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    found = {(start, start + (1 << level)): bytes.fromhex(digest)
             for level, start, digest in session.connection().execute(query)}
    missing = set(ranges) - set(found)
    if missing:  # the tables were damaged: say where rather than hand out a wrong proof
        raise LogCorrupted(f"transparency log nodes missing: {sorted(missing)[:5]}")
    return found


def _range_hashes(session: Session, ranges: list[Range]) -> list[bytes]:
    """MTH of each range (perfect or not), from the stored perfect subtrees they are made of."""
    parts = {r: merkle.subtrees(*r) for r in ranges}
    known = stored_hashes(session, {p for pieces in parts.values() for p in pieces})
    return [merkle.fold([known[p] for p in parts[r]]) for r in ranges]


def root_at(session: Session, tree_size: int) -> bytes:
    return merkle.fold(_range_hashes(session, merkle.subtrees(0, tree_size))) if tree_size else merkle.EMPTY_ROOT


def merge(session: Session, now: datetime, ring: KeyRing, *, limit: int = MERGE_BATCH) -> int:
    """Append up to ``limit`` queued certificates (oldest first) as the next leaves and sign one tree head for the
    new size; the number appended (0 when another sequencer holds the head). The caller commits."""
    connection = session.connection()
    head = connection.execute(_LOCK_HEAD).first()
    if head is None:
        return 0
    queued = connection.execute(_PENDING, {"limit": limit}).all()
    if not queued:
        return 0
    # A queued certificate already in the log (a crash between append and dequeue cannot leave one — both are in
    # this transaction — but a hand-edited queue could) is only taken off the queue: one bad row never blocks the log.
    pending = [(certificate_id, digest) for certificate_id, digest, index in queued if index is None]
    if not pending:
        connection.execute(_DEQUEUE, {"ids": [certificate_id for certificate_id, _, _ in queued]})
        return 0
    size = head.tree_size
    frontier = merkle.subtrees(0, size)
    known = stored_hashes(session, frontier)
    # Each new leaf completes the perfect subtrees at the frontier's right end that are its size, doubling.
    stack = [(r, known[r]) for r in frontier]
    entries, completed = [], []
    for index, (certificate_id, digest_hex) in enumerate(pending, start=size):
        leaf = leaf_for(digest_hex)
        entries.append({"leaf_index": index, "certificate_id": certificate_id, "leaf_hash": leaf.hex()})
        current, digest = (index, index + 1), leaf
        while stack and stack[-1][0][1] - stack[-1][0][0] == current[1] - current[0]:
            (start, _), left = stack.pop()
            current, digest = (start, current[1]), merkle.node_hash(left, digest)
            completed.append({"level": _level(current[1] - current[0]), "start": start, "hash": digest.hex()})
        stack.append((current, digest))
    connection.execute(_INSERT_ENTRY, entries)
    if completed:
        connection.execute(_INSERT_NODE, completed)
    # After the entries: on PostgreSQL a queued certificate may leave the queue only once it is in the log (0013).
    connection.execute(_DEQUEUE, {"ids": [certificate_id for certificate_id, _, _ in queued]})
    new_size = size + len(pending)
    connection.execute(_GROW, {"new_size": new_size})
    root = merkle.fold([h for _, h in stack])
    # Never let a larger tree carry an earlier time than the one before it (monitors read a step back in time as
    # misbehaviour); a test's clock may go back.
    previous = connection.execute(_PREVIOUS_TIMESTAMP, {"size": size}).scalar_one_or_none() if size else None
    _sign_and_store(session, ring, new_size, root, max(milliseconds(now), previous or 0), previous_size=size)
    return len(pending)


def merge_now(ring: KeyRing, now: datetime) -> int:
    """Append what is queued, in a transaction of its own: for a reader asking for the proof of a certificate the
    sequencer has not reached yet. 0 when another merge is under way (it never waits for one): answer pending."""
    return atomic(lambda session: merge(session, now, ring))


def pending_since(session: Session) -> tuple[int, datetime | None]:
    """How many certificates wait for the log, and since when the oldest has."""
    return tuple(session.connection().execute(_PENDING_SUMMARY).one())


def _sign_and_store(session: Session, ring: KeyRing, tree_size: int, root: bytes, timestamp: int, *,
                    previous_size: int) -> TreeHead:
    values = {"tree_size": tree_size, "previous_size": previous_size, "root_hash": root.hex(),
              "timestamp": timestamp,
              "signature": ring.sign_bytes(tree_head_message(timestamp, tree_size, root)).hex(), "kid": ring.kid}
    session.connection().execute(_INSERT_TREE_HEAD, values)
    return TreeHead.model_construct(**values)


def latest_tree_head(session: Session) -> TreeHead | None:
    return session.execute(select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1)).scalar_one_or_none()


def tree_head_at(session: Session, tree_size: int) -> TreeHead | None:
    return session.get(TreeHead, tree_size)


def sth_view(head: TreeHead) -> dict[str, Any]:
    return {"tree_size": head.tree_size, "root_hash": head.root_hash, "timestamp": head.timestamp,
            "signature": head.signature, "kid": head.kid}


def current_sth(session: Session, ring: KeyRing, now: datetime) -> dict[str, Any]:
    """The newest signed tree head; an empty log's head is signed on request (there is nothing to store)."""
    head = latest_tree_head(session)
    if head is None:
        timestamp = milliseconds(now)
        return {"tree_size": 0, "root_hash": merkle.EMPTY_ROOT.hex(), "timestamp": timestamp,
                "signature": ring.sign_bytes(tree_head_message(timestamp, 0, merkle.EMPTY_ROOT)).hex(),
                "kid": ring.kid}
    return sth_view(head)


def _size_now(session: Session) -> int:
    return session.execute(select(LogHead.tree_size).where(LogHead.id == 1)).scalar_one()


def entries(session: Session, start: int, end: int) -> list[dict[str, Any]]:
    """RFC 6962 get-entries: leaves ``start`` to ``end`` inclusive, at most PAGE_LIMIT, cut at the log's end."""
    size = _size_now(session)
    if start >= size:
        raise InvalidInput("start", f"超出日志大小 {size} (beyond the log's size, {size})")
    end = min(end, size - 1, start + PAGE_LIMIT - 1)
    rows = session.execute(select(LogEntry.leaf_index, Certificate.number, LogEntry.leaf_hash,
                                  Certificate.payload_sha256)
                           .join(Certificate, Certificate.id == LogEntry.certificate_id)
                           .where(LogEntry.leaf_index.between(start, end)).order_by(LogEntry.leaf_index))
    return [{"leaf_index": index, "certificate_no": number, "leaf_hash": leaf, "certificate_sha256": digest}
            for index, number, leaf, digest in rows]


def _signed_size(session: Session, tree_size: int | None, field: str) -> TreeHead:
    head = latest_tree_head(session) if tree_size is None else tree_head_at(session, tree_size)
    if head is None:
        if tree_size is None:
            raise NotFound("透明日志为空 (the log is empty)")
        raise InvalidInput(field, f"日志没有大小为 {tree_size} 的签名树头 (the log has signed no tree head of size "
                                  f"{tree_size}: heads are signed per appended batch)")
    return head


def inclusion(session: Session, certificate_number: str, tree_size: int | None = None) -> dict[str, Any]:
    """The certificate's audit path to the root of the tree of ``tree_size`` (default: the newest STH)."""
    found = session.execute(select(LogEntry.leaf_index, LogEntry.leaf_hash, LogPending.queued_at)
                            .select_from(Certificate)
                            .outerjoin(LogEntry, Certificate.id == LogEntry.certificate_id)
                            .outerjoin(LogPending, Certificate.id == LogPending.certificate_id)
                            .where(Certificate.number == certificate_number)).first()
    if found is None:
        raise NotFound("证书不存在 (no such certificate)")
    index, leaf, queued_at = found
    if index is None:
        if queued_at is None:  # taken off the queue without being appended: never "pending" for ever
            raise LogCorrupted(f"certificate {certificate_number} is neither in the log nor queued for it")
        raise InclusionPending(certificate_number, queued_at)
    head = _signed_size(session, tree_size, "tree_size")
    if index >= head.tree_size:
        raise InvalidInput("tree_size", f"该大小的树尚不含此证书 (the certificate is leaf {index}, after size "
                                        f"{head.tree_size})")
    path = _range_hashes(session, merkle.inclusion_ranges(index, head.tree_size))
    return {"leaf_index": index, "tree_size": head.tree_size, "leaf_hash": leaf,
            "audit_path": [h.hex() for h in path], "root_hash": head.root_hash, "sth": sth_view(head)}


def consistency(session: Session, first: int, second: int | None = None) -> dict[str, Any]:
    """PROOF(first, D[second]) between two sizes the log has had (default second: the newest STH)."""
    new = _signed_size(session, second, "second")
    old = _signed_size(session, first, "first")
    if old.tree_size > new.tree_size:
        raise InvalidInput("first", "不能大于 second (must not exceed second)")
    proof = _range_hashes(session, merkle.consistency_ranges(old.tree_size, new.tree_size))
    return {"first": old.tree_size, "second": new.tree_size, "first_root_hash": old.root_hash,
            "second_root_hash": new.root_hash, "consistency": [h.hex() for h in proof]}


class InclusionPending(Conflict):
    """The certificate is signed and valid but the sequencer has not appended it to the log yet (within seconds)."""

    code = "inclusion_pending"

    def __init__(self, number: str, queued_at: datetime) -> None:
        super().__init__("证书已签发，正在写入透明日志，请稍后再查 (the certificate is valid; its inclusion in the "
                         "transparency log is pending, normally within seconds)",
                         details={"certificate_no": number, "queued_at": isoformat_utc(queued_at)})


class LogCorrupted(DomainError):
    """Stored log rows are missing (nodes, or a certificate neither logged nor queued): a damaged database,
    reported by ``log verify``; never a user's mistake. 503: the log cannot answer for it until repaired."""

    status = 503
    code = "log_damaged"

    def __init__(self, problem: str) -> None:
        super().__init__(f"透明日志数据受损，无法给出证明 (the transparency log is damaged: {problem})")
