"""Mini-program session tokens: opaque, random, kept in Redis (hashed) with an expiry.

Only the token's SHA-256 is stored, so a copy of Redis gives no one a usable token. Losing Redis logs everyone
out and loses nothing else (DESIGN.md §7). WeChat's ``session_key`` is kept beside it, server-side only, for the
calls that need it (decrypting ``wx.getPhoneNumber`` data, later).
"""

from __future__ import annotations

import hashlib
import secrets

import redis

from backend.cache import get_redis, key


def _token_key(token: str) -> str:
    return key("mps", hashlib.sha256(token.encode()).hexdigest())


def issue(user_id: int, session_key: str | None, ttl_seconds: int) -> str:
    token = secrets.token_urlsafe(32)
    pipe = get_redis().pipeline()
    pipe.set(_token_key(token), str(user_id), ex=ttl_seconds)
    if session_key is not None:
        pipe.set(key("mpsk", str(user_id)), session_key, ex=ttl_seconds)
    pipe.execute()
    return token


def user_of(token: str) -> int | None:
    """The user a token belongs to, or None when it is unknown or expired."""
    if not token or len(token) > 128:
        return None
    found = get_redis().get(_token_key(token))
    return int(found) if found else None


def revoke(token: str) -> bool:
    return bool(get_redis().delete(_token_key(token)))


def refresh(token: str, ttl_seconds: int) -> str | None:
    """A new token for the same user; the old one stops working at once. None if the old one was not valid."""
    client = get_redis()
    try:
        user_id = client.getdel(_token_key(token))  # atomically: a token refreshes once
    except redis.ResponseError:  # Redis < 6.2 has no GETDEL
        user_id = client.get(_token_key(token))
        client.delete(_token_key(token))
    if not user_id:
        return None
    new = secrets.token_urlsafe(32)
    client.set(_token_key(new), user_id, ex=ttl_seconds)
    client.expire(key("mpsk", user_id), ttl_seconds)
    return new
