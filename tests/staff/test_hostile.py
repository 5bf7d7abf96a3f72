"""What a hostile reviewer tried against signing in, and what now holds: a copied cookie dies at sign-out, the
second factor's secret never travels in the cookie, a person's old token cannot carry platform powers past the
second factor, odd input is a 400 (never a 500), a crafted username locks nobody else out, and the platform
always keeps an admin."""

from __future__ import annotations

import re

from backend.cache import get_redis
from backend.staff import throttle
from tests.envelope import refused
from tests.staff.conftest import PASSWORD, Page, signed_in_to


def test_a_copied_session_cookie_stops_working_when_its_owner_signs_out(app, browser, people):
    people.make("wang.fang", "reviewer")
    office = browser("198.51.100.10")
    office.sign_in("wang.fang")
    cookie = office.client.get_cookie("th_session").value
    copy = browser("203.0.113.66")
    copy.client.set_cookie("th_session", cookie)
    assert signed_in_to(copy)  # the same cookie, elsewhere: it is the session until…

    office.sign_out()
    assert not signed_in_to(copy)  # …its owner signs out: the sign-in's id is gone from the server


def test_the_second_factor_secret_being_set_up_is_never_in_the_cookie(app, browser, people):
    people.make("wang.fang", "reviewer")
    office = browser()
    office.sign_in("wang.fang")
    page = office.open("/admin/account/totp")
    secret = page.text("totp-secret")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    payload = app.session_interface.get_signing_serializer(app).loads(office.client.get_cookie("th_session").value)
    assert secret not in repr(payload)


def test_a_persons_token_carries_no_platform_power_until_they_have_a_second_factor(app, client, cli, people):
    """A clerk's token, then a platform role: where platform roles need a second factor, the token waits for it."""
    app.config["PLATFORM_SECOND_FACTOR"] = True
    people.make("wang.fang", "reviewer")
    token = cli.ok("token", "wang.fang").split()[-1]
    refused(client.get("/api/admin/v1/projects", headers={"Authorization": f"Bearer {token}"}), 401,
            "second_factor_required")
    # A script's account has no password to go with a second factor: its token works as issued.
    cli.ok("create", "nightly-export", "--role", "auditor", "--no-password")
    script = cli.ok("token", "nightly-export").split()[-1]
    assert client.get("/api/admin/v1/projects", headers={"Authorization": f"Bearer {script}"}).status_code == 200


def test_odd_characters_in_forms_are_refused_not_crashed_on(browser, people):
    people.make("wang.fang", "reviewer")
    visitor = browser()
    nul = visitor.submit("/admin/login", "/admin/login", {"username": "wang\x00fang", "password": PASSWORD})
    assert nul.status_code == 400 and "NUL" in Page(nul).text("error")
    # A next= that would split a header takes the person home instead.
    signed = visitor.submit("/admin/login", "/admin/login", {"username": "wang.fang", "password": PASSWORD,
                                                             "next": "/admin/\r\nSet-Cookie: x=1"})
    assert signed.status_code == 302 and signed.location == "/admin/"


def test_a_crafted_username_cannot_lock_someone_out_from_their_own_address(app, browser, people):
    """"wang.fang:198.51.100.10" is a name of its own: its failures are not wang.fang's from 198.51.100.10."""
    app.config["SIGNIN_FAILURES_PER_ACCOUNT"] = 2
    people.make("wang.fang", "reviewer")
    for n in range(5):
        browser(f"203.0.113.{n}").sign_in("wang.fang:198.51.100.10", "guess")
    assert browser("198.51.100.10").sign_in("wang.fang").location == "/admin/"
    with app.app_context():
        assert get_redis().get(throttle._keys("wang.fang", "198.51.100.10")[0]) is None


def test_a_password_is_taken_as_typed_spaces_and_all(cli, browser):
    cli.ok("create", "wang.fang", "--role", "reviewer", input="  spaced out pass  \n")
    assert browser().sign_in("wang.fang", "spaced out pass").status_code == 401
    assert browser().sign_in("wang.fang", "  spaced out pass  ").location == "/admin/"


def test_the_platform_always_keeps_an_enabled_admin(app, client, cli, operator):
    mine = {"Authorization": operator.headers["Authorization"]}
    me = client.get("/api/staff/v1/me", headers=mine).get_json()["id"]
    refused(client.delete(f"/api/admin/v1/staff/{me}/roles/admin", headers=mine), 409, "last_platform_admin")
    assert "the platform must keep an enabled admin" in cli.fails("disable", "operator")
    cli.ok("create", "second-admin", "--role", "admin", "--no-password")
    assert client.delete(f"/api/admin/v1/staff/{me}/roles/admin", headers=mine).status_code == 200
