"""Sign-in throttling, counted in Redis, checked before the (slow, argon2) password check.

- An address may try SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE sign-ins a minute, right or wrong.
- An account takes SIGNIN_FAILURES_PER_ACCOUNT failures from one address, and four times that from all addresses
  together, per 15-minute window; past either it refuses every attempt, the right password included, until the
  window ends. The per-address count lets a guesser lock only their own way in; the account-wide count stops a
  guesser who spreads over many addresses, at the price that such a crowd can lock the account for 15 minutes.
- A successful sign-in clears the account's count from that address.

Unlike the public rate limit this fails closed: with Redis down nobody signs in (503), because an unthrottled
password form is an open door for guessing.
"""

from __future__ import annotations

import contextlib
import hashlib

import redis

from backend.cache import get_redis, key
from backend.errors import DomainError
from backend.ratelimit import RateLimited

FAILURE_WINDOW_SECONDS = 15 * 60
ACCOUNT_WIDE_FACTOR = 4


class SignInUnavailable(DomainError):
    status = 503
    code = "sign_in_unavailable"


class AccountLocked(RateLimited):
    code = "sign_in_locked"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        minutes = max(1, (retry_after + 59) // 60)
        self.message = (f"登录失败次数过多，请 {minutes} 分钟后再试 "
                        f"(too many failed sign-ins; try again in {minutes} min)")


def _keys(username: str, address: str) -> tuple[str, str]:
    # Hashed: a typed name is anything ("alice:10.0.0.1" must not be alice's counter from 10.0.0.1).
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return key("signin", "fail", name, address), key("signin", "fail", name)


def check(username: str, address: str, *, per_address_per_minute: int, failures_per_account: int, now: float,
          ) -> None:
    """Count this attempt against the address; refuse (429) if the address or the account is over its limit."""
    window = int(now // 60)
    attempts_key = key("signin", "addr", address, str(window))
    pair_key, account_key = _keys(username, address)
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.set(attempts_key, 0, ex=120, nx=True)
        pipe.incr(attempts_key)
        pipe.get(pair_key)
        pipe.get(account_key)
        pipe.ttl(account_key)
        pipe.ttl(pair_key)
        _, attempts, pair_failures, account_failures, account_ttl, pair_ttl = pipe.execute()
    except redis.RedisError:
        raise SignInUnavailable("登录服务暂不可用，请稍后再试 (sign-in unavailable)") from None
    if attempts > per_address_per_minute:
        raise RateLimited(max(1, int((window + 1) * 60 - now)))
    if int(pair_failures or 0) >= failures_per_account:
        raise AccountLocked(max(1, pair_ttl))
    if int(account_failures or 0) >= failures_per_account * ACCOUNT_WIDE_FACTOR:
        raise AccountLocked(max(1, account_ttl))


def failed(username: str, address: str) -> None:
    """One more failure for the account, from this address and in all."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        for counter in _keys(username, address):
            pipe.set(counter, 0, ex=FAILURE_WINDOW_SECONDS, nx=True)  # the window starts at the first failure
            pipe.incr(counter)
        pipe.execute()
    except redis.RedisError:
        raise SignInUnavailable("登录服务暂不可用，请稍后再试 (sign-in unavailable)") from None


def succeeded(username: str, address: str) -> None:
    with contextlib.suppress(redis.RedisError):  # the count expires by itself; a good sign-in stands regardless
        get_redis().delete(_keys(username, address)[0])
