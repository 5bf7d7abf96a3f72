"""Who is calling the mini-program API: the user behind the Bearer session token. Checks raise."""

from __future__ import annotations

from flask import g, request

from backend.accounts import sessions
from backend.errors import InvalidInput, Unauthorized
from backend.ledger.operations import check_client_id


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("需要登录 (a Bearer session token is required)")
    return token.strip()


def require_user() -> int:
    """The logged-in user's id, or Unauthorized (the mini-program then calls wx.login again)."""
    if "mp_user_id" not in g:
        user_id = sessions.user_of(bearer_token())
        if user_id is None:
            raise Unauthorized("登录已过期，请重新登录 (session expired or unknown)", code="session_expired")
        g.mp_user_id = user_id
    return g.mp_user_id


def idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise InvalidInput("Idempotency-Key", "缺少幂等键请求头 (the Idempotency-Key header is required)")
    return check_client_id(key, "Idempotency-Key")
