"""Signing in to the operator console (/admin/) and the organisation portal (/org/), told as the people who do it.

王芳 is a platform reviewer, 陈静 a clerk of 大邑县人民法院, 钱慧 in finance, 赵磊 an auditor with an authenticator
app on her phone. They sign in with a password (and a six-digit code once they have set one up), land on their own
pages, go where they were going, and are signed out when their session's hours are up, when they sign out
everywhere, when their password changes, when their account is disabled — and lose a page the moment they lose
the role it needs. A guesser is slowed by the throttle: per account and address, per account, and per address.

Every browser here is its own test client (its own cookies) with its own address; forms are submitted with the
CSRF token of the page they are on, as a browser would. The fake clock stands at 2026-03-12 09:00 UTC.
"""

from __future__ import annotations

import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from backend import create_app
from backend.cache import get_redis
from backend.settings import SPEC
from backend.staff import throttle
from backend.staff.totp import code_at
from tests.conftest import LIVE_WECHAT
from tests.staff.conftest import NEW_PASSWORD, PASSWORD, Page, enrol, last_events, signed_in_to, wrong_code

WRONG_CREDENTIALS = "用户名或密码不正确 (wrong username or password)"
WINDOW = 15 * 60  # the failure window, in seconds (backend/staff/throttle.py)


def retry_after(response) -> int:
    return int(response.headers["Retry-After"])


# --- the form ------------------------------------------------------------------------------------------------------

def test_contract_the_sign_in_form_signs_in_the_person_it_names(app, browser, cli):
    """An account made with ``flask users create`` (the password on stdin) signs in on /admin/login, and the
    console then names her."""
    cli.ok("create", "wang.fang", "--role", "reviewer", "--display-name", "王芳", input=f"{PASSWORD}\n{PASSWORD}\n")
    office = browser()
    assert office.get("/admin/").location == "/admin/login?next=/admin/"

    page = office.open("/admin/login")
    assert page.status == 200 and page.response.mimetype == "text/html"
    form = page.form("sign-in")
    assert (form.method, form.action) == ("post", "/admin/login")
    assert form.field("username")["type"] == "text"
    assert form.field("password")["type"] == "password"
    assert form.field("csrf_token")["type"] == "hidden" and form.field("csrf_token")["value"]

    response = office.client.post("/admin/login", data={"csrf_token": form.field("csrf_token")["value"],
                                                        "username": "wang.fang", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/admin/"
    home = office.open("/admin/")
    assert home.status == 200
    assert home.text("who") == "王芳 @wang.fang"
    assert "审核员 (reviewer)" in home.text("roles")
    [signed] = last_events(app)
    assert signed["action"] == "staff.sign_in" and signed["actor"].endswith(":wang.fang")
    # The chain is permanent, so it keeps no address (personal data); the application log has it.
    assert signed["after"] == {"second_factor": False}


def test_a_sign_in_without_the_forms_own_csrf_token_signs_nobody_in(app, browser, people):
    """The right password is not enough: the form must come from this site, in this browser."""
    people.make("wang.fang", "reviewer")
    office = browser()
    office.open("/admin/login")  # this browser's session now has a CSRF secret of its own
    someone_elses = browser().open("/admin/login").csrf
    for csrf in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": someone_elses}):
        response = office.client.post("/admin/login", data={**csrf, "username": "wang.fang", "password": PASSWORD})
        assert response.status_code == 400, csrf
        assert "表单已过期或来源不明" in Page(response).text("problem")
        assert office.get("/admin/").location == "/admin/login?next=/admin/"
    assert not any(event["action"] == "staff.sign_in" for event in last_events(app, 50))


def test_a_wrong_password_and_an_unknown_username_get_the_same_answer(app, browser, people):
    """Nobody learns from the sign-in form whether an account exists: the pages differ only in what was typed."""
    people.make("wang.fang", "reviewer")
    stranger = browser()
    guess = "Guess-Number-One-9"
    wrong = Page(stranger.sign_in("wang.fang", guess))
    unknown = Page(stranger.sign_in("wang.feng", guess))
    for page in (wrong, unknown):
        assert page.status == 401
        assert page.text("error") == WRONG_CREDENTIALS
        assert guess not in page.html  # the password is never sent back
    assert (wrong.html.replace(wrong.csrf, "").replace("wang.fang", "NAME")
            == unknown.html.replace(unknown.csrf, "").replace("wang.feng", "NAME"))
    assert not signed_in_to(stranger)


def test_the_session_cookie_is_http_only_and_same_site_and_pages_are_neither_cached_nor_framed(app, browser, people):
    people.make("wang.fang", "reviewer")
    office = browser()
    signed = office.sign_in("wang.fang")
    assert signed.status_code == 302
    [cookie] = [c for c in signed.headers.getlist("Set-Cookie") if c.startswith("th_session=")]
    attributes = {part.strip().partition("=")[0].lower(): part.strip().partition("=")[2]
                  for part in cookie.split(";")[1:]}
    assert "httponly" in attributes and attributes["samesite"] == "Lax"
    assert "secure" not in attributes and app.config["SESSION_COOKIE_SECURE"] is False  # http://127.0.0.1 in tests

    for path in ("/admin/login", "/admin/", "/admin/account"):
        response = office.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        directives = dict((d.split()[0], d.split()[1:]) for d in response.headers["Content-Security-Policy"].split(";"))
        assert directives["default-src"] == ["'self'"] and directives["frame-ancestors"] == ["'none'"]
        assert directives["form-action"] == ["'self'"]
        sources = {source for values in directives.values() for source in values}
        assert sources <= {"'self'", "'none'", "data:"}, sources  # no other origin, no inline script


def test_in_production_the_session_cookie_is_secure_as_well(tmp_path, monkeypatch):
    """A production app (https, every secret set) marks the cookie Secure: it never travels over plain http."""
    for name in SPEC:
        monkeypatch.delenv(name, raising=False)
    production = create_app({
        "APP_ENV": "production", "TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/production.db",
        "REDIS_URL": "redis://cache.invalid:6379/0", "SECRET_KEY": "p" * 48,
        "PUBLIC_BASE_URL": "https://tanhui.example.cn", "CERT_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
        **LIVE_WECHAT})
    try:
        assert production.config["SESSION_COOKIE_SECURE"] is True
        response = production.test_client().get("/admin/login", base_url="https://tanhui.example.cn")
        [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("th_session=")]
        assert {"Secure", "HttpOnly", "SameSite=Lax"} <= {part.strip() for part in cookie.split(";")}
    finally:
        production.extensions["db_engine"].dispose()


# --- the portal, landing pages, next= ------------------------------------------------------------------------------

def test_an_organisation_member_signs_in_on_the_portal_and_each_person_lands_on_their_own_pages(
        browser, people, organisation):
    people.make("chen.jing", "clerk", organisation_id=organisation["id"], display_name="陈静")
    people.make("wang.fang", "reviewer", display_name="王芳")

    clerk = browser("198.51.100.1")
    form = clerk.open("/org/login").form("sign-in")
    assert form.action == "/org/login" and form.field("username")["type"] == "text"
    assert form.field("password")["type"] == "password" and form.hidden()["csrf_token"]
    assert clerk.sign_in("chen.jing", area="org").location == "/org/"
    portal = clerk.open("/org/")
    assert portal.status == 200 and portal.text("who") == "陈静 @chen.jing"
    assert "大邑县人民法院" in portal.text("organisations") and "经办人 (clerk)" in portal.text("organisations")

    # At the operators' door the clerk still lands in her portal: the console is not hers.
    assert clerk.sign_in("chen.jing", area="admin").location == "/org/"
    assert clerk.get("/admin/").status_code == 403

    # A reviewer signing in at the portal's door lands in the console.
    reviewer = browser("198.51.100.2")
    assert reviewer.sign_in("wang.fang", area="org").location == "/admin/"
    assert reviewer.open("/admin/").text("who") == "王芳 @wang.fang"


def test_after_signing_in_a_person_goes_where_they_were_going_on_this_site_only(browser, people, organisation):
    people.make("chen.jing", "clerk", organisation_id=organisation["id"])
    members = f"/org/{organisation['id']}/members"
    clerk = browser()

    # The members page sends her to sign in, remembering where she was going; the form carries it along.
    to_sign_in = clerk.get(members).location
    assert to_sign_in == f"/org/login?next={members}"
    form = clerk.open(to_sign_in).form("sign-in")
    assert form.hidden()["next"] == members
    arrived = clerk.client.post(form.action, data={**form.hidden(), "username": "chen.jing", "password": PASSWORD})
    assert arrived.location == members
    assert clerk.get(members).status_code == 200

    # Another site, however it is spelt, is not a place to send her: she lands on her portal instead.
    for elsewhere in ("//evil.example/x", "https://evil.example", "/\\evil.example/x"):
        assert clerk.sign_in("chen.jing", area="org", next=elsewhere).location == "/org/", elsewhere


# --- throttling ----------------------------------------------------------------------------------------------------

def test_failures_from_one_address_lock_the_account_there_until_the_window_ends(app, browser, people):
    app.config["SIGNIN_FAILURES_PER_ACCOUNT"] = 3
    people.make("wang.fang", "reviewer")
    guesser = browser("203.0.113.9")
    for guess in ("Guess-Number-One-1", "Guess-Number-Two-2", "Guess-Number-Three-3"):
        assert guesser.sign_in("wang.fang", guess).status_code == 401

    # Three failures: from this address the account now refuses everything, the right password included.
    locked = guesser.sign_in("wang.fang", PASSWORD)
    assert locked.status_code == 429
    assert WINDOW - 60 < retry_after(locked) <= WINDOW
    assert "登录失败次数过多" in Page(locked).text("error")
    assert not signed_in_to(guesser)

    # 王芳 at her own desk is not locked out by someone else's guessing.
    office = browser("198.51.100.20")
    assert office.sign_in("wang.fang").location == "/admin/"
    assert guesser.sign_in("wang.fang", PASSWORD).status_code == 429

    # The lock is the window's counter in Redis and nothing else: it was set to expire with the window, and once
    # it has (Redis keeps real time, so the test moves that expiry forward rather than waiting 15 minutes), the
    # right password works again from that address.
    with app.app_context():
        failures = throttle._keys("wang.fang", "203.0.113.9")[0]
        assert int(get_redis().get(failures)) == 3
        assert 0 < get_redis().ttl(failures) <= WINDOW
        get_redis().pexpire(failures, 1)
    time.sleep(0.05)
    assert guesser.sign_in("wang.fang", PASSWORD).location == "/admin/"


def test_a_guesser_spread_over_many_addresses_locks_the_account_for_everyone(app, browser, people):
    """Past four times the per-address limit from all addresses together, the account refuses every address."""
    app.config["SIGNIN_FAILURES_PER_ACCOUNT"] = 1
    people.make("wang.fang", "reviewer")
    for n in range(1, 4):
        assert browser(f"203.0.113.{n}").sign_in("wang.fang", f"Guess-Number-{n}-abc").status_code == 401
    assert browser("198.51.100.20").sign_in("wang.fang").location == "/admin/"  # three failures in all: still open
    assert browser("203.0.113.4").sign_in("wang.fang", "Guess-Number-4-abc").status_code == 401

    office = browser("198.51.100.21")
    locked = office.sign_in("wang.fang")
    assert locked.status_code == 429 and 0 < retry_after(locked) <= WINDOW
    assert not signed_in_to(office)


def test_an_address_may_try_only_so_many_sign_ins_a_minute(app, browser, people, clock):
    app.config["SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE"] = 3
    people.make("wang.fang", "reviewer")
    sprayer = browser("203.0.113.50")
    for name in ("li.lei", "han.meimei", "zhang.san"):  # one guess each: no account is anywhere near its lock
        assert sprayer.sign_in(name, "Spring-2026-abc").status_code == 401

    limited = sprayer.sign_in("wang.fang", PASSWORD)
    assert limited.status_code == 429 and 0 < retry_after(limited) <= 60
    assert "请求过于频繁" in Page(limited).text("error")
    assert browser("198.51.100.20").sign_in("wang.fang").location == "/admin/"  # other addresses are not slowed

    clock.advance(minutes=1)  # the next minute, a new allowance
    assert sprayer.sign_in("wang.fang", PASSWORD).location == "/admin/"


def test_with_redis_down_nobody_signs_in(app, browser, people):
    """The throttle fails closed: an unthrottled password form is an open door for guessing."""
    people.make("wang.fang", "reviewer")
    app.extensions["redis"] = redis.Redis(host="127.0.0.1", port=1, decode_responses=True,  # nothing listens there
                                          retry=Retry(NoBackoff(), 0))  # refused at once, not after retries
    office = browser()
    response = office.sign_in("wang.fang")
    assert response.status_code == 503 and "登录服务暂不可用" in Page(response).text("error")
    assert not signed_in_to(office)


# --- the second factor ---------------------------------------------------------------------------------------------

def test_with_a_second_factor_a_sign_in_takes_the_password_and_then_a_code_that_works_once(app, browser, people,
                                                                                          clock):
    people.make("zhao.lei", "auditor", display_name="赵磊")
    phone = browser()
    assert phone.sign_in("zhao.lei").location == "/admin/"

    # She sets up her authenticator: the page shows the secret once, and a code from the app confirms it.
    page = phone.open("/admin/account/totp")
    secret = page.text("totp-secret")
    assert len(secret) == 32 and page.form("enrol").action == "/admin/account/totp"
    refused = phone.submit("/admin/account/totp", "/admin/account/totp", {"code": wrong_code(secret, clock())})
    assert refused.status_code == 400
    secret = Page(refused).text("totp-secret")  # the same secret, offered again
    enrolled = phone.client.post("/admin/account/totp", data={"csrf_token": Page(refused).csrf,
                                                              "code": code_at(secret, clock())})
    assert enrolled.location == "/admin/account"
    assert "已启用" in phone.open("/admin/account/totp").html
    assert phone.sign_out().location == "/admin/login"

    # Half a minute later she signs in: the password alone opens nothing, the code page comes next.
    clock.advance(seconds=30)
    assert phone.sign_in("zhao.lei").location == "/admin/login/code"
    assert not signed_in_to(phone)
    refused = phone.enter_code(wrong_code(secret, clock()))
    assert refused.status_code == 400 and "验证码不正确或已使用" in Page(refused).text("error")
    assert not signed_in_to(phone)
    code = code_at(secret, clock())
    assert phone.enter_code(code).location == "/admin/"
    assert phone.who() == "赵磊 @zhao.lei"
    [signed] = last_events(app)
    assert signed["action"] == "staff.sign_in" and signed["after"]["second_factor"] is True

    # The same code, seen over her shoulder, does not work a second time (within its minute or ever).
    phone.sign_out()
    assert phone.sign_in("zhao.lei").location == "/admin/login/code"
    assert phone.enter_code(code).status_code == 400
    assert not signed_in_to(phone)
    clock.advance(seconds=30)
    assert phone.enter_code(code_at(secret, clock())).location == "/admin/"


def test_wrong_codes_count_towards_the_lock_and_typing_the_password_again_does_not_wipe_them(app, browser, people,
                                                                                           clock):
    """Someone who has the password cannot guess codes for ever by re-entering it between guesses."""
    app.config["SIGNIN_FAILURES_PER_ACCOUNT"] = 2
    people.make("zhao.lei", "auditor")
    secret = enrol(app, "zhao.lei")
    clock.advance(seconds=30)
    thief = browser("203.0.113.77")
    assert thief.sign_in("zhao.lei").location == "/admin/login/code"
    assert thief.enter_code(wrong_code(secret, clock())).status_code == 400
    assert thief.sign_in("zhao.lei").location == "/admin/login/code"
    assert thief.enter_code(wrong_code(secret, clock())).status_code == 400

    # Two wrong codes from this address: locked, even for the right code and the right password.
    locked = thief.enter_code(code_at(secret, clock()))
    assert locked.status_code == 429 and 0 < retry_after(locked) <= WINDOW
    assert thief.sign_in("zhao.lei").status_code == 429
    assert not signed_in_to(thief)


def test_where_platform_roles_need_a_second_factor_a_person_without_one_can_only_set_it_up(
        app, browser, people, organisation, clock):
    app.config["PLATFORM_SECOND_FACTOR"] = True  # as in production
    people.make("qian.hui", "finance", display_name="钱慧")
    finance = browser("198.51.100.1")
    assert finance.sign_in("qian.hui").location == "/admin/account/totp"
    for path in ("/admin/", "/org/"):
        assert finance.get(path).location == f"{path}account/totp", path
    made = finance.submit("/admin/account/totp", "/admin/account/tokens", {"name": "导出脚本", "days": "30"})
    assert made.location == "/admin/account/totp"
    assert "导出脚本" not in finance.open("/admin/account").html  # no token was made

    page = finance.open("/admin/account/totp")
    enrolled = finance.client.post("/admin/account/totp", data={
        "csrf_token": page.csrf, "code": code_at(page.text("totp-secret"), clock())})
    assert enrolled.location == "/admin/account"
    assert finance.get("/admin/").status_code == 200

    # An organisation's clerk holds no platform role: the rule does not touch her.
    people.make("chen.jing", "clerk", organisation_id=organisation["id"])
    clerk = browser("198.51.100.2")
    assert clerk.sign_in("chen.jing", area="org").location == "/org/"
    assert clerk.get("/org/").status_code == 200


# --- how long a session lasts, and what ends it --------------------------------------------------------------------

def test_a_sign_in_lasts_staff_session_hours_and_then_the_pages_ask_again(app, browser, people, clock):
    app.config["STAFF_SESSION_HOURS"] = 8
    people.make("wang.fang", "reviewer")
    office = browser()
    office.sign_in("wang.fang")
    clock.advance(hours=7, minutes=59)
    assert office.get("/admin/").status_code == 200
    clock.advance(minutes=2)
    assert office.get("/admin/").location == "/admin/login?next=/admin/"
    assert not signed_in_to(office)


def test_signing_out_ends_this_browser_and_signing_out_everywhere_ends_them_all(app, browser, people):
    people.make("wang.fang", "reviewer", display_name="王芳")
    office, phone = browser("198.51.100.10"), browser("198.51.100.11")
    office.sign_in("wang.fang")
    phone.sign_in("wang.fang")
    assert office.who() == phone.who() == "王芳 @wang.fang"

    assert office.sign_out().location == "/admin/login"
    assert not signed_in_to(office) and signed_in_to(phone)

    office.sign_in("wang.fang")
    assert phone.submit("/admin/account", "/admin/account/sessions/end").location == "/admin/login"
    assert not signed_in_to(phone) and not signed_in_to(office)
    assert last_events(app)[0]["action"] == "staff.sessions_end"


def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(app, browser, people):
    people.make("wang.fang", "reviewer", display_name="王芳")
    office, phone = browser("198.51.100.10"), browser("198.51.100.11")
    office.sign_in("wang.fang")
    phone.sign_in("wang.fang")

    change = {"current_password": "Not-My-Password-1", "new_password": NEW_PASSWORD,
              "new_password_again": NEW_PASSWORD}
    wrong = office.submit("/admin/account", "/admin/account/password", change)
    assert wrong.status_code == 400 and "当前密码不正确" in Page(wrong).text("error")
    assert signed_in_to(phone)

    changed = office.submit("/admin/account", "/admin/account/password", {**change, "current_password": PASSWORD})
    assert changed.location == "/admin/account"
    assert office.who() == "王芳 @wang.fang"
    assert not signed_in_to(phone)
    assert phone.sign_in("wang.fang", PASSWORD).status_code == 401
    assert phone.sign_in("wang.fang", NEW_PASSWORD).location == "/admin/"


def test_an_open_session_cannot_guess_the_current_password_without_limit(app, browser, people):
    """Changing the password asks for the current one: wrong answers count like failed sign-ins."""
    app.config["SIGNIN_FAILURES_PER_ACCOUNT"] = 2
    people.make("wang.fang", "reviewer")
    office = browser("198.51.100.10")
    office.sign_in("wang.fang")
    guess = {"current_password": "Not-My-Password-1", "new_password": NEW_PASSWORD,
             "new_password_again": NEW_PASSWORD}
    for _ in range(2):
        assert office.submit("/admin/account", "/admin/account/password", guess).status_code == 400
    locked = office.submit("/admin/account", "/admin/account/password", {**guess, "current_password": PASSWORD})
    assert locked.status_code == 429 and locked.headers["Retry-After"]
    assert browser("198.51.100.11").sign_in("wang.fang", NEW_PASSWORD).status_code == 401  # nothing changed


def test_a_disabled_account_is_signed_out_at_once_and_cannot_sign_in(browser, people, cli):
    people.make("wang.fang", "reviewer")
    office = browser()
    office.sign_in("wang.fang")
    assert office.get("/admin/").status_code == 200

    cli.ok("disable", "wang.fang")
    assert office.get("/admin/").location == "/admin/login?next=/admin/"
    refused = office.sign_in("wang.fang")
    assert refused.status_code == 401 and Page(refused).text("error") == WRONG_CREDENTIALS

    cli.ok("enable", "wang.fang")  # the door opens again, but the old session stays ended
    assert not signed_in_to(office)


def test_an_account_removed_from_its_role_loses_the_page_on_the_next_request(browser, people, organisation, cli):
    members = f"/org/{organisation['id']}/members"
    people.make("chen.jing", "clerk", organisation_id=organisation["id"])
    people.make("wang.fang", "reviewer")
    clerk, reviewer = browser("198.51.100.1"), browser("198.51.100.2")
    clerk.sign_in("chen.jing", area="org")
    reviewer.sign_in("wang.fang")
    assert clerk.get(members).status_code == 200 and reviewer.get("/admin/").status_code == 200

    cli.ok("revoke", "chen.jing", "--org", str(organisation["id"]))
    cli.ok("revoke", "wang.fang", "--role", "reviewer")
    assert clerk.get(members).status_code == 404  # another organisation's page now: not hers to know of
    assert reviewer.get("/admin/").status_code == 403
    # Still signed in — what they lost is the role, not their account.
    assert signed_in_to(clerk, "org") and signed_in_to(reviewer)
