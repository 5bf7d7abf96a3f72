"""Retirement certificates, one per retirement, and scenarios' documents vouching for several (a court's witness
certificate …): numbered, signed (Ed25519 JWS) and logged alike, with the keys published as a JWKS."""

from __future__ import annotations

from flask import Flask, current_app, jsonify

from backend.certificates import api, images, keys, page, service  # noqa: F401  (images adds routes to api.bp)
from backend.certificates.schemas import KeySet
from backend.http import Route, register
from backend.privacy.fingerprint import key_from


def init_app(app: Flask) -> None:
    try:
        app.extensions["cert_keys"] = keys.load(app.config["CERT_SIGNING_KEY_FILE"],
                                                app.config["CERT_RETIRED_KEYS_FILE"],
                                                may_generate=app.config["APP_ENV"] != "production")
    except keys.KeyFileError as error:
        if app.config["APP_ENV"] != "production":
            raise
        # Start anyway, so that `flask keys rotate` can create the key; /healthz stays 503 until it exists.
        app.extensions["cert_keys_error"] = str(error)

    app.register_blueprint(api.bp)
    app.register_blueprint(page.bp)

    register(app, ROUTES)


def jwks():
    """Every certificate's signature checks against one of these keys, offline; cacheable for 5 minutes."""
    response = jsonify(key_ring().jwks())
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


ROUTES = [Route("GET", "/.well-known/jwks.json", jwks, "The certificate signing keys (JWKS, Ed25519)",
                response=KeySet, tags=("public",), errors=(503,))]


def certify():
    """The ``certify`` that ledger.retire needs, with this app's signing key and issuer name."""
    return service.certifier(key_ring(), current_app.config["CERTIFICATE_ISSUER"],
                             key_from(current_app.config["SECRET_KEY"]))


def key_ring() -> keys.KeyRing:
    """The loaded key ring; KeyFileError (a 503) when production started without its signing key."""
    ring = current_app.extensions.get("cert_keys")
    if ring is None:
        raise keys.KeyFileError(current_app.extensions.get("cert_keys_error", "no certificate signing key"))
    return ring
