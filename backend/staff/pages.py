"""Staff pages shared by the operator console (/admin/) and the organisation portal (/org/): signing in with a
password and a second factor, signing out, one's own account (password, second factor, personal API tokens,
sign out everywhere), and accepting an invitation.

The same view serves both areas (``/<area>/login`` and so on); the area decides where a person lands.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging

import qrcode
import qrcode.image.svg
import redis
from flask import current_app, flash, redirect, request, session
from sqlmodel import Session

from backend.access.identity import optional_staff_principal, staff_principal
from backend.cache import get_redis, key
from backend.db import atomic, read
from backend.errors import DomainError, InvalidInput, Unauthorized
from backend.ratelimit import client_id
from backend.registry.models import Organisation
from backend.staff import invitations, passwords, service, throttle, tokens, totp
from backend.staff import principal as principals
from backend.staff.roles import ROLE_LABELS
from backend.staff.schemas import AcceptForm, CodeForm, PasswordForm, SignInForm, TokenForm
from backend.staff.web import (
    AREA_TITLES,
    field_errors,
    must_enrol,
    new_account_from,
    page,
    page_blueprint,
    parse_form,
    safe_next,
    sign_in,
    sign_out,
)

log = logging.getLogger(__name__)
bp = page_blueprint("staff_pages", __name__, static_folder="static", static_url_path="/assets/staff")
PENDING_SECONDS = 300  # between a right password and its second-factor code
ENROLMENT_SECONDS = 600  # to scan a new second-factor secret and type its first code


def _now():
    return current_app.config["CLOCK"]()


def _home(area: str, principal: principals.Principal) -> str:
    """Operators land in the console (from /org/ too if they belong to no organisation); everyone else in /org/."""
    if principal.platform_roles and (area == "admin" or not principal.organisations):
        return "/admin/"
    return "/org/"


def _throttle(username: str, address: str) -> None:
    """Sign-in limits (backend/staff/throttle.py) for every step that checks a password or a code."""
    config = current_app.config
    throttle.check(username, address, per_address_per_minute=config["SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE"],
                   failures_per_account=config["SIGNIN_FAILURES_PER_ACCOUNT"], now=_now().timestamp())


def _finish_sign_in(area: str, account_id: int, target: str | None, *, second_factor: bool):
    atomic(lambda s: service.record_sign_in(s, _now(), account_id, second_factor=second_factor))
    log.info("staff account %s signed in from %s (second factor: %s)", account_id, client_id(), second_factor)
    principal = read(lambda s: principals.load(s, account_id))
    if principal is None:  # disabled between the password and now
        raise Unauthorized("账号已停用 (account disabled)")
    sign_in(principal)
    if must_enrol(principal):
        return redirect(f"/{area}/account/totp")
    return redirect(safe_next(target, area) if target else _home(area, principal))


def sign_in_page(area: str):
    if request.method == "GET":
        return page("staff/sign_in.html", next=request.args.get("next", ""), signed_in=optional_staff_principal())
    username, target = request.form.get("username", ""), request.form.get("next", "")
    try:
        form = parse_form(SignInForm)
        username = form.username.strip().lower()
        address = client_id()
        _throttle(username, address)
        account = read(lambda s: service.find_account(s, username))
        if not service.password_matches(account, form.password):  # argon2: outside any transaction
            throttle.failed(username, address)
            log.warning("failed sign-in for %r from %s", username, address)
            raise Unauthorized("用户名或密码不正确 (wrong username or password)", code="wrong_credentials")
        if passwords.needs_rehash(account.password_hash):  # made with older argon2 parameters
            new_hash = passwords.hash_password(form.password)
            atomic(lambda s: service.store_rehash(s, account.id, new_hash))
        if account.totp_secret:
            # Not yet a successful sign-in: the failures (wrong codes too) stand until the code is right.
            session["pending_sign_in"] = {"account_id": account.id, "username": username, "area": area,
                                          "next": form.next or "", "at": _now().timestamp()}
            return redirect(f"/{area}/login/code")
        throttle.succeeded(username, address)
        return _finish_sign_in(area, account.id, form.next, second_factor=False)
    except DomainError as error:
        return page("staff/sign_in.html", error.status, error=error, errors=field_errors(error), username=username,
                    next=target)


def second_factor(area: str):
    pending = session.get("pending_sign_in")
    if not pending or not 0 <= _now().timestamp() - pending["at"] <= PENDING_SECONDS:
        session.pop("pending_sign_in", None)
        flash("请重新输入用户名和密码 (please sign in again)")
        return redirect(f"/{area}/login")
    if request.method == "GET":
        return page("staff/second_factor.html")
    try:
        form = parse_form(CodeForm)
        address = client_id()
        _throttle(pending["username"], address)
        if not atomic(lambda s: service.check_totp(s, _now(), account_id=pending["account_id"], code=form.code)):
            throttle.failed(pending["username"], address)
            raise InvalidInput("code", "验证码不正确或已使用 (wrong or already used code)")
        throttle.succeeded(pending["username"], address)
        session.pop("pending_sign_in", None)
        return _finish_sign_in(pending["area"], pending["account_id"], pending["next"], second_factor=True)
    except DomainError as error:
        return page("staff/second_factor.html", error.status, error=error, errors=field_errors(error))


def sign_out_page(area: str):
    sign_out()
    flash("已退出登录 (signed out)")
    return redirect(f"/{area}/login")


# --- one's own account ---------------------------------------------------------------------------------------------

def _account_page(area: str, status: int = 200, **extra):
    principal = staff_principal(enrolling=True)

    def gather(s: Session):
        account = service.get_account(s, principal.account_id)
        return account, tokens.tokens_of(s, account.id)
    account, own_tokens = read(gather)
    now = _now()
    return page("staff/account.html", status, principal=principal, account=account, role_labels=ROLE_LABELS,
                tokens=[tokens.token_view(t, now) for t in own_tokens], title=AREA_TITLES[area], **extra)


def account_page(area: str):
    return _account_page(area)


def change_password(area: str):
    principal = staff_principal()
    try:
        form = parse_form(PasswordForm)
        account = read(lambda s: service.get_account(s, principal.account_id))
        _throttle(account.username, client_id())  # an open session must not become a password-guessing oracle
        if not service.password_matches(account, form.current_password):
            throttle.failed(account.username, client_id())
            raise InvalidInput("current_password", "当前密码不正确 (the current password is wrong)")
        if form.new_password != form.new_password_again:
            raise InvalidInput("new_password_again", "两次输入的新密码不一致 (the new passwords differ)")
        new_hash = passwords.new_hash(form.new_password, username=account.username, field="new_password")
        atomic(lambda s: service.change_password(s, _now(), account_id=account.id, password_hash=new_hash,
                                                 actor=principal.actor))
    except DomainError as error:
        return _account_page(area, error.status, error=error, errors=field_errors(error))
    sign_in(read(lambda s: principals.load(s, principal.account_id)))  # this session goes on; the others ended
    flash("密码已修改，其他设备上的登录已退出 (password changed; other sessions ended)")
    return redirect(f"/{area}/account")


def _qr_data_uri(text: str) -> str:
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _pending_secret(account_id: int, *, new: bool) -> str | None:
    """The secret being set up, kept in Redis for ENROLMENT_SECONDS: not in the cookie, which is signed but readable,
    and a copy of which would then hold the second factor for good."""
    name = key("staff-totp-pending", str(account_id))
    try:
        if new:
            secret = totp.new_secret()
            get_redis().set(name, secret, ex=ENROLMENT_SECONDS)
            return secret
        return get_redis().get(name)
    except redis.RedisError:
        raise throttle.SignInUnavailable("服务暂不可用，请稍后再试 (temporarily unavailable)") from None


def _enrolment_page(principal, secret: str, status: int = 200, **extra):
    uri = totp.provisioning_uri(secret, principal.username)
    return page("staff/totp.html", status, secret=secret, qr=_qr_data_uri(uri), **extra)


def enrol_totp(area: str):
    principal = staff_principal(enrolling=True)
    if principal.second_factor:
        return page("staff/totp.html", enrolled=True)
    secret = None if request.method == "GET" else _pending_secret(principal.account_id, new=False)
    if secret is None:  # a first look, or a form left open past its time: a new secret to scan
        return _enrolment_page(principal, _pending_secret(principal.account_id, new=True))
    try:
        form = parse_form(CodeForm)
        atomic(lambda s: service.enrol_totp(s, _now(), account_id=principal.account_id, secret=secret,
                                            code=form.code, actor=principal.actor))
    except DomainError as error:
        return _enrolment_page(principal, secret, error.status, error=error, errors=field_errors(error))
    with contextlib.suppress(redis.RedisError):  # it expires by itself
        get_redis().delete(key("staff-totp-pending", str(principal.account_id)))
    sign_in(read(lambda s: principals.load(s, principal.account_id)))
    flash("两步验证已启用 (second factor enabled)")
    return redirect(f"/{area}/account")


def create_token(area: str):
    principal = staff_principal()
    try:
        form = parse_form(TokenForm)
        account = read(lambda s: service.get_account(s, principal.account_id))
        token, secret = atomic(lambda s: tokens.issue(s, _now(), account=account, name=form.name, days=form.days,
                                                      actor=principal.actor))
    except DomainError as error:
        return _account_page(area, error.status, error=error, errors=field_errors(error))
    return _account_page(area, 201, new_token=secret, new_token_name=token.name)


def revoke_token(area: str, token_id: int):
    principal = staff_principal()
    atomic(lambda s: tokens.revoke(s, _now(), account_id=principal.account_id, token_id=token_id,
                                   actor=principal.actor))
    flash("令牌已撤销 (token revoked)")
    return redirect(f"/{area}/account")


def end_sessions(area: str):
    principal = staff_principal()
    atomic(lambda s: service.end_sessions(s, _now(), account_id=principal.account_id, actor=principal.actor))
    sign_out()
    flash("已在所有设备上退出登录 (signed out everywhere)")
    return redirect(f"/{area}/login")


# --- invitations ---------------------------------------------------------------------------------------------------

def invitation_page(area: str, secret: str):
    invitation = read(lambda s: invitations.find_open(s, secret, _now()))
    organisation = (read(lambda s: s.get(Organisation, invitation.organisation_id))
                    if invitation.organisation_id is not None else None)
    signed_in = optional_staff_principal()
    context = dict(invitation=invitation, organisation=organisation, signed_in=signed_in, role_labels=ROLE_LABELS,
                   secret=secret)
    if request.method == "GET":
        return page("staff/invitation.html", **context)
    try:
        form = parse_form(AcceptForm)
        if form.action == "accept":
            if signed_in is None:
                raise Unauthorized("请先登录再接受邀请 (sign in to accept)")
            account = read(lambda s: service.get_account(s, signed_in.account_id))
            atomic(lambda s: invitations.accept(s, _now(), secret=secret, account=account))
            sign_in(read(lambda s: principals.load(s, account.id)))
        else:
            account_id = _create_and_accept(form, secret)
            sign_in(read(lambda s: principals.load(s, account_id)))
    except DomainError as error:
        return page("staff/invitation.html", error.status, error=error, errors=field_errors(error), form=request.form,
                    **context)
    flash("已加入 (invitation accepted)")
    return redirect("/org/" if invitation.organisation_id is not None else "/admin/")


def _create_and_accept(form: AcceptForm, secret: str) -> int:
    new = new_account_from(form)

    def work(s: Session) -> int:
        account = service.create_account(s, _now(), username=new.username, display_name=new.display_name,
                                         password_hash=new.password_hash, actor=None)
        invitations.accept(s, _now(), secret=secret, account=account)
        return account.id
    return atomic(work)


AREA = "/<any(admin,org):area>"
PAGES = [  # rule, endpoint (as the permission table names it), view, methods
    (f"{AREA}/login", "sign_in", sign_in_page, ["GET", "POST"]),
    (f"{AREA}/login/code", "second_factor", second_factor, ["GET", "POST"]),
    (f"{AREA}/logout", "sign_out", sign_out_page, ["POST"]),
    (f"{AREA}/account", "account", account_page, ["GET"]),
    (f"{AREA}/account/password", "change_password", change_password, ["POST"]),
    (f"{AREA}/account/totp", "enrol_totp", enrol_totp, ["GET", "POST"]),
    (f"{AREA}/account/tokens", "create_token", create_token, ["POST"]),
    (f"{AREA}/account/tokens/<int:token_id>/revoke", "revoke_token", revoke_token, ["POST"]),
    (f"{AREA}/account/sessions/end", "end_sessions", end_sessions, ["POST"]),
    (f"{AREA}/invite/<secret>", "invitation", invitation_page, ["GET", "POST"]),
]
for rule, endpoint, view, methods in PAGES:
    bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)
