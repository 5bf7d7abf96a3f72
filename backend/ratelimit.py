"""Per-client request limits for the public, unauthenticated endpoints, counted in Redis.

A fixed one-minute window per client and bucket: one INCR (and an EXPIRE on the first hit), so the check costs
one round trip. Behind a reverse proxy set TRUSTED_PROXY_HOPS so the client is the proxy's X-Forwarded-For
entry, not the proxy. If Redis is down the request is let through and logged: a verify page that fails closed
would hide genuine certificates exactly when something is already wrong.
"""

from __future__ import annotations

import logging

import redis
from flask import current_app, request

from backend.cache import get_redis
from backend.cache import key as cache_key
from backend.errors import DomainError

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"请求过于频繁，请 {retry_after} 秒后再试 (too many requests; retry in {retry_after} s)",
                         details={"retry_after": retry_after})
        self.retry_after = retry_after


def limit(bucket: str, per_minute: int | None = None) -> None:
    """Count this request against the client's allowance in ``bucket``; RateLimited (429) past it."""
    allowance = per_minute or current_app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"]
    now = current_app.config["CLOCK"]().timestamp()
    window = int(now // WINDOW_SECONDS)
    key = cache_key("rl", bucket, request.remote_addr or "-", str(window))
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2, nx=True)
        count = pipe.execute()[0]
    except redis.RedisError as error:
        log.warning("rate limit not applied, Redis unavailable: %s", error)
        return
    if count > allowance:
        raise RateLimited(max(1, int((window + 1) * WINDOW_SECONDS - now)))
