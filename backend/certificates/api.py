"""Public certificate look-up: GET /api/v1/certificates/<number>."""

from __future__ import annotations

import re

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from backend import certificates
from backend.certificates import lookup
from backend.certificates.verifier import verify_token
from backend.errors import NotFound
from backend.http import Route, register
from backend.ratelimit import limit

bp = Blueprint("certificates", __name__, url_prefix="/api/v1")
NUMBER = re.compile(r"TH[0-9]{4}-[0-9]{8,12}")  # used with fullmatch: no trailing newline, ASCII digits


class CertificateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jws: str | None = Field(default=None, min_length=1, max_length=4096)


def certificate(number: str, query: CertificateQuery):
    """The certificate as JSON, with its JWS, status, the registry's own check and its log proof; given
    ``jws`` (from a QR), also whether that JWS is this certificate's. Unknown or malformed: the same 404."""
    limit("certificate")
    if not NUMBER.fullmatch(number):
        raise NotFound("证书不存在 (no such certificate)")
    record = lookup.certificate_record(number)
    if query.jws is not None:
        verdict = verify_token(query.jws, certificates.key_ring().jwks(), record=record)
        record["jws_check"] = {"genuine": verdict.genuine, "reason": verdict.reason}
    return record


register(bp, [Route("GET", "/certificates/<number>", certificate, "One certificate: JWS, status, log proof",
                    query=CertificateQuery, tags=("public",))])
