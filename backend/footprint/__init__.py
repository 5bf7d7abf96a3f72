"""Footprint calculators on a versioned, sourced emission-factor library (DESIGN.md §6)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from backend.footprint import api, cli

    app.register_blueprint(api.bp)
    app.cli.add_command(cli.footprint_group)
