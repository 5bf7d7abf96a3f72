"""Who a staff request comes from. JSON APIs (``/api/…``) accept only a personal token (``Authorization: Bearer``),
pages only the signed session cookie: a cookie never authorises an API call, so the APIs need no CSRF defence,
and a token pasted into a browser opens no page.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_login import current_user

from backend.db import atomic, read
from backend.errors import Unauthorized
from backend.staff import principal as principals
from backend.staff import tokens
from backend.staff.principal import Principal


class SignInRequired(Unauthorized):
    """No staff identity on a page: the page's error handler sends the person to its sign-in form."""

    code = "sign_in_required"


class EnrolmentRequired(Unauthorized):
    """Platform roles need a second factor here (PLATFORM_SECOND_FACTOR, always in production); this person has yet
    to set one up, so their pages lead there."""

    code = "second_factor_required"


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _from_token() -> Principal | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(tokens.PREFIX) or len(secret) > 100:
        return None
    now = current_app.config["CLOCK"]()
    found = read(lambda s: principals.load_by_token(s, tokens.digest(secret), now))
    if found is None:
        return None
    principal, token = found
    if (current_app.config["PLATFORM_SECOND_FACTOR"] and principal.platform_roles and principal.can_sign_in
            and not principal.second_factor):
        # A person's token made before they held a platform role, or kept through a second-factor reset, must not
        # carry platform powers that their own sign-in could not (script accounts without a password are exempt).
        raise Unauthorized("平台角色须先在网页上设置两步验证，令牌才能使用 (set up the second factor on the web first)",
                           code="second_factor_required")
    if tokens.needs_use_noted(token, now):
        atomic(lambda s: tokens.note_use(s, now, token))
    return principal


def staff_principal(*, enrolling: bool = False) -> Principal:
    """The staff principal of this request, or Unauthorized (API) / SignInRequired (page)."""
    if "staff_principal" not in g:
        if is_api_request():
            g.staff_principal = _from_token()
        else:
            user = current_user
            g.staff_principal = user.principal if user and user.is_authenticated else None
    principal = g.staff_principal
    if principal is None:
        if is_api_request():
            raise Unauthorized("需要有效的个人令牌 (a valid personal API token is required: Authorization: Bearer thp_…)")
        raise SignInRequired("请先登录 (please sign in)")
    if not enrolling and not is_api_request() and current_user.must_enrol:
        raise EnrolmentRequired("请先设置两步验证 (set up the second factor first)")
    return principal


def optional_staff_principal() -> Principal | None:
    try:
        return staff_principal()
    except Unauthorized:
        return None
