"""Mini-program session tokens: opaque, random, kept in Redis (hashed) with their login time and expiry.

Only the token's SHA-256 is stored, so a copy of Redis gives no one a usable token. Losing Redis logs everyone
out and loses nothing else (DESIGN.md §7); while Redis is down the mini-program API answers 503. WeChat's
``session_key`` is not kept at all: nothing here decrypts WeChat's signed user data, and a key that is not stored
cannot leak. A feature that needs it (``wx.getPhoneNumber`` data) should store it encrypted, for minutes.

A token lives ``ttl_seconds`` (refreshing swaps it for a new one that lives as long again), but never past its
login plus ``max_age_seconds``: a token that keeps being refreshed, say by whoever stole it, still ends. Both are
judged by the app's clock, which the caller passes in; Redis's own expiry only clears away what is already over.
Each user's live tokens are listed in a sorted set (hashes scored by expiry), so signing out everywhere can end
them all at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from datetime import datetime
from typing import NamedTuple

import redis

from backend.cache import get_redis, key
from backend.errors import DomainError

# Optimistic transactions (WATCH) retried this often before giving up: only a user signing in on many devices in
# the same instant contends, and they lose nothing but a retry of their own.
MAX_ATTEMPTS = 10


class SessionsUnavailable(DomainError):
    status = 503
    code = "sessions_unavailable"


class Issued(NamedTuple):
    token: str
    expires_in: int
    """Seconds from now; shorter than the sliding lifetime when the session's absolute end is nearer."""


def _guarded(work):
    """Run a Redis operation; a Redis outage is a 503 saying so, not a 500."""
    def guarded(*args, **kwargs):
        try:
            return work(*args, **kwargs)
        except redis.RedisError:
            raise SessionsUnavailable("登录服务暂不可用，请稍后再试 (session store unavailable)") from None
    guarded.__doc__, guarded.__name__ = work.__doc__, work.__name__
    return guarded


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_key(digest: str) -> str:
    return key("mps", digest)


def _index_key(user_id: int | str) -> str:
    return key("mpsu", str(user_id))


def _record(user_id: int, login_at: int, expires_at: int) -> str:
    return json.dumps({"user": user_id, "login": login_at, "expires": expires_at}, separators=(",", ":"))


def _parse(raw: str | None) -> dict | None:
    """The stored record, or None (a token stored before records had a login time counts as unknown)."""
    try:
        record = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(record, dict) or not {"user", "login", "expires"} <= record.keys():
        return None
    return record


def _live(record: dict | None, now: float, max_age_seconds: int) -> bool:
    # The absolute end is checked here too, not only when the expiry was set: a shorter MP_SESSION_MAX_AGE_SECONDS
    # then ends old sessions at once.
    return record is not None and now < record["expires"] and now < record["login"] + max_age_seconds


def _store(pipe, digest: str, user_id: int, login_at: int, expires_at: int, now: int, max_age_seconds: int) -> None:
    """Queue the writes that make a token live: its record, and its entry in the user's index."""
    pipe.set(_token_key(digest), _record(user_id, login_at, expires_at), ex=max(1, expires_at - now))
    index = _index_key(user_id)
    pipe.zadd(index, {digest: expires_at})
    pipe.zremrangebyscore(index, "-inf", now)  # ended tokens: their records are gone or going
    pipe.expire(index, max_age_seconds)  # no member outlives this


@_guarded
def issue(user_id: int, now: datetime, *, ttl_seconds: int, max_age_seconds: int) -> Issued:
    """A new session for a user who has just logged in."""
    token, at = secrets.token_urlsafe(32), math.floor(now.timestamp())
    expires_at = at + min(ttl_seconds, max_age_seconds)
    pipe = get_redis().pipeline()  # MULTI: a sign-out-everywhere sees the token and its index entry together
    _store(pipe, _digest(token), user_id, at, expires_at, at, max_age_seconds)
    pipe.execute()
    return Issued(token, expires_at - at)


@_guarded
def user_of(token: str, now: datetime, *, max_age_seconds: int) -> int | None:
    """The user a token belongs to, or None when it is unknown, revoked or over."""
    if not token or len(token) > 128:
        return None
    record = _parse(get_redis().get(_token_key(_digest(token))))
    return record["user"] if _live(record, now.timestamp(), max_age_seconds) else None


@_guarded
def revoke(token: str, user_id: int) -> None:
    """End this session."""
    digest = _digest(token)
    pipe = get_redis().pipeline()
    pipe.delete(_token_key(digest))
    pipe.zrem(_index_key(user_id), digest)
    pipe.execute()


@_guarded
def refresh(token: str, now: datetime, *, ttl_seconds: int, max_age_seconds: int) -> Issued | None:
    """A new token for the same session; the old one stops working at once. None if the old one was not live.

    The new token keeps the old one's login time, so it ends no later than login + ``max_age_seconds``. The swap
    is one transaction watching the old token and the user's index: a token refreshes once, and a sign-out
    everywhere in between is never undone by a token written after it.
    """
    old, at = _digest(token), math.floor(now.timestamp())
    with get_redis().pipeline() as pipe:
        for _ in range(MAX_ATTEMPTS):
            try:
                pipe.watch(_token_key(old))
                record = _parse(pipe.get(_token_key(old)))
                if not _live(record, now.timestamp(), max_age_seconds):
                    return None
                user_id, login_at = record["user"], record["login"]
                pipe.watch(_index_key(user_id))
                expires_at = min(at + ttl_seconds, login_at + max_age_seconds)
                new = secrets.token_urlsafe(32)
                pipe.multi()
                pipe.delete(_token_key(old))
                pipe.zrem(_index_key(user_id), old)
                _store(pipe, _digest(new), user_id, login_at, expires_at, at, max_age_seconds)
                pipe.execute()
                return Issued(new, expires_at - at)
            except redis.WatchError:  # refreshed or revoked meanwhile (then gone), or another login: look again
                continue
    raise SessionsUnavailable("登录服务繁忙，请稍后再试 (session store busy)")


@_guarded
def revoke_all(user_id: int, now: datetime) -> int:
    """End every session of the user ("sign out everywhere"); how many were live.

    Watching the index, a login or refresh that lands between reading it and deleting makes this look again, so
    no token written before the deletion survives it.
    """
    index = _index_key(user_id)
    with get_redis().pipeline() as pipe:
        for _ in range(MAX_ATTEMPTS):
            try:
                pipe.watch(index)
                scored = pipe.zrange(index, 0, -1, withscores=True)
                pipe.multi()
                pipe.delete(index, *(_token_key(digest) for digest, _ in scored))
                pipe.execute()
                return sum(1 for _, expires_at in scored if expires_at > now.timestamp())
            except redis.WatchError:
                continue
    raise SessionsUnavailable("登录服务繁忙，请稍后再试 (session store busy)")
