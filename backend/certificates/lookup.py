"""What the public sees of a certificate: its view, the registry's own check of its JWS and its log proof, built
from the database once and kept in Redis for CERT_CACHE_SECONDS — and its status, read fresh every time.

Only what never changes is cached (the signed record, the check, a proof against a then-current tree head), so
no interleaving of a revocation with a cache fill can show a revoked certificate as valid. Redis being down
costs speed, not answers: the record is then read from the database every time.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from flask import current_app

from backend import certificates
from backend.cache import get_redis
from backend.cache import key as cache_key
from backend.certificates import keys
from backend.certificates.service import get_certificate, public_view, status_of
from backend.certificates.verifier import verify_token
from backend.db import read
from backend.transparency import log as transparency_log
from backend.transparency import merkle

log = logging.getLogger(__name__)


RECORD_LAYOUT = 2  # bumped when the cached record's shape changes (2: log_proof.status), so old entries are not read


def _key(number: str) -> str:
    return cache_key("cert", "record", f"v{RECORD_LAYOUT}", number)


def certificate_record(number: str) -> dict[str, Any]:
    """The certificate's public view plus ``record_check`` and ``log_proof``; NotFound for an unknown number."""
    record = _unchanging_part(number)
    record.update(read(lambda session: status_of(session, number)))
    return record


def _unchanging_part(number: str) -> dict[str, Any]:
    try:
        cached = get_redis().get(_key(number))
    except redis.RedisError as error:
        log.warning("certificate cache unavailable: %s", error)
        cached = None
    if cached is not None:
        return json.loads(cached)
    record = read(lambda session: _build(session, number))
    if record["log_proof"]["status"] == "pending":  # signed moments ago: append what is queued now, and look again
        transparency_log.merge_now(certificates.key_ring(), current_app.config["CLOCK"]())
        record = read(lambda session: _build(session, number))
    seconds = current_app.config["CERT_CACHE_SECONDS"]
    if seconds and record["log_proof"]["status"] == "included":  # a pending proof is ready within seconds
        try:
            get_redis().set(_key(number), json.dumps(record, ensure_ascii=False), ex=seconds)
        except redis.RedisError as error:
            log.warning("certificate cache unavailable: %s", error)
    return record


def _build(session, number: str) -> dict[str, Any]:
    view = public_view(session, get_certificate(session, number))
    del view["status"], view["revocation"]  # never cached: see certificate_record
    jwks = certificates.key_ring().jwks()
    verdict = verify_token(view["jws"], jwks, record=view)
    view["record_check"] = {"genuine": verdict.genuine, "reason": verdict.reason}
    view["log_proof"] = _checked_proof(session, number, jwks)
    return view


def _checked_proof(session, number: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The inclusion proof against the newest signed tree head, checked here as an outside verifier would:
    the path leads to the root, and the head's signature verifies. ``status`` ``pending`` while the sequencer
    has yet to append the certificate (it is signed and valid meanwhile), ``included`` after, ``missing`` if it is
    neither in the log nor queued for it (the tables were damaged: ``flask log verify`` names what)."""
    try:
        proof = transparency_log.inclusion(session, number)
    except transparency_log.InclusionPending as pending:  # verified: not yet known, not failed
        return {"status": "pending", "queued_at": pending.details["queued_at"],
                "within_seconds": current_app.config["SEAL_DELAY_SECONDS"], "verified": None}
    except transparency_log.LogCorrupted as missing:  # neither logged nor queued: the log's tables were damaged
        log.error("certificate %s: %s", number, missing)
        return {"status": "missing", "verified": False}
    proof["status"] = "included"
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    sth = proof["sth"]
    try:
        keys.verify_bytes(transparency_log.tree_head_message(sth["timestamp"], sth["tree_size"],
                                                             bytes.fromhex(sth["root_hash"])),
                          bytes.fromhex(sth["signature"]), sth["kid"], jwks)
        signed = True
    except ValueError:
        signed = False
    proof["verified"] = signed and merkle.verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]), proof["leaf_index"], proof["tree_size"], path,
        bytes.fromhex(proof["root_hash"]))
    return proof
