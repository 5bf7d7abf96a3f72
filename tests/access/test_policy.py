"""The permission table (backend/access/policy.py) decides every route, and the app does what it says.

First, completeness: every route of the app has an entry, and every entry names a route. Then the walk: every kind
of caller — the public, a citizen, each platform role, an organisation's org_admin, clerk and viewer, the admin of
another organisation, the admin of one still awaiting verification — calls every route, and gets what the table
says: 401 (or the sign-in page) when nobody is signed in, 403 when signed in without the role, 404 for another
organisation's records, and otherwise anything but a refusal (and never a 500).

The walk uses ids that name nothing for records a route would change (account 999999, token 999999 …) and sends
empty bodies, so an allowed call fails its own validation or finds nothing: it changes nothing the next call
depends on. Pages are called without their CSRF token, so an allowed POST stops at the CSRF check (400).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from flask import Flask

from backend.access.policy import POLICY
from backend.access.rules import Citizen, Loopback, Member, OrgKind, Platform, Public, SignedIn
from backend.db import atomic
from backend.staff.roles import org_rank
from tests.conftest import staff_member
from tests.miniprogram.conftest import wx_login

NOWHERE = 999_999  # an id that names no record
SCOPE_REFUSAL = "机构不存在 (unknown organisation)"


# --- the table is complete ------------------------------------------------------------------------------------------

def endpoints(app: Flask) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()}


def test_every_route_has_a_decision_and_every_decision_a_route(app):
    undecided = sorted(endpoints(app) - set(POLICY))
    assert not undecided, f"routes without an entry in backend/access/policy.py: {undecided}"
    stale = sorted(set(POLICY) - endpoints(app))
    assert not stale, f"entries naming no route: {stale}"


def test_a_member_rule_names_a_path_argument_its_routes_have(app):
    for rule in app.url_map.iter_rules():
        decision = POLICY[rule.endpoint]
        if isinstance(decision, Member):
            assert decision.scope in rule.arguments, (rule.rule, decision)


def test_a_route_missing_from_the_table_is_refused(app):
    """Fail closed: a route someone forgot to list answers 403, whoever asks."""
    app.add_url_rule("/api/v1/forgotten", endpoint="forgotten", view_func=lambda: {"secret": True})
    response = app.test_client().get("/api/v1/forgotten")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "no_policy"


# --- the walk -------------------------------------------------------------------------------------------------------

@dataclass
class Caller:
    """One kind of caller: its roles, and how it authenticates on the API (headers) and on pages (a client that
    has signed in)."""

    name: str
    platform: frozenset[str] = frozenset()
    org_role: str | None = None
    organisation: str | None = None  # "A", "B" or "C": where its org_role is held
    citizen: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    page_client: object = None

    @property
    def staff(self) -> bool:
        return bool(self.platform) or self.org_role is not None


CALLERS = {  # name: (platform role, organisation role, organisation)
    "anonymous": (None, None, None), "citizen": (None, None, None),
    "admin": ("admin", None, None), "reviewer": ("reviewer", None, None), "finance": ("finance", None, None),
    "auditor": ("auditor", None, None),
    "org_admin": (None, "org_admin", "A"), "clerk": (None, "clerk", "A"), "viewer": (None, "viewer", "A"),
    "other_org_admin": (None, "org_admin", "B"),  # asks about A, which is not theirs
    "unverified_org_admin": (None, "org_admin", "C"),  # asks about C, theirs, still awaiting verification
}


ORGANISATION_KINDS = {"A": "court", "B": "company", "C": "event_organiser"}


def _organisation(app, name: str, kind: str, status: str) -> int:
    from backend.registry import service

    def make(session):
        organisation = service.create_organisation(session, app.config["CLOCK"](), actor="test", name=name, kind=kind)
        organisation.status = status  # the walk needs one awaiting verification; its lifecycle is tested elsewhere
        session.add(organisation)
        return organisation.id
    with app.app_context():
        return atomic(make)


def _signed_in_client(app, account_id: int):
    """A browser that has signed in (the session Flask-Login keeps); signing in itself is tested in tests/staff."""
    from backend.staff.web import open_session

    client = app.test_client()
    with app.test_request_context():
        session_id = open_session(account_id)
    with client.session_transaction() as session:
        session["_user_id"] = f"{account_id}:0"
        session["_fresh"] = True
        session["signed_in_at"] = app.config["CLOCK"]().timestamp()
        session["sid"] = session_id
    return client


@pytest.fixture
def world(app, client):
    organisations = {"A": _organisation(app, "甲法院", ORGANISATION_KINDS["A"], "verified"),
                     "B": _organisation(app, "乙公司", ORGANISATION_KINDS["B"], "verified"),
                     "C": _organisation(app, "丙主办方", ORGANISATION_KINDS["C"], "applied")}
    callers = {}
    for name, (platform, org_role, organisation) in CALLERS.items():
        caller = Caller(name, frozenset({platform} if platform else ()), org_role, organisation,
                        citizen=name == "citizen", page_client=client)
        if caller.staff:
            member = staff_member(app, f"walk-{name.replace('_', '-')}", platform or org_role,
                                  organisation_id=organisations[organisation] if organisation else None)
            caller.headers, caller.page_client = member.headers, _signed_in_client(app, member.account_id)
        callers[name] = caller
    return {"callers": callers, "organisations": organisations}


def sample_path(rule, organisation_id: int) -> str:
    """The rule's path with an argument of the right shape: the organisation for <org_id>, elsewhere ids of nothing."""
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        if name == "org_id":
            values[name] = organisation_id
        elif name == "area":
            values[name] = "org"
        elif kind == "AnyConverter":
            values[name] = sorted(converter.items)[0]
        elif kind in ("IdConverter", "SerialConverter", "IntegerConverter"):
            values[name] = NOWHERE
        else:
            values[name] = "nothing"
    return rule.build(values, append_unknown=False)[1]


def expectation(decision, caller: Caller, asked_about: str, page: bool):
    """What the table says this caller gets: "ok", 401 ("sign-in" on a page), 403 or 404."""
    if isinstance(decision, (Public, Loopback)):  # the test client calls from 127.0.0.1
        return "ok"
    if isinstance(decision, Citizen):
        return "ok" if caller.citizen and not page else 401
    if not caller.staff:
        return "sign-in" if page else 401
    if isinstance(decision, SignedIn):
        return "ok"
    if isinstance(decision, Platform):
        return "ok" if caller.platform & {"admin", *decision.roles} else 403
    if isinstance(decision, Member):
        if caller.platform & {"admin", *decision.platform}:
            return "ok"
        if caller.organisation != asked_about:
            # Another organisation's records: whether they exist is not theirs to learn; platform staff list every
            # organisation anyway, so they are told no.
            return 403 if caller.platform else 404
        if org_rank(caller.org_role) < org_rank(decision.least):
            return 403
        if decision.acting and asked_about == "C":  # C still awaits verification: it reads, it does not act
            return 403
        return "ok"
    if isinstance(decision, OrgKind):  # the route names a record; being of the right kind of organisation is asked
        if caller.platform & {"admin", *decision.platform}:
            return "ok"
        if ORGANISATION_KINDS.get(caller.organisation) not in decision.kinds:
            return 403
        if org_rank(caller.org_role) < org_rank(decision.least):
            return 403
        if decision.acting and caller.organisation == "C":
            return 403
        return "ok"
    raise AssertionError(f"unknown rule {decision!r}")


POLICY_CODES = {"unauthorized", "session_expired", "forbidden", "organisation_not_active", "no_policy"}


def outcome(response, decision, page: bool):
    """What the response says happened: "sign-in", 401, 403 or 404 when the permission check refused, "ok" when the
    handler ran (whatever it then answered: a handler's own 401, such as WeChat Pay's signature check, is "ok")."""
    status = response.status_code
    if page:
        location = response.headers.get("Location", "")
        if status == 302 and "/login" in location and ("next=" in location or response.request.method == "POST"):
            return "sign-in"
        if status == 403:
            return 403
        if status == 404 and isinstance(decision, Member) and SCOPE_REFUSAL in response.get_data(as_text=True):
            return 404
        return "ok"
    error = (response.get_json(silent=True) or {}).get("error")
    if not isinstance(error, dict):
        return "ok"
    if status in (401, 403) and error.get("code") in POLICY_CODES:
        return status
    # The same words as for an organisation that does not exist: a stranger cannot tell the two apart.
    if status == 404 and isinstance(decision, Member) and error.get("message") == SCOPE_REFUSAL:
        return 404
    return "ok"


@pytest.mark.parametrize("name", list(CALLERS))
def test_every_caller_gets_what_the_table_says_on_every_route(app, world, citizen_token, name):
    caller = world["callers"][name]
    asked_about = "C" if name == "unverified_org_admin" else "A"
    organisation = world["organisations"][asked_about]
    wrong, crashed = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        decision = POLICY[rule.endpoint]
        page = not rule.rule.startswith("/api/") and rule.endpoint not in ("healthz", "openapi_json", "jwks")
        path = sample_path(rule, organisation)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            headers = dict(caller.headers) if not page else {}
            if caller.citizen and not page:
                headers = {"Authorization": f"Bearer {citizen_token()}"}
            client = caller.page_client if page and caller.page_client is not None else app.test_client()
            response = client.open(path, method=method, headers=headers,
                                   json=None if page or method == "GET" else {})
            if response.status_code >= 500:
                crashed.append(f"{method} {path} -> {response.status_code}")
                continue
            want, got = expectation(decision, caller, asked_about, page), outcome(response, decision, page)
            if want != got:
                wrong.append(f"{method} {path} [{decision}]: expected {want}, got {got} ({response.status_code})")
    assert not crashed, "\n".join(crashed)
    assert not wrong, f"{name}:\n" + "\n".join(wrong)


@pytest.fixture
def citizen_token(app, client):
    """A fresh mini-program session per call: the walk's own logout and refresh end the one before."""
    walkers = itertools.count()
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000  # the walk logs in once per route

    def token() -> str:
        response = client.post("/api/mp/v1/auth/login", json={"code": wx_login(client, f"walker-{next(walkers)}")})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["token"]
    return token
