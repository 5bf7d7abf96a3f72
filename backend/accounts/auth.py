"""Who is calling the mini-program API: the citizen behind the Bearer session token. Checks raise."""

from __future__ import annotations

from flask import current_app, g, request

from backend.accounts import sessions
from backend.errors import Unauthorized


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("需要登录 (a Bearer session token is required)")
    return token.strip()


def require_user() -> int:
    """The logged-in user's id, or Unauthorized (the mini-program then calls wx.login again)."""
    if "mp_user_id" not in g:
        user_id = sessions.user_of(bearer_token(), current_app.config["CLOCK"](),
                                   max_age_seconds=current_app.config["MP_SESSION_MAX_AGE_SECONDS"])
        if user_id is None:
            raise Unauthorized("登录已过期，请重新登录 (session expired or unknown)", code="session_expired")
        g.mp_user_id = user_id
    return g.mp_user_id


def per_user() -> str:
    """Whose allowance a per-user rate limit counts (the Route table's ``rate_limit_who``)."""
    return f"user:{require_user()}"
