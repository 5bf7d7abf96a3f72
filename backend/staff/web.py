"""What every staff page shares: the signed session cookie (Flask-Login), CSRF tokens on every form
(Flask-WTF), the security headers, form parsing with the same pydantic models the APIs use, and error pages.

The session cookie names the account and its ``session_epoch``, the sign-in time and the sign-in's id: the
account's roles are read afresh on every request, raising the epoch ends every session at once (sign out
everywhere, a new password, a disabled account), signing out deletes the id from Redis (so a copied cookie dies
too), and a sign-in lasts at most STAFF_SESSION_HOURS.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
from typing import Any
from urllib.parse import quote, urlsplit

import redis
from flask import Blueprint, Flask, current_app, flash, make_response, redirect, render_template, request, session
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from pydantic import BaseModel, ValidationError

from backend.access.identity import EnrolmentRequired, SignInRequired
from backend.cache import get_redis, key
from backend.db import read
from backend.errors import DomainError, InvalidInput
from backend.http import refuse_nul, validation_error
from backend.staff import principal as principals
from backend.staff.principal import Principal
from backend.staff.service import NewAccount, prepare_account
from backend.staff.throttle import SignInUnavailable

log = logging.getLogger(__name__)
csrf = CSRFProtect()
login_manager = LoginManager()
AREA_TITLES = {"admin": "碳汇+ 运营后台", "org": "碳汇+ 机构工作台"}
SECRET_KEY_FILE = "session-secret-key"


class StaffUser(UserMixin):
    """Flask-Login's view of a principal. ``must_enrol``: a platform role without a second factor where one is
    required (PLATFORM_SECOND_FACTOR, always in production): such a session may only set one up."""

    def __init__(self, principal: Principal, must_enrol: bool) -> None:
        self.principal = principal
        self.must_enrol = must_enrol

    def get_id(self) -> str:
        return f"{self.principal.account_id}:{self.principal.session_epoch}"


def _now_seconds() -> float:
    return current_app.config["CLOCK"]().timestamp()


# The cookie is signed, not secret, and a copy of it would work until it expires: each sign-in also has a random
# id that Redis keeps for as long as the sign-in lasts, and signing out deletes it, so a copied cookie dies with it.
def _session_key(session_id: str) -> str:
    return key("staff-session", hashlib.sha256(session_id.encode()).hexdigest())


def open_session(account_id: int) -> str:
    """Register a new sign-in of the account; its id goes into the cookie."""
    session_id = secrets.token_urlsafe(24)
    try:
        get_redis().set(_session_key(session_id), str(account_id),
                        ex=current_app.config["STAFF_SESSION_HOURS"] * 3600)
    except redis.RedisError:
        raise SignInUnavailable("登录服务暂不可用，请稍后再试 (sign-in unavailable)") from None
    return session_id


def _session_is_open(session_id: object, account_id: str) -> bool:
    if not isinstance(session_id, str) or not 16 <= len(session_id) <= 64:
        return False
    try:
        return get_redis().get(_session_key(session_id)) == account_id
    except redis.RedisError as error:  # nobody is let in unchecked; signing in again answers 503 until it is back
        log.warning("staff session not checked, Redis unavailable: %s", error)
        return False


def _close_session() -> None:
    if isinstance(session_id := session.get("sid"), str):
        with contextlib.suppress(redis.RedisError):  # it expires by itself with the sign-in's lifetime
            get_redis().delete(_session_key(session_id))


@login_manager.user_loader
def _load_user(user_id: str) -> StaffUser | None:
    account_id, _, epoch = user_id.partition(":")
    signed_in_at = session.get("signed_in_at")
    lifetime = current_app.config["STAFF_SESSION_HOURS"] * 3600
    if not account_id.isdigit() or not isinstance(signed_in_at, (int, float)) \
            or not 0 <= _now_seconds() - signed_in_at <= lifetime or not _session_is_open(session.get("sid"), account_id):
        return None
    principal = read(lambda s: principals.load(s, int(account_id)))
    if principal is None or str(principal.session_epoch) != epoch:
        return None
    return StaffUser(principal, must_enrol(principal))


def must_enrol(principal: Principal) -> bool:
    return (current_app.config["PLATFORM_SECOND_FACTOR"] and bool(principal.platform_roles)
            and not principal.second_factor)


def sign_in(principal: Principal) -> None:
    """Start a fresh session for the principal (nothing of the session before carries over)."""
    session_id = open_session(principal.account_id)
    _close_session()
    session.clear()
    login_user(StaffUser(principal, must_enrol(principal)))
    session["signed_in_at"] = _now_seconds()
    session["sid"] = session_id


def sign_out() -> None:
    _close_session()
    logout_user()
    session.clear()


# --- pages ---------------------------------------------------------------------------------------------------------

def area_of_path(path: str | None = None) -> str:
    return "admin" if (path or request.path).startswith("/admin") else "org"


def safe_next(target: str | None, area: str) -> str:
    """Where to go after signing in: a path of this site only (never //evil.example or https://…)."""
    home = f"/{area}/"
    if not target or not target.isprintable():  # a header split (CR/LF) or worse: not somewhere to go
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return home
    return target


def page(template: str, status: int = 200, **context: Any):
    """A rendered page with the headers every staff page carries."""
    context.setdefault("area", area_of_path())
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"  # personal data and one-time secrets
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # invitation links carry their secret in the path
    response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; script-src 'self'; "
                                                  "style-src 'self'; form-action 'self'; base-uri 'none'; "
                                                  "frame-ancestors 'none'")
    if current_app.config["APP_ENV"] == "production":  # browsers keep to https for this site from now on
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return say_when(response, context.get("error"))


def say_when(response, error: DomainError | None):
    """A refusal that passes with time (429) says when: ``Retry-After``."""
    if (retry_after := getattr(error, "retry_after", None)) is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def parse_form(model: type[BaseModel]) -> BaseModel:
    """The form's fields (the CSRF token aside) validated by the model the JSON API uses; a 400 names the field."""
    fields = {name: value for name, value in request.form.items() if name != "csrf_token"}
    try:
        parsed = model.model_validate(fields)
    except ValidationError as error:
        raise validation_error(error) from None
    refuse_nul(parsed.model_dump())  # PostgreSQL text cannot hold U+0000: a 400, as for JSON bodies
    return parsed


def new_account_from(form: Any) -> NewAccount:
    """The new-account part of a form (invitation, sign-up): every field given, the password typed twice alike."""
    for name in ("username", "display_name", "password", "password_again"):
        if not getattr(form, name):
            raise InvalidInput(name, "必填 (required)")
    if form.password != form.password_again:
        raise InvalidInput("password_again", "两次输入的密码不一致 (the passwords differ)")
    return prepare_account(form.username, form.display_name, form.password)


def field_errors(error: DomainError | None) -> dict[str, str]:
    """{field: message} for a form to show beside each input: the first message a refusal gives for each field."""
    if error is None or not isinstance(error.details, list):
        return {}
    found: dict[str, str] = {}
    for item in error.details:
        if isinstance(item, dict) and "field" in item:
            found.setdefault(item["field"], item["message"])
    return found


def page_blueprint(name: str, import_name: str, **kwargs: Any) -> Blueprint:
    """A blueprint of pages: CSRF on every POST, sign-in redirects, HTML error pages."""
    bp = Blueprint(name, import_name, template_folder="templates", **kwargs)

    @bp.before_request
    def _check_csrf() -> None:
        if request.method == "POST":
            csrf.protect()

    @bp.errorhandler(SignInRequired)
    def _sign_in_first(error: SignInRequired):
        area = area_of_path()
        target = request.full_path if request.method == "GET" else ""
        return redirect(f"/{area}/login" + (f"?next={quote(target.rstrip('?'), safe='/')}" if target else ""))

    @bp.errorhandler(EnrolmentRequired)
    def _enrol_first(error: EnrolmentRequired):
        flash("生产环境中平台角色须启用两步验证，请先设置 (set up the second factor first)")
        return redirect(f"/{area_of_path()}/account/totp")

    @bp.errorhandler(CSRFError)
    def _csrf_failed(error: CSRFError):
        log.info("CSRF check failed on %s: %s", request.path, error.description)
        return page("staff/error.html", 400, title="页面已过期",
                    message="表单已过期或来源不明，请返回刷新后重试 (the form expired or did not come from this site: "
                            "reload it and try again)")

    @bp.errorhandler(DomainError)
    def _problem(error: DomainError):
        return say_when(page("staff/error.html", error.status, title="无法完成", message=error.message), error)

    return bp


def _secret_key(app: Flask) -> str:
    """SECRET_KEY, or outside production one generated once into the instance folder (so restarts keep sessions)."""
    if app.config.get("SECRET_KEY"):
        return app.config["SECRET_KEY"]
    path = os.path.join(app.instance_path, SECRET_KEY_FILE)
    if not os.path.exists(path):
        # Written whole under another name, then linked into place: of several processes starting at once (gunicorn
        # workers) one link wins and every process reads that one whole key.
        scratch = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):
            os.link(scratch, path)
        os.unlink(scratch)
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def init_app(app: Flask) -> None:
    app.config["SECRET_KEY"] = _secret_key(app)
    app.config.update(
        SESSION_COOKIE_NAME="th_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["APP_ENV"] == "production",
        WTF_CSRF_CHECK_DEFAULT=False,  # only pages use cookies; page blueprints call csrf.protect() themselves
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session's life: a sign-in form left open overnight still works
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = None  # pages redirect to their own area's form (see page_blueprint)

