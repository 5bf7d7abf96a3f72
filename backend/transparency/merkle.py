"""RFC 6962 Merkle tree hashing and proofs, as pure functions over a list of leaf hashes.

Leaves are hashed ``SHA-256(0x00 || data)`` and interior nodes ``SHA-256(0x01 || left || right)``, so a leaf can
never pass for a node. A tree of n leaves splits at the largest power of two below n (RFC 6962 §2.1). Proofs
are generated as RFC 6962 §2.1.1–2.1.2 define them and verified with the iterative algorithms of RFC 9162
§2.1.3.2 and §2.1.4.2, which is what outside verifiers (Certificate Transparency clients) run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect, aligned subtrees [a, b) that MTH(D[start:end]) is built from, left to right.

    Every left child in the RFC 6962 recursion is a perfect subtree of 2**k leaves starting at a multiple of
    2**k, so a log that stores those nodes answers any root or proof with O(log n) look-ups. ``start`` must be a
    range the recursion produces (the whole tree, or a range from ``inclusion_ranges``/``consistency_ranges``).
    """
    found = []
    while end > start:
        n = end - start
        if n & (n - 1) == 0:
            found.append((start, end))
            break
        k = _split(n)
        found.append((start, start + k))
        start += k
    return found


def fold(perfect: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of its ``subtrees``: node(a, node(b, node(c, …)))."""
    if not perfect:
        return EMPTY_ROOT
    result = perfect[-1]
    for left in reversed(perfect[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make PATH(index, D[size]), bottom-up (RFC 6962 §2.1.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside a tree of {size}")
    path = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    return path[::-1]


def consistency_ranges(first: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make PROOF(first, D[size]), bottom-up (RFC 6962 §2.1.2)."""
    if not 0 < first <= size:
        raise ValueError(f"cannot prove {first} consistent with a tree of {size}")
    path = []
    start, end, m, complete = 0, size, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        path.append((start, end))
    return path[::-1]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes held in memory."""
    return _range_root(leaves, 0, len(leaves))


def _range_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return leaves[start]
    if end == start:
        return EMPTY_ROOT
    k = _split(end - start)
    return node_hash(_range_root(leaves, start, start + k), _range_root(leaves, start + k, end))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the sibling hashes from leaf ``index`` up to the root."""
    return [_range_root(leaves, a, b) for a, b in inclusion_ranges(index, len(leaves))]


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): shows the tree of the first ``first`` leaves is a prefix of this one."""
    return [_range_root(leaves, a, b) for a, b in consistency_ranges(first, len(leaves))]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself the first node of the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
