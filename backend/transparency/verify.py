"""Checking the whole transparency log against the certificates it was built from.

The leaves are rebuilt from the certificates' payload digests and the tree from the leaves, one append at a
time, exactly as ``log.append`` grows it. Then every stored leaf, node and signed tree head must equal what
the rebuild says, and with a JWKS every tree head's signature must verify. A removed, reordered or altered
entry, a forged node or a rewritten tree head each shows up as a named violation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.keys import verify_bytes
from backend.certificates.models import Certificate
from backend.ledger.violation import Violation
from backend.transparency import merkle
from backend.transparency.log import leaf_for, tree_head_message
from backend.transparency.models import LogEntry, LogHead, LogNode, TreeHead

RULE = "transparency_log"


def check_log(session: Session, jwks: dict[str, Any] | None = None) -> list[Violation]:
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
    for certificate_id in sorted(set(digests) - {row.certificate_id for row in stored}):
        violation(f"certificate {numbers[certificate_id]} is not in the log")

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
    for tree_size in sorted(set(roots) - set(heads)):
        violation(f"no signed tree head for size {tree_size}")
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
