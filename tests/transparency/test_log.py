"""Every certificate is a leaf of the transparency log, and an outside verifier can prove it from the public API.

The verifier here is written from RFC 6962's definitions alone — top-down recursion over the entries it
fetched, hashlib, and ``cryptography`` for the signatures — and shares no code with backend.transparency.
"""

from __future__ import annotations

import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend import sequencer
from tests.certificates.test_certificates import retire
from tests.certificates.test_keys import b64url_decode
from tests.envelope import refused
from tests.tampering import tamper


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1, over leaf hashes."""
    if not leaves:
        return H(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return H(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def root_from_path(leaf: bytes, m: int, n: int, path: list[bytes]) -> bytes:
    """Undo PATH(m, D[n]) of RFC 6962 §2.1.1 top-down: the path's last hash is the sibling at the top."""
    if n == 1:
        assert not path, "a one-leaf tree has an empty path"
        return leaf
    k = split(n)
    if m < k:
        return H(b"\x01" + root_from_path(leaf, m, k, path[:-1]) + path[-1])
    return H(b"\x01" + path[-1] + root_from_path(leaf, m - k, n - k, path[:-1]))


def proof(m: int, leaves: list[bytes], complete: bool = True) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 6962 §2.1.2."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = split(n)
    if m <= k:
        return proof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return proof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def check_sth(sth: dict, jwks: dict) -> None:
    """Verify a signed tree head's Ed25519 signature over RFC 6962 §3.5's TreeHeadSignature, from the JWKS."""
    jwk = next(key for key in jwks["keys"] if key["kid"] == sth["kid"])
    message = (bytes([0, 1]) + struct.pack(">QQ", sth["timestamp"], sth["tree_size"])
               + bytes.fromhex(sth["root_hash"]))
    Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"])).verify(bytes.fromhex(sth["signature"]), message)


def logged(operator, batch, key: str, **kw) -> str:
    """Retire, and let the sequencer append the certificate to the log (as it does within a second): one
    certificate per batch, so the log has had every size."""
    number = retire(operator, batch, key, **kw)["certificate_no"]
    sequencer.run_once(operator.client.application)
    return number


@pytest.fixture
def batch(operator):
    return operator.registered_project(quantity_g=100_000_000)["batch"]


@pytest.fixture
def five_certificates(operator, batch):
    return [logged(operator, batch, f"log-{i}", amount_g=1_000 * (i + 1)) for i in range(5)]


def test_an_empty_log_has_a_signed_head_of_size_zero(client):
    sth = client.get("/api/v1/log/sth").get_json()
    assert sth["tree_size"] == 0 and sth["root_hash"] == H(b"").hex()
    check_sth(sth, client.get("/.well-known/jwks.json").get_json())


def test_an_outside_verifier_proves_every_certificate_is_in_the_log(client, five_certificates):
    jwks = client.get("/.well-known/jwks.json").get_json()
    sth = client.get("/api/v1/log/sth").get_json()
    assert sth["tree_size"] == 5
    check_sth(sth, jwks)

    entries = client.get("/api/v1/log/entries?start=0&end=4").get_json()["entries"]
    assert [e["certificate_no"] for e in entries] == five_certificates
    assert [e["leaf_index"] for e in entries] == [0, 1, 2, 3, 4]
    leaves = []
    for entry, number in zip(entries, five_certificates):
        # The leaf is the certificate's own digest, which anyone can recompute from the certificate.
        certificate = client.get(f"/api/v1/certificates/{number}").get_json()
        assert entry["leaf_hash"] == H(b"\x00" + bytes.fromhex(certificate["payload_sha256"])).hex()
        leaves.append(bytes.fromhex(entry["leaf_hash"]))
    assert mth(leaves).hex() == sth["root_hash"]

    for index, number in enumerate(five_certificates):
        found = client.get(f"/api/v1/certificates/{number}/proof").get_json()
        assert (found["leaf_index"], found["tree_size"], found["root_hash"]) == (index, 5, sth["root_hash"])
        path = [bytes.fromhex(h) for h in found["audit_path"]]
        assert root_from_path(bytes.fromhex(found["leaf_hash"]), index, 5, path).hex() == sth["root_hash"]


def test_a_proof_against_a_tree_head_the_verifier_kept_from_earlier(client, operator, batch):
    first = logged(operator, batch, "early-1")
    logged(operator, batch, "early-2")
    kept = client.get("/api/v1/log/sth").get_json()  # a verifier saved this head at size 2
    for i in range(4):
        logged(operator, batch, f"late-{i}")
    found = client.get(f"/api/v1/certificates/{first}/proof?tree_size=2").get_json()
    assert found["tree_size"] == 2 and found["root_hash"] == kept["root_hash"] and found["sth"] == kept
    path = [bytes.fromhex(h) for h in found["audit_path"]]
    assert root_from_path(bytes.fromhex(found["leaf_hash"]), 0, 2, path).hex() == kept["root_hash"]


def test_every_head_is_consistent_with_every_later_one(client, operator, batch):
    heads = {}
    for i in range(9):
        logged(operator, batch, f"grow-{i}")
        sth = client.get("/api/v1/log/sth").get_json()
        heads[sth["tree_size"]] = sth
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in
              client.get("/api/v1/log/entries?start=0&end=99").get_json()["entries"]]
    assert len(leaves) == 9
    for second in range(1, 10):
        for first in range(1, second + 1):
            answer = client.get(f"/api/v1/log/consistency?first={first}&second={second}").get_json()
            assert answer["first_root_hash"] == heads[first]["root_hash"] == mth(leaves[:first]).hex()
            assert answer["second_root_hash"] == heads[second]["root_hash"]
            assert answer["consistency"] == [h.hex() for h in proof(first, leaves[:second])], (first, second)
    newest = client.get("/api/v1/log/consistency?first=3").get_json()
    assert newest["second"] == 9


def test_entries_are_paged_and_cut_at_the_end_of_the_log(client, five_certificates):
    middle = client.get("/api/v1/log/entries?start=1&end=2").get_json()["entries"]
    assert [e["certificate_no"] for e in middle] == five_certificates[1:3]
    past_the_end = client.get("/api/v1/log/entries?start=3&end=1000").get_json()["entries"]
    assert [e["leaf_index"] for e in past_the_end] == [3, 4]


@pytest.mark.parametrize("path, field", [
    ("/api/v1/log/entries?start=5&end=9", "start"),
    ("/api/v1/log/entries?start=3&end=2", "end"),
    ("/api/v1/log/entries?start=-1&end=2", "start"),
    ("/api/v1/log/entries?start=0", "end"),
    ("/api/v1/log/entries?start=0&end=x", "end"),
    ("/api/v1/log/consistency?first=0", "first"),
    ("/api/v1/log/consistency?first=6", "first"),
    ("/api/v1/log/consistency?first=4&second=2", "first"),
    ("/api/v1/log/consistency?first=1&second=99", "second"),
    ("/api/v1/log/consistency?first=1&extra=1", "extra"),
    ("/api/v1/certificates/TH2026-00000005/proof?tree_size=3", "tree_size"),
    ("/api/v1/certificates/TH2026-00000001/proof?tree_size=0", "tree_size"),
])
def test_bad_log_queries_are_refused_naming_the_field(client, five_certificates, path, field):
    refused(client.get(path), 400, field=field)


def test_a_proof_for_an_unknown_certificate_is_the_same_plain_404(client, five_certificates):
    unknown = client.get("/api/v1/certificates/TH2026-00000099/proof")
    malformed = client.get("/api/v1/certificates/nonsense/proof")
    assert unknown.status_code == malformed.status_code == 404
    assert unknown.get_json() == malformed.get_json()


def test_log_verify_passes_on_an_honest_log(runner, five_certificates):
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 0, result.output
    assert "5 leaves" in result.output


@pytest.mark.tampers
@pytest.mark.parametrize("damage, sql, says", [
    ("removed entry", "DELETE FROM log_entry WHERE leaf_index = 2", "leaf 2 is missing"),
    ("altered entry", "UPDATE log_entry SET leaf_hash = :fake WHERE leaf_index = 1", "leaf 1 (certificate"),
    ("forged node", "UPDATE log_node SET hash = :fake WHERE level = 1 AND start = 2",
     "node level 1 at leaf 2 is"),
    ("rewritten head", "UPDATE log_tree_head SET root_hash = :fake WHERE tree_size = 4",
     "signed tree head 4 has root"),
    ("forged signature", "UPDATE log_tree_head SET signature = :fake_sig WHERE tree_size = 5",
     "signed tree head 5: bad signature"),
])
def test_log_verify_names_what_was_tampered_with(app, runner, five_certificates, damage, sql, says):
    tamper(app.extensions["db_engine"], sql, fake="ab" * 32, fake_sig="cd" * 64)
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1, damage
    assert says in result.output, result.output


def test_tree_head_times_never_step_back(client, operator, batch, clock):
    """A retirement whose clock reading is older (it waited for the log's lock) still signs a later head."""
    logged(operator, batch, "time-1")
    first = client.get("/api/v1/log/sth").get_json()
    clock.advance(seconds=-30)
    logged(operator, batch, "time-2")
    second = client.get("/api/v1/log/sth").get_json()
    assert second["tree_size"] == 2 and second["timestamp"] >= first["timestamp"]
    check_sth(second, client.get("/.well-known/jwks.json").get_json())
