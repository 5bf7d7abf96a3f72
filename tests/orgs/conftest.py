"""What the organisation tests share: valid 统一社会信用代码, an application body, the sign-up route with its own
client address per request (the route allows SIGNUP_RATE_LIMIT_PER_MINUTE per address), personal tokens and
password accounts for the people in the stories, and a signed-in browser session for the /org/ pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from backend.db import atomic, read
from backend.orgs import creditcode
from backend.staff import passwords, tokens
from backend.staff import service as staff
from tests.conftest import StaffMember, staff_member

SIGN_UP = "/api/v1/organisations/applications"
PASSWORD = "Dayi-Linchang-2026"  # passes the policy; no test username is part of it
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def credit_code(number: int) -> str:
    """A made-up code with the right GB 32100-2015 check character (91: a company; 510129: 大邑县)."""
    first17 = f"91510129MA{number:07d}"
    return first17 + creditcode.check_character(first17)


def application(number: int = 1, **overrides) -> dict:
    """A court's application with its first org_admin; ``admin`` overrides merge into the account part."""
    admin = {"username": f"court-{number}", "display_name": "王书记员", "password": PASSWORD}
    admin.update(overrides.pop("admin", {}))
    body = {"name": f"大邑县人民法院（{number}）", "kind": "court", "credit_code": credit_code(number),
            "adcode": "510129", "contact_name": "王书记员", "contact_phone": "028-88223456",
            "contact_email": "office@dyfy.example.cn", "admin": admin}
    body.update(overrides)
    return body


class SignUps:
    """POST /api/v1/organisations/applications, each from its own address unless one is given."""

    def __init__(self, client) -> None:
        self.client = client
        self._addresses = 0

    def post(self, body: dict, *, address: str | None = None):
        if address is None:
            self._addresses += 1
            address = f"198.51.100.{self._addresses}"
        return self.client.post(SIGN_UP, json=body, environ_base={"REMOTE_ADDR": address})

    def applied(self, number: int = 1, **overrides) -> dict:
        response = self.post(application(number, **overrides))
        assert response.status_code == 201, response.get_json()
        return response.get_json()["organisation"]


@pytest.fixture
def sign_ups(client):
    return SignUps(client)


def token_for(app, username: str) -> StaffMember:
    """A personal token for an existing account (as /org/account makes one), with the actor it will be named."""
    now = app.config["CLOCK"]()

    def issue(session):
        account = staff.find_account(session, username)
        token, secret = tokens.issue(session, now, account=account, name="test", days=366, actor=account.actor)
        return StaffMember(secret, f"{account.actor} token:{token.id}:test", account.id)
    with app.app_context():
        return atomic(issue)


def person(app, username: str, memberships: list[tuple[str, int | None]] = (), *, display_name: str | None = None,
           ) -> int:
    """An account that signs in with PASSWORD, holding (role, organisation id) memberships; its id."""
    now = app.config["CLOCK"]()
    password_hash = passwords.new_hash(PASSWORD, username=username)

    def make(session):
        account = staff.create_account(session, now, username=username, display_name=display_name or username,
                                       password_hash=password_hash, actor="test")
        for role, organisation_id in memberships:
            staff.grant(session, now, account=account, role=role, organisation_id=organisation_id, actor="test")
        return account.id
    with app.app_context():
        return atomic(make)


def role_of(app, username: str, organisation_id: int) -> str | None:
    """The account's role in the organisation, read from the store."""
    with app.app_context():
        def find(session):
            account = staff.find_account(session, username)
            return next((m.role for m in staff.memberships(session, account.id)
                         if m.organisation_id == organisation_id), None) if account else None
        return read(find)


def csrf_of(response) -> str:
    found = _CSRF.search(response.get_data(as_text=True))
    assert found, "the page has no CSRF token"
    return found.group(1)


def submit(client, path: str, fields: dict, *, page: str | None = None, **kw):
    """POST a form the way a browser does: open the page first (``page``, default the form's own path) and send
    its CSRF token along."""
    opened = client.get(page or path)
    assert opened.status_code == 200, opened.status_code
    return client.post(path, data={"csrf_token": csrf_of(opened), **fields}, **kw)


def signed_in(app, username: str, password: str = PASSWORD):
    """A browser (its own test client, its own cookies) signed in on /org/login."""
    browser = app.test_client()
    response = submit(browser, "/org/login", {"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


@dataclass
class Organisation:
    """A verified organisation and the tokens of its org_admin, clerk and viewer."""

    id: int
    admin: StaffMember
    clerk: StaffMember
    viewer: StaffMember


def verified_organisation(operator, app, prefix: str, *, kind: str = "court", number: int = 0) -> Organisation:
    """Registered by the operator (so verified), with three members made by the test."""
    made = operator.ok(operator.post("/organisations", {"name": f"{prefix} 人民法院", "kind": kind,
                                                        "credit_code": credit_code(900 + number),
                                                        "adcode": "510129"}), 201)
    assert made["status"] == "verified"
    return Organisation(made["id"],
                        staff_member(app, f"{prefix}-admin", "org_admin", organisation_id=made["id"]),
                        staff_member(app, f"{prefix}-clerk", "clerk", organisation_id=made["id"]),
                        staff_member(app, f"{prefix}-viewer", "viewer", organisation_id=made["id"]))


def audit_events(operator, action: str | None = None) -> list[dict]:
    """The audit chain (oldest first), through the operator API; only ``action`` events if given."""
    events = operator.ok(operator.get("/audit", query_string={"limit": 500}))["items"][::-1]
    return [e for e in events if action is None or e["action"] == action]


def census(operator) -> tuple[list[str], list[str]]:
    """Every organisation's credit code and every account's username: what a refused sign-up must not add to."""
    organisations = operator.ok(operator.get("/organisations"))["items"]
    accounts = operator.ok(operator.get("/staff"))["items"]
    return sorted(o["credit_code"] or "" for o in organisations), sorted(a["username"] for a in accounts)
