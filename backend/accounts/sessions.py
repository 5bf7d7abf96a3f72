"""Mini-program session tokens: opaque, random, kept in Redis (hashed) with an expiry.

Only the token's SHA-256 is stored, so a copy of Redis gives no one a usable token. Losing Redis logs everyone
out and loses nothing else (DESIGN.md §7); while Redis is down the mini-program API answers 503. WeChat's
``session_key`` is kept beside it in plain text, server-side only, for the calls that need it (decrypting
``wx.getPhoneNumber`` data, later): a copy of Redis does expose those.
"""

from __future__ import annotations

import hashlib
import secrets

import redis

from backend.cache import get_redis, key
from backend.errors import DomainError


class SessionsUnavailable(DomainError):
    status = 503
    code = "sessions_unavailable"


def _guarded(work):
    """Run a Redis operation; a Redis outage is a 503 saying so, not a 500."""
    def guarded(*args, **kwargs):
        try:
            return work(*args, **kwargs)
        except redis.RedisError:
            raise SessionsUnavailable("登录服务暂不可用，请稍后再试 (session store unavailable)") from None
    guarded.__doc__, guarded.__name__ = work.__doc__, work.__name__
    return guarded


def _token_key(token: str) -> str:
    return key("mps", hashlib.sha256(token.encode()).hexdigest())


@_guarded
def issue(user_id: int, session_key: str | None, ttl_seconds: int) -> str:
    token = secrets.token_urlsafe(32)
    pipe = get_redis().pipeline()
    pipe.set(_token_key(token), str(user_id), ex=ttl_seconds)
    if session_key is not None:
        pipe.set(key("mpsk", str(user_id)), session_key, ex=ttl_seconds)
    pipe.execute()
    return token


@_guarded
def user_of(token: str) -> int | None:
    """The user a token belongs to, or None when it is unknown or expired."""
    if not token or len(token) > 128:
        return None
    found = get_redis().get(_token_key(token))
    return int(found) if found else None


@_guarded
def revoke(token: str, user_id: int) -> None:
    """End this session and forget the WeChat session_key (the next login brings a fresh one)."""
    get_redis().delete(_token_key(token), key("mpsk", str(user_id)))


@_guarded
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
