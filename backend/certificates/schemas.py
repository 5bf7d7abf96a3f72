"""Response shapes of certificates: the public record, its checks and log proof, and the published keys."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from backend.schemas import Json, Out


class Check(Out):
    genuine: bool
    reason: str


class CertificateOut(Out):
    """A certificate as anyone may see it: the signed payload (masked beneficiary), its JWS and status."""

    number: str
    status: Literal["valid", "revoked"]
    revocation: Json | None
    payload: Json
    payload_sha256: str
    jws: str
    kid: str


class CertificateRecordOut(CertificateOut):
    record_check: Check = Field(description="the registry's own check of the JWS against the record")
    log_proof: Json = Field(description="status included: the inclusion proof against the newest signed tree head, "
                                        "checked (verified); status pending: not yet appended (within_seconds)")
    jws_check: Check | None = Field(default=None, description="given ?jws=: whether it is this certificate's")


class PublicKey(Out):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: str
    use: Literal["sig"]


class KeySet(Out):
    """RFC 7517 JWK set: the current signing key first, then retired ones (old certificates still verify)."""

    keys: list[PublicKey]
