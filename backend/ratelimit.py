"""Request limits counted in Redis: per client address for the public endpoints, per user where one is signed in.

A fixed one-minute window per client and bucket: one INCR (and an EXPIRE on the first hit), so the check costs
one round trip. Behind a reverse proxy set TRUSTED_PROXY_HOPS so the client is the proxy's X-Forwarded-For
entry, not the proxy. If Redis is down the request is let through and logged: a verify page that fails closed
would hide genuine certificates exactly when something is already wrong.
"""

from __future__ import annotations

import ipaddress
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


def client_id() -> str:
    """Who is asking: the IPv4 address, or the IPv6 /64 (one subscriber's prefix, which they can cycle through)."""
    address = request.remote_addr
    if not address:  # e.g. a unix socket with no proxy header: every client would share one allowance
        log.warning("request without a client address; set TRUSTED_PROXY_HOPS behind a proxy")
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6 and parsed.ipv4_mapped:  # a dual-stack socket: ::ffff:a.b.c.d is the IPv4 client
        return str(parsed.ipv4_mapped)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address) + "/64"
    return str(parsed)


def limit(bucket: str, per_minute: int | None = None, *, who: str | None = None) -> None:
    """Count this request against ``who``'s allowance in ``bucket`` (default: the client's address); RateLimited
    (429) past it. A signed-in user is counted as themself: many users share one carrier NAT address, and one user
    can move between addresses."""
    allowance = per_minute or current_app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"]
    now = current_app.config["CLOCK"]().timestamp()
    window = int(now // WINDOW_SECONDS)
    key = cache_key("rl", bucket, who or client_id(), str(window))
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.set(key, 0, ex=WINDOW_SECONDS * 2, nx=True)  # the window's counter expires with it (any Redis)
        pipe.incr(key)
        count = pipe.execute()[1]
    except redis.RedisError as error:
        log.warning("rate limit not applied, Redis unavailable: %s", error)
        return
    if count > allowance:
        raise RateLimited(max(1, int((window + 1) * WINDOW_SECONDS - now)))
