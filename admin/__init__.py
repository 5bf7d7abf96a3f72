"""Operator side: the operator JSON API (/api/admin/v1); the server-rendered console comes later."""

from flask import Flask


def init_app(app: Flask) -> None:
    from admin import api

    api.init_app(app)
