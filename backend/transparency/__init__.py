"""The certificate transparency log: an RFC 6962 Merkle tree of certificate digests with signed tree heads."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from backend.transparency import api

    app.register_blueprint(api.bp)
