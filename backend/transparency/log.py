"""The certificate transparency log: an append-only RFC 6962 Merkle tree of certificate digests.

Each certificate becomes leaf n (dense: 0, 1, 2 …) in the certificate's own transaction, its leaf hash being
SHA-256(0x00 || the 32-byte SHA-256 of the certificate's canonical payload). Appending stores the perfect
subtree nodes the new leaf completes (one on average) and a signed tree head for the new size, so every size the
log has had has an STH, and any root or proof is O(log n) stored hashes, never a walk over the leaves.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, literal, select, tuple_, union_all, update
from sqlmodel import Session

from backend.certificates.keys import KeyRing
from backend.certificates.models import Certificate
from backend.errors import InvalidInput, NotFound
from backend.transparency import merkle
from backend.transparency.models import LogEntry, LogHead, LogNode, TreeHead

PAGE_LIMIT = 1000  # entries per get-entries answer, as CT logs cap theirs

_head, _entry, _node, _tree_head = LogHead.__table__, LogEntry.__table__, LogNode.__table__, TreeHead.__table__
_GROW = update(_head).where(_head.c.id == 1).values(tree_size=_head.c.tree_size + 1).returning(_head.c.tree_size)
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


def append(session: Session, now: datetime, certificate_id: int, payload_sha256_hex: str,
           ring: KeyRing) -> TreeHead:
    """Add a certificate's digest as the next leaf and sign the new tree head, in the caller's transaction."""
    connection = session.connection()
    index = connection.execute(_GROW).scalar_one() - 1  # locks the head: appends are serialised
    frontier = merkle.subtrees(0, index)
    known = stored_hashes(session, frontier)
    leaf = leaf_for(payload_sha256_hex)
    connection.execute(_INSERT_ENTRY, {"leaf_index": index, "certificate_id": certificate_id, "leaf_hash": leaf.hex()})
    # The new leaf completes the perfect subtrees at the frontier's right end that are its size, doubling.
    stack = [(r, known[r]) for r in frontier]
    current, digest = (index, index + 1), leaf
    completed = []
    while stack and stack[-1][0][1] - stack[-1][0][0] == current[1] - current[0]:
        (start, _), left = stack.pop()
        current, digest = (start, current[1]), merkle.node_hash(left, digest)
        completed.append({"level": _level(current[1] - current[0]), "start": start, "hash": digest.hex()})
    if completed:
        connection.execute(_INSERT_NODE, completed)
    root = merkle.fold([h for _, h in stack] + [digest])
    # ``now`` was read before this transaction waited for the head: never let a larger tree carry an earlier
    # time than the one before it (monitors read a step back in time as misbehaviour).
    previous = connection.execute(_PREVIOUS_TIMESTAMP, {"size": index}).scalar_one_or_none() if index else None
    return _sign_and_store(session, ring, index + 1, root, max(milliseconds(now), previous or 0))


def _sign_and_store(session: Session, ring: KeyRing, tree_size: int, root: bytes, timestamp: int) -> TreeHead:
    values = {"tree_size": tree_size, "root_hash": root.hex(), "timestamp": timestamp,
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
        raise InvalidInput(field, f"日志没有过大小 {tree_size} 的树 (the log has had no tree of size {tree_size})")
    return head


def inclusion(session: Session, certificate_number: str, tree_size: int | None = None) -> dict[str, Any]:
    """The certificate's audit path to the root of the tree of ``tree_size`` (default: the newest STH)."""
    found = session.execute(select(LogEntry.leaf_index, LogEntry.leaf_hash)
                            .join(Certificate, Certificate.id == LogEntry.certificate_id)
                            .where(Certificate.number == certificate_number)).first()
    if found is None:
        raise NotFound("证书不存在 (no such certificate)")
    index, leaf = found
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


class LogCorrupted(Exception):
    """Stored log nodes are missing: a damaged database, reported by ``log verify``; never a user's mistake."""
