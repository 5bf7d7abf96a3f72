"""HTTP for the WeChat mini-program (/api/mp/v1): login, personal account, shop, orders. Arrives with issue 5;
until then this package registers nothing."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to register yet."""
