"""Public certificate look-up: GET /api/v1/certificates/<number>."""

from __future__ import annotations

import re

from flask import Blueprint

from backend.certificates.service import get_certificate, public_view
from backend.db import read
from backend.errors import NotFound
from backend.http import Route, register

bp = Blueprint("certificates", __name__, url_prefix="/api/v1")
NUMBER = re.compile(r"^TH\d{4}-\d{8,12}$")


def certificate(number: str):
    """The certificate as JSON, with its JWS. An unknown or malformed number is the same plain 404."""
    if not NUMBER.match(number):
        raise NotFound("证书不存在 (no such certificate)")
    return read(lambda session: public_view(get_certificate(session, number)))


register(bp, [Route("GET", "/certificates/<number>", certificate, "One certificate, with its JWS",
                    tags=("public",))])
