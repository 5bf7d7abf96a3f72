"""Public certificate look-up: GET /api/v1/certificates/<number>."""

from __future__ import annotations

import re

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from backend import certificates
from backend.certificates import lookup
from backend.certificates.verifier import verify_token
from backend.errors import NotFound
from backend.certificates.schemas import CertificateRecordOut
from backend.http import Route, anchored, register

bp = Blueprint("certificates", __name__, url_prefix="/api/v1")
NUMBER = re.compile(r"TH[0-9]{4}-[0-9]{8,12}")  # used with fullmatch: no trailing newline, ASCII digits
# The longest JWS this app signs is 455 characters (a 12-digit certificate number, 16-digit grams and serials,
# the longest batch code and purpose, a range count: tests/test_openapi.py builds it), and a QR (at most version
# 22, render.py) cannot carry a URL over 779 bytes. 1,024 is twice the longest. Printable ASCII only: even if every
# character needed percent-encoding (3 bytes) the longest request line (GET /api/v1/certificates/<longest number>
# ?jws=… HTTP/1.1) stays under 3.2 KB, within gunicorn's default limit_request_line of 4,094 bytes — so a value
# too long for us is our clear 400 (JSON here, the error page on /v/), never gunicorn's HTML one. Anything else
# (a mangled token, "hello") is answered as what it is: not genuine.
MAX_JWS_CHARS = 1024
JWS_CHARACTERS = r"^[!-~]+$"


class CertificateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jws: str | None = Field(default=None, min_length=1, max_length=MAX_JWS_CHARS, pattern=JWS_CHARACTERS,
                            description="a compact JWS, e.g. from the certificate's QR: is it this certificate's?")


def certificate(number: str, query: CertificateQuery):
    """The certificate as JSON, with its JWS, status, the registry's own check and its log proof; given
    ``jws`` (from a QR), also whether that JWS is this certificate's. Unknown or malformed: the same 404."""
    if not NUMBER.fullmatch(number):
        raise NotFound("证书不存在 (no such certificate)")
    record = lookup.certificate_record(number)
    if query.jws is not None:
        verdict = verify_token(query.jws, certificates.key_ring().jwks(), record=record)
        record["jws_check"] = {"genuine": verdict.genuine, "reason": verdict.reason}
    return record


register(bp, [Route("GET", "/certificates/<number>", certificate, "One certificate: JWS, status, log proof",
                    query=CertificateQuery, tags=("public",), response=CertificateRecordOut,
                    params={"number": anchored(NUMBER)}, rate_limit=("certificate", None), errors=(503,))])
