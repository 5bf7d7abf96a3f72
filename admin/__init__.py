"""Operator side: the operator JSON API (/api/admin/v1) and the console's pages (/admin/)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from admin import api, pages

    api.init_app(app)
    pages.init_app(app)
