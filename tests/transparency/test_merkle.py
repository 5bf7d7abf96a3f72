"""The Merkle tree agrees with Certificate Transparency's published test vectors and with a second, bottom-up
implementation written here; every proof it makes verifies, and no altered proof does."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.transparency import merkle

# The reference leaves and tree heads used across CT implementations (RFC 6962 test data).
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
CT_PATH_0_OF_8 = ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                  "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]


def bottom_up_root(leaves: list[bytes]) -> bytes:
    """A second construction: pair left to right, promote an odd last node a level (equivalent to RFC 6962)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        paired = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def leaves_of(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_the_tree_heads_match_certificate_transparencys_vectors():
    hashed = [merkle.leaf_hash(data) for data in CT_LEAVES]
    for size in range(len(CT_LEAVES) + 1):
        assert merkle.root(hashed[:size]).hex() == CT_ROOTS[size]
    assert [p.hex() for p in merkle.inclusion_proof(0, hashed)] == CT_PATH_0_OF_8


@pytest.mark.parametrize("size", range(0, 70))
def test_the_root_agrees_with_a_bottom_up_construction(size):
    assert merkle.root(leaves_of(size)) == bottom_up_root(leaves_of(size))


@pytest.mark.parametrize("size", range(1, 34))
def test_every_inclusion_proof_verifies_and_no_altered_one_does(size):
    leaves = leaves_of(size)
    head = bottom_up_root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        assert merkle.verify_inclusion(leaves[index], index, size, proof, head)
        assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, size, proof, head)
        if size > 1:
            assert not merkle.verify_inclusion(leaves[index], (index + 1) % size, size, proof, head)
        for position in range(len(proof)):
            bent = list(proof)
            bent[position] = hashlib.sha256(bent[position]).digest()
            assert not merkle.verify_inclusion(leaves[index], index, size, bent, head)
        assert not merkle.verify_inclusion(leaves[index], index, size, proof[:-1], head) or not proof


@pytest.mark.parametrize("second", range(1, 24))
def test_every_consistency_proof_verifies_and_no_altered_one_does(second):
    leaves = leaves_of(second)
    for first in range(1, second + 1):
        proof = merkle.consistency_proof(first, leaves)
        old, new = bottom_up_root(leaves[:first]), bottom_up_root(leaves)
        assert merkle.verify_consistency(first, second, old, new, proof)
        if first < second:
            assert not merkle.verify_consistency(first, second, merkle.leaf_hash(b"x"), new, proof)
            assert not merkle.verify_consistency(first, second, old, merkle.leaf_hash(b"x"), proof)
            for position in range(len(proof)):
                bent = list(proof)
                bent[position] = hashlib.sha256(bent[position]).digest()
                assert not merkle.verify_consistency(first, second, old, new, bent)


@settings(max_examples=60, deadline=None)
@given(first=st.integers(1, 300), extra=st.integers(1, 300))
def test_a_rewritten_history_cannot_be_proven_consistent(first, extra):
    """Change any one old leaf and the new tree can no longer be shown to extend the old head."""
    leaves = leaves_of(first + extra)
    old_head = merkle.root(leaves[:first])
    rewritten = list(leaves)
    rewritten[first // 2] = merkle.leaf_hash(b"rewritten")
    assert not merkle.verify_consistency(first, first + extra, old_head, merkle.root(rewritten),
                                         merkle.consistency_proof(first, rewritten))


def test_proofs_outside_the_tree_are_refused():
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, leaves_of(3))
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, leaves_of(3))
    assert not merkle.verify_inclusion(merkle.leaf_hash(b""), 5, 5, [], merkle.EMPTY_ROOT)


@pytest.mark.parametrize("size", range(0, 70))
def test_a_root_folds_from_the_stored_perfect_subtrees(size):
    """What the log keeps (perfect, aligned subtrees) is enough to rebuild every root."""
    leaves = leaves_of(size)
    pieces = merkle.subtrees(0, size)
    assert all(b - a & (b - a - 1) == 0 and a % (b - a) == 0 for a, b in pieces)  # perfect and aligned
    assert merkle.fold([merkle.root(leaves[a:b]) for a, b in pieces]) == merkle.root(leaves)
