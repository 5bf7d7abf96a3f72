"""Retirement certificates: signing keys and their JWKS (certificates themselves arrive in the next step)."""

from __future__ import annotations

from flask import Flask, current_app, jsonify

from backend.certificates import keys


def init_app(app: Flask) -> None:
    app.extensions["cert_keys"] = keys.load(app.config["CERT_SIGNING_KEY_FILE"],
                                            app.config["CERT_RETIRED_KEYS_FILE"],
                                            may_generate=app.config["APP_ENV"] != "production")

    @app.get("/.well-known/jwks.json")
    def jwks():
        response = jsonify(key_ring().jwks())
        response.cache_control.public = True
        response.cache_control.max_age = 300
        return response


def key_ring() -> keys.KeyRing:
    return current_app.extensions["cert_keys"]


__all__ = ["init_app", "key_ring", "keys"]
