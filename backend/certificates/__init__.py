"""Retirement certificates: signing keys and their JWKS (certificates themselves arrive in the next step)."""

from __future__ import annotations

from flask import Flask, current_app, jsonify

from backend.certificates import keys


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

    @app.get("/.well-known/jwks.json")
    def jwks():
        response = jsonify(key_ring().jwks())
        response.cache_control.public = True
        response.cache_control.max_age = 300
        return response


def key_ring() -> keys.KeyRing:
    """The loaded key ring; KeyFileError (a 503) when production started without its signing key."""
    ring = current_app.extensions.get("cert_keys")
    if ring is None:
        raise keys.KeyFileError(current_app.extensions.get("cert_keys_error", "no certificate signing key"))
    return ring
