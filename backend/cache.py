"""Redis: the real server when ``REDIS_URL`` is set, an in-process stand-in (fakeredis) when it is not.

Redis is never the only copy of anything that matters (DESIGN.md §7); the database is.
"""

from __future__ import annotations

import fakeredis
import redis
from flask import Flask, current_app


def make_redis(url: str | None) -> redis.Redis:
    if url is None:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)


def init_app(app: Flask) -> None:
    app.extensions["redis"] = make_redis(app.config["REDIS_URL"])


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]
