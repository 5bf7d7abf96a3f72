"""A certificate's QR, share card and PDF over HTTP: rendered once, kept in Redis, served with a strong ETag.

The ETag is computed from what the picture shows (the signed record, its status and the verify URL), not from
the bytes, so a conditional request is answered 304 without rendering or fetching anything; a revocation
changes the status and with it the ETag, so nobody keeps a card that still says valid.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import redis
from flask import current_app, make_response, request

from backend.cache import get_redis_bytes
from backend.cache import key as cache_key
from backend.canonical import canonical_json
from backend.certificates import lookup, render
from backend.certificates.api import NUMBER, bp
from backend.errors import DomainError, NotFound
from backend.http import Route, anchored, register

log = logging.getLogger(__name__)
RENDER_VERSION = 1  # bump when the layout changes, so cached images and ETags turn over
RENDERED_SECONDS = 7 * 24 * 3600

KINDS: dict[str, tuple[str, Callable[[dict, str], bytes]]] = {
    "qr.png": ("image/png", lambda card, url: render.qr_png(url)),
    "certificate.png": ("image/png", render.share_card_png),
    "certificate.pdf": ("application/pdf", render.certificate_pdf),
}


class Unrenderable(DomainError):
    status = 422
    code = "unrenderable"


def verify_url(record: dict) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/v/{record['number']}?jws={record['jws']}"


def _etag(kind: str, record: dict, url: str) -> str:
    shown = {"kind": kind, "v": RENDER_VERSION, "url": url, "payload_sha256": record["payload_sha256"],
             "status": record["status"], "revocation": record["revocation"]}
    return hashlib.sha256(canonical_json(shown)).hexdigest()[:32]


def _rendered(etag: str, make: Callable[[], bytes]) -> bytes:
    key = cache_key("cert", "render", etag)
    try:
        if (found := get_redis_bytes().get(key)) is not None:
            return found
    except redis.RedisError as error:
        log.warning("render cache unavailable: %s", error)
    try:
        data = make()
    except ValueError as error:  # the renderer refuses what it cannot draw scannably; say so, don't 500
        raise Unrenderable(str(error)) from None
    try:
        get_redis_bytes().set(key, data, ex=RENDERED_SECONDS)
    except redis.RedisError as error:
        log.warning("render cache unavailable: %s", error)
    return data


def certificate_file(number: str, kind: str):
    """The certificate's QR (qr.png), WeChat share card (certificate.png) or A4 document (certificate.pdf)."""
    if not NUMBER.fullmatch(number) or kind not in KINDS:
        raise NotFound("证书不存在 (no such certificate)")
    record = lookup.certificate_record(number)
    mimetype, draw = KINDS[kind]
    url = verify_url(record)
    etag = _etag(kind, record, url)
    if request.if_none_match.contains_weak(etag):  # If-None-Match compares weakly (RFC 9110 §13.1.2)
        response = make_response("", 304)
    else:
        response = make_response(_rendered(etag, lambda: draw(record, url)))
        response.mimetype = mimetype
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 60  # then revalidate: a revocation must reach shared copies soon
    if kind == "certificate.pdf":
        response.headers["Content-Disposition"] = f'inline; filename="{number}.pdf"'
    return response


register(bp, [Route("GET", '/certificates/<number>/<any("qr.png","certificate.png","certificate.pdf"):kind>',
                    certificate_file, "QR, share card (PNG) or A4 document (PDF) of a certificate",
                    tags=("public",), media_type=("image/png", "application/pdf"), params={"number": anchored(NUMBER)},
                    rate_limit=("render", None), errors=(304, 422, 503),
                    description="image/png for qr.png and certificate.png, application/pdf for certificate.pdf; "
                                "a strong ETag, and 304 to a matching If-None-Match.")])
