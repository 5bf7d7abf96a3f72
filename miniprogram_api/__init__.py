"""HTTP for the WeChat mini-program (/api/mp/v1): login, profile, shop, orders."""

from flask import Flask


def init_app(app: Flask) -> None:
    from miniprogram_api import api

    api.init_app(app)
