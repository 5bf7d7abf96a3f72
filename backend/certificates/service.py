"""Making a retirement's certificate, in the retirement's own transaction.

The ledger's ``retire`` takes a ``certify`` callable (see ``certifier``) so that no retirement exists without
its certificate, while the ledger itself knows nothing of keys or numbering.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select
from sqlmodel import Session

from backend import audit
from backend.canonical import canonical_json
from backend.certificates.keys import KeyRing
from backend.certificates.models import Certificate, CertificateRevocation
from backend.clock import isoformat_utc
from backend.errors import Conflict, NotFound
from backend.ledger.models import Retirement, Transfer
from backend.privacy.fingerprint import fingerprint
from backend.privacy.models import BeneficiaryName
from backend.registry.models import Batch, Project
from backend.transparency.models import LogPending

CHINA = ZoneInfo("Asia/Shanghai")  # certificate years turn at midnight Beijing time
PAYLOAD_VERSION = 1
MAX_SIGNED_RANGES = 1  # serial ranges a JWS lists one by one; more are signed as their span (see signed_claims)

_certificate = Certificate.__table__
_batch, _project = Batch.__table__, Project.__table__
# No counter row to lock (issue 17): PostgreSQL's sequence hands out numbers to concurrent transactions at once;
# SQLite has one writer at a time, so the next after the largest is free.
_NEXT_NUMBER = {"postgresql": select(func.nextval("certificate_number_seq")),
                "sqlite": select(func.coalesce(func.max(_certificate.c.sequence), 0) + 1)}
_INSERT_CERTIFICATE = insert(_certificate).returning(_certificate.c.id)
_QUEUE_FOR_LOG = insert(LogPending.__table__)
_INSERT_NAME = insert(BeneficiaryName.__table__)
_BATCH_AND_PROJECT = (select(_batch.c.code, _batch.c.vintage, _project.c.id, _project.c.name)
                      .join(_project, _project.c.id == _batch.c.project_id).where(_batch.c.id == bindparam("batch_id")))



def commitment(salt: str, full_name: str) -> str:
    """The salted hash of the beneficiary's full name printed on a certificate (reveal: salt + name)."""
    return hashlib.sha256(f"{salt}:{full_name}".encode()).hexdigest()


def number_for(year: int, sequence: int) -> str:
    """``TH<year of issue>-<sequence>``. The sequence is one series across the years (numbers issued in 2027 go
    on from 2026's), increasing but not gapless on PostgreSQL: a number drawn by a transaction that rolled back is
    never given out. A gapless per-year counter was one locked row every retirement queued on (issue 17)."""
    return f"TH{year}-{sequence:08d}"


def _next_sequence(session: Session) -> int:
    connection = session.connection()
    return connection.execute(_NEXT_NUMBER[connection.dialect.name]).scalar_one()


def signed_claims(payload: dict[str, Any], payload_sha256_hex: str) -> dict[str, Any]:
    """What the JWS (and so the QR) carries: the essentials, checkable with no server, and the digest of the rest.

    One-letter names, epoch seconds and a base64url digest keep a one-range certificate's verify URL within QR
    version 16 at error correction M. n: number, q: grams, b: batch code, s: serial ranges, t: retired-at (epoch
    seconds), p: purpose, h: SHA-256 of the canonical payload (base64url). A retirement fragmented into more
    than MAX_SIGNED_RANGES ranges signs their span [first, last] in ``s`` and their count in ``r`` instead, so
    its QR stays scannable; the full list is in the payload, which ``h`` commits to.

    A document (``kind`` in the payload, see ``issue_document``) has no batch or serials of its own: it signs
    n, q (the grams it vouches for), p, t (issued-at), h and k, its kind.
    """
    digest = base64.urlsafe_b64encode(bytes.fromhex(payload_sha256_hex)).rstrip(b"=").decode()
    if "kind" in payload:
        issued_at = datetime.fromisoformat(payload["issued_at"].replace("Z", "+00:00"))
        return {"n": payload["number"], "k": payload["kind"], "q": payload["quantity_g"], "p": payload["purpose"],
                "t": int(issued_at.timestamp()), "h": digest}
    retired_at = datetime.fromisoformat(payload["retired_at"].replace("Z", "+00:00"))
    serials = payload["serials"]
    claims = {"n": payload["number"], "q": payload["quantity_g"], "b": payload["batch"]["code"], "s": serials,
              "t": int(retired_at.timestamp()), "p": payload["purpose"], "h": digest}
    if len(serials) > MAX_SIGNED_RANGES:
        claims["s"], claims["r"] = [[serials[0][0], serials[-1][1]]], len(serials)
    return claims


def _seal(session: Session, now: datetime, ring: KeyRing, payload: dict[str, Any], *, kind: str,
          retirement_id: int | None) -> Certificate:
    """Number the payload (``number`` is filled in here), sign it, store it and queue it for the transparency log
    (the sequencer appends it within a second or so: ``backend.sequencer``)."""
    year = now.astimezone(CHINA).year
    sequence = _next_sequence(session)
    payload["number"] = number = number_for(year, sequence)
    digest = hashlib.sha256(canonical_json(payload)).hexdigest()
    signed = signed_claims(payload, digest)
    values = dict(number=number, year=year, sequence=sequence, kind=kind, retirement_id=retirement_id,
                  payload=payload, payload_sha256=digest, jws=ring.sign(canonical_json(signed)), kid=ring.kid,
                  created_at=now)
    connection = session.connection()
    certificate_id = connection.execute(_INSERT_CERTIFICATE, values).scalar_one()
    connection.execute(_QUEUE_FOR_LOG, {"certificate_id": certificate_id, "queued_at": now})
    return Certificate.model_construct(id=certificate_id, **values)


class Certifier:
    """The ``certify`` for ledger.retire: number, state, commit to the name, sign, append to the log. It also
    fingerprints names (a keyed hash, backend.privacy) for the retirement's idempotency hash, so that no copy of
    the ledger can confirm a guessed name."""

    def __init__(self, certify: Callable[..., Certificate], name_key: bytes,
                 document: Callable[..., Certificate]) -> None:
        self._certify = certify
        self._name_key = name_key
        self.issue_document = document
        """``issue_document(session, now, *, kind, purpose, purpose_ref, quantity_g, content)``: a scenario's
        document (witness, neutrality certificate …) vouching for retirements it lists in ``content``. ``content``
        is what the document states, as shown: ``title``, ``title_en``, ``statement``, ``facts`` (label, value
        pairs in reading order), ``items`` (the retirements: certificate_no, quantity_g, project, batch,
        serials, retired_at) and ``record`` (the scenario's structured data); signed like a certificate."""

    def __call__(self, session: Session, now: datetime, retirement: Retirement, ranges: Sequence[tuple[int, int]],
                 beneficiary_name: str) -> Certificate:
        return self._certify(session, now, retirement, ranges, beneficiary_name)

    def fingerprint(self, name: str) -> str:
        return fingerprint(self._name_key, name)


def certifier(ring: KeyRing, issuer: str, name_key: bytes) -> Certifier:
    """The certifier of this key ring and issuer; ``name_key`` from ``privacy.fingerprint.key_from(SECRET_KEY)``."""

    def certify(session: Session, now: datetime, retirement: Retirement, ranges: Sequence[tuple[int, int]],
                beneficiary_name: str) -> Certificate:
        batch_code, vintage, project_id, project_name = session.connection().execute(
            _BATCH_AND_PROJECT, {"batch_id": retirement.batch_id}).one()
        salt = secrets.token_hex(16)
        payload: dict[str, Any] = {
            "v": PAYLOAD_VERSION, "number": None, "issuer": issuer,
            "purpose": retirement.purpose, "purpose_ref": retirement.purpose_ref,
            "quantity_g": retirement.quantity_g, "project": {"id": project_id, "name": project_name},
            "batch": {"code": batch_code, "vintage": vintage}, "serials": [[first, last] for first, last in ranges],
            "retired_at": isoformat_utc(retirement.retired_at),
            "beneficiary": {"masked": retirement.beneficiary_masked,
                            "commitment": commitment(salt, beneficiary_name)},
        }
        certificate = _seal(session, now, ring, payload, kind="retirement", retirement_id=retirement.id)
        # The commitment's opening, erasable (backend.privacy): the certificate itself is history.
        session.connection().execute(_INSERT_NAME, {"retirement_id": retirement.id, "full_name": beneficiary_name,
                                                    "salt": salt})
        return certificate

    def document(session: Session, now: datetime, *, kind: str, purpose: str, purpose_ref: str | None,
                 quantity_g: int, content: dict[str, Any]) -> Certificate:
        return _seal(session, now, ring, {
            "v": PAYLOAD_VERSION, "kind": kind, "number": None, "issuer": issuer, "purpose": purpose,
            "purpose_ref": purpose_ref, "quantity_g": quantity_g, "issued_at": isoformat_utc(now), **content},
            kind=kind, retirement_id=None)

    return Certifier(certify, name_key, document)


def get_certificate(session: Session, number: str) -> Certificate:
    found = session.execute(select(Certificate).where(Certificate.number == number)).scalar_one_or_none()
    if found is None:
        raise NotFound("证书不存在 (no such certificate)")  # says nothing about what does exist
    return found


def certificate_of(session: Session, retirement_id: int) -> Certificate | None:
    return session.execute(select(Certificate).where(Certificate.retirement_id == retirement_id)).scalar_one_or_none()


def status_of(session: Session, number: str) -> dict[str, Any]:
    """``{"status", "revocation"}`` as of now: read on every request, never cached, so a revocation shows at once."""
    found = session.execute(select(Certificate.id, Certificate.retirement_id)
                            .where(Certificate.number == number)).first()
    if found is None:
        raise NotFound("证书不存在 (no such certificate)")
    revocation = revocation_of(session, *found)
    return {"status": "revoked" if revocation else "valid", "revocation": revocation}


def revocation_of(session: Session, certificate_id: int, retirement_id: int | None) -> dict[str, Any] | None:
    """Why the certificate no longer stands, if it does not: an operator revoked it, or its retirement was
    reversed by a correction (a certificate must never vouch for credits that went back)."""
    revoked = session.get(CertificateRevocation, certificate_id)
    if revoked is not None:
        return {"reason": revoked.reason, "revoked_at": isoformat_utc(revoked.revoked_at), "by": "operator"}
    if retirement_id is None:  # a document: only an operator revokes it
        return None
    correction = session.execute(
        select(Transfer.reason, Transfer.created_at)
        .join(Retirement, Retirement.transfer_id == Transfer.corrects_id)
        .where(Retirement.id == retirement_id)).first()
    if correction is not None:
        return {"reason": f"注销已被更正撤回 (retirement reversed by a correction): {correction.reason}",
                "revoked_at": isoformat_utc(correction.created_at), "by": "correction"}
    return None


def revoke(session: Session, now: datetime, number: str, *, reason: str, actor: str) -> dict[str, Any]:
    """An operator's revocation, with its reason, recorded in the audit chain. Revoking twice with the same
    reason answers the first revocation; with another reason it is refused (a revocation is never edited)."""
    certificate = get_certificate(session, number)
    existing = session.get(CertificateRevocation, certificate.id, with_for_update=True)
    if existing is not None:
        if existing.reason != reason:
            raise Conflict(f"证书 {number} 已撤销 (already revoked): {existing.reason}",
                           details={"number": number, "reason": existing.reason}, code="already_revoked")
        return public_view(session, certificate)
    revoked = CertificateRevocation(certificate_id=certificate.id, reason=reason, revoked_by=actor, revoked_at=now)
    session.add(revoked)
    session.flush()
    audit.append(session, now, actor=actor, action="certificate.revoke", object_type="certificate",
                 object_id=number, after={"reason": reason, "payload_sha256": certificate.payload_sha256})
    return public_view(session, certificate)


def public_view(session: Session, certificate: Certificate) -> dict[str, Any]:
    revocation = revocation_of(session, certificate.id, certificate.retirement_id)
    return {"number": certificate.number, "status": "revoked" if revocation else "valid", "revocation": revocation,
            "payload": certificate.payload, "payload_sha256": certificate.payload_sha256, "jws": certificate.jws,
            "kid": certificate.kid}
