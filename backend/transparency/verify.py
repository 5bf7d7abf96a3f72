"""Checking the whole transparency log against the certificates it was built from.

The leaves are rebuilt from the certificates' payload digests and the tree from the leaves, one leaf at a
time, exactly as ``log.merge`` grows it. Then every stored leaf, node and signed tree head must equal what
the rebuild says (a head per merged batch, the log's current size included), every certificate must be in the
log or queued for it, and with a JWKS every tree head's signature must verify. A removed, reordered or altered
entry, a forged node or a rewritten tree head each shows up as a named violation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.keys import verify_bytes
from backend.certificates.models import Certificate
from backend.ledger.violation import Violation
from backend.transparency import merkle
from backend.transparency.log import leaf_for, tree_head_message
from backend.clock import as_utc
from backend.transparency.models import LogEntry, LogHead, LogNode, LogPending, TreeHead

RULE = "transparency_log"


def check_log(session: Session, jwks: dict[str, Any] | None = None, *, now: datetime | None = None,
              delay_seconds: float | None = None) -> list[Violation]:
    """Every violation found; with ``now`` and ``delay_seconds``, also a certificate that has waited for the log
    longer than the merge delay (the sequencer is not running)."""
    found: list[Violation] = []

    def violation(message: str) -> None:
        found.append(Violation(RULE, message))

    size = session.execute(select(LogHead.tree_size).where(LogHead.id == 1)).scalar_one_or_none()
    if size is None:
        return [Violation(RULE, "log_head is missing")]
    digests = dict(session.execute(select(Certificate.id, Certificate.payload_sha256)).all())
    numbers = dict(session.execute(select(Certificate.id, Certificate.number)).all())
    stored = session.execute(select(LogEntry.leaf_index, LogEntry.certificate_id, LogEntry.leaf_hash)
                             .order_by(LogEntry.leaf_index)).all()
    if len(stored) != size or (stored and stored[-1].leaf_index != size - 1):
        violation(f"log_head says {size} leaves, the log holds {len(stored)}"
                  + (f" ending at index {stored[-1].leaf_index}" if stored else ""))
    queued = dict(session.execute(select(LogPending.certificate_id, LogPending.queued_at)).all())
    for certificate_id in sorted(set(queued) & {row.certificate_id for row in stored}):
        violation(f"certificate {numbers.get(certificate_id, certificate_id)} is in the log and still queued for it")
    for certificate_id in sorted(set(digests) - {row.certificate_id for row in stored} - set(queued)):
        violation(f"certificate {numbers[certificate_id]} is not in the log, nor queued for it")
    if now is not None and delay_seconds is not None and queued:
        oldest = min(queued, key=lambda certificate_id: (as_utc(queued[certificate_id]), certificate_id))
        waited = (now - as_utc(queued[oldest])).total_seconds()
        if waited > delay_seconds:
            violation(f"{len(queued)} certificate(s) wait for the log, {numbers.get(oldest, oldest)} for "
                      f"{waited:.0f} s, longer than the merge delay of {delay_seconds:g} s: is the sequencer running?")

    # The leaves the certificates say the log must hold, in the stored order.
    leaves: list[bytes] = []
    for position, (index, certificate_id, leaf_hash) in enumerate(stored):
        if index != position:
            violation(f"leaf {position} is missing (the next stored leaf is {index})")
            break
        digest = digests.get(certificate_id)
        if digest is None:
            violation(f"leaf {index} names certificate id {certificate_id}, which does not exist")
            break
        expected = leaf_for(digest)
        if leaf_hash != expected.hex():
            violation(f"leaf {index} (certificate {numbers[certificate_id]}) is {leaf_hash}, "
                      f"the certificate's digest gives {expected.hex()}")
        leaves.append(expected)

    # Grow the tree leaf by leaf: the nodes each append completes, and the root at every size.
    nodes: dict[tuple[int, int], str] = {}
    roots: dict[int, str] = {}
    stack: list[tuple[int, int, bytes]] = []  # (start, width, hash) of the frontier's perfect subtrees
    for index, leaf in enumerate(leaves):
        start, width, digest = index, 1, leaf
        while stack and stack[-1][1] == width:
            start, _, left = stack.pop()
            width, digest = width * 2, merkle.node_hash(left, digest)
            nodes[(width.bit_length() - 1, start)] = digest.hex()
        stack.append((start, width, digest))
        roots[index + 1] = merkle.fold([h for _, _, h in stack]).hex()

    for node in session.execute(select(LogNode)).scalars():
        expected = nodes.pop((node.level, node.start), None)
        if expected is None:
            violation(f"node level {node.level} at leaf {node.start} is not part of the log")
        elif node.hash != expected:
            violation(f"node level {node.level} at leaf {node.start} is {node.hash}, the leaves give {expected}")
    for level, start in sorted(nodes):
        violation(f"node level {level} at leaf {start} is missing")

    heads = {head.tree_size: head for head in session.execute(select(TreeHead)).scalars()}
    if leaves and len(leaves) not in heads:  # heads are signed per appended batch, the last one always
        violation(f"no signed tree head for the log's size {len(leaves)}")
    signed_before = 0  # each head names the one before it: a head removed from between two others shows
    for tree_size in sorted(heads):
        if heads[tree_size].previous_size != signed_before:
            violation(f"signed tree head {tree_size} follows the head of size {heads[tree_size].previous_size}, "
                      f"which is not the head before it ({signed_before})")
        signed_before = tree_size
    for tree_size, head in sorted(heads.items()):
        expected = roots.get(tree_size)
        if expected is None:
            violation(f"signed tree head for size {tree_size}, beyond the log's {len(leaves)} leaves")
        elif head.root_hash != expected:
            violation(f"signed tree head {tree_size} has root {head.root_hash}, the leaves give {expected}")
        elif jwks is not None:
            try:
                verify_bytes(tree_head_message(head.timestamp, tree_size, bytes.fromhex(head.root_hash)),
                             bytes.fromhex(head.signature), head.kid, jwks)
            except ValueError as error:
                violation(f"signed tree head {tree_size}: {error}")
    return found
