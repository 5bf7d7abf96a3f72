"""Redis: the real server when ``REDIS_URL`` is set, an in-process stand-in (fakeredis) when it is not.

Redis is never the only copy of anything that matters (DESIGN.md §7); the database is.
"""

from __future__ import annotations

import fakeredis
import redis
from flask import Flask, current_app


def make_redis(url: str | None, server: fakeredis.FakeServer | None = None, *,
               decode_responses: bool = True) -> redis.Redis:
    if url is None:
        return fakeredis.FakeRedis(server=server or fakeredis.FakeServer(), decode_responses=decode_responses)
    return redis.Redis.from_url(url, decode_responses=decode_responses, socket_timeout=2, socket_connect_timeout=2)


def init_app(app: Flask) -> None:
    server = fakeredis.FakeServer()  # one stand-in server behind both clients
    app.extensions["redis"] = make_redis(app.config["REDIS_URL"], server)
    app.extensions["redis_bytes"] = make_redis(app.config["REDIS_URL"], server, decode_responses=False)


def get_redis() -> redis.Redis:
    """Text values (str in, str out)."""
    return current_app.extensions["redis"]


def get_redis_bytes() -> redis.Redis:
    """Binary values, such as rendered images."""
    return current_app.extensions["redis_bytes"]


def key(*parts: str) -> str:
    """A Redis key in this deployment's namespace (REDIS_KEY_PREFIX), so apps sharing a Redis never collide."""
    return current_app.config["REDIS_KEY_PREFIX"] + ":".join(parts)
