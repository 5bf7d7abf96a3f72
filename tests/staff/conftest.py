"""What the staff tests share: people who sign in with a password, a browser that opens pages and submits their
forms as a person would (with the CSRF token the page carries, from its own address), and ``flask users``.

Settings a story needs (a lower failure limit, the second factor required) are set on ``app.config`` at the start
of the test: the staff code reads them on every request. argon2 is slow on purpose (tens of milliseconds per hash
or check), so accounts made here share one hash of ``PASSWORD`` made once per run; every sign-in still checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from backend import audit
from backend.db import atomic, read
from backend.staff import passwords, totp
from backend.staff import service as staff
from backend.staff.totp import code_at

PASSWORD = "Qingshan-Lushui-2026"  # passes the policy; no test username is part of it
NEW_PASSWORD = "Jinshan-Yinshan-2027"
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# --- pages as a browser sees them ----------------------------------------------------------------------------------

@dataclass
class Form:
    id: str | None
    action: str | None
    method: str
    inputs: list[dict] = field(default_factory=list)  # each input's attributes, in page order

    def field(self, name: str) -> dict:
        found = [i for i in self.inputs if i.get("name") == name]
        assert len(found) == 1, f"form {self.id}: {len(found)} fields named {name!r}"
        return found[0]

    def hidden(self) -> dict[str, str]:
        return {i["name"]: i.get("value", "") for i in self.inputs if i.get("type") == "hidden" and i.get("name")}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of the elements we are inside

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(attributes.get("id"), attributes.get("action"),
                                   attributes.get("method", "get").lower()))
        elif tag in ("input", "select", "textarea") and self.forms and self._inside("form"):
            self.forms[-1].inputs.append({"tag": tag, "type": attributes.get("type", "text"), **attributes})
        if tag not in VOID_ELEMENTS:
            self._open.append((tag, attributes.get("id")))
            if attributes.get("id"):
                self.texts.setdefault(attributes["id"], [])

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                return

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.texts[element_id].append(data)

    def _inside(self, tag: str) -> bool:
        return any(open_tag == tag for open_tag, _ in self._open)


class Page:
    """A response read as HTML: its forms and the text of its elements by id."""

    def __init__(self, response) -> None:
        self.response = response
        self.status = response.status_code
        self.html = response.get_data(as_text=True)
        parser = _Parser()
        parser.feed(self.html)
        parser.close()
        self.forms = parser.forms
        self._texts = parser.texts

    def form(self, form_id: str) -> Form:
        found = [f for f in self.forms if f.id == form_id]
        assert len(found) == 1, f"{len(found)} forms with id {form_id!r} on the page"
        return found[0]

    def text(self, element_id: str) -> str | None:
        """The element's text, whitespace collapsed; None if the page has no such element."""
        parts = self._texts.get(element_id)
        return None if parts is None else " ".join("".join(parts).split())

    @property
    def csrf(self) -> str:
        tokens = {i.get("value") for f in self.forms for i in f.inputs if i.get("name") == "csrf_token"}
        assert len(tokens) == 1 and all(tokens), f"the page carries CSRF tokens {tokens}"
        return tokens.pop()


class Browser:
    """One person's browser: its own cookie jar and address. It submits a form the way a browser does: from the
    page the form is on, with the CSRF token that page carries."""

    def __init__(self, app, address: str = "127.0.0.1") -> None:
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = address

    def get(self, path: str):
        return self.client.get(path)

    def open(self, path: str) -> Page:
        return Page(self.client.get(path))

    def submit(self, page: str, action: str, fields: dict | None = None):
        """Open ``page``, then POST ``fields`` to ``action`` with the page's CSRF token."""
        opened = self.open(page)
        assert opened.status == 200, (page, opened.status, opened.response.location)
        return self.client.post(action, data={"csrf_token": opened.csrf, **(fields or {})})

    def sign_in(self, username: str, password: str = PASSWORD, *, area: str = "admin", next: str | None = None):
        """Fill in the sign-in form (its hidden fields — the CSRF token and ``next`` — as the page set them)."""
        path = f"/{area}/login" + (f"?next={quote(next, safe='')}" if next is not None else "")
        form = self.open(path).form("sign-in")
        return self.client.post(form.action, data={**form.hidden(), "username": username, "password": password})

    def enter_code(self, code: str, *, area: str = "admin"):
        return self.submit(f"/{area}/login/code", f"/{area}/login/code", {"code": code})

    def sign_out(self, area: str = "admin"):
        return self.submit(f"/{area}/account", f"/{area}/logout")

    def who(self, area: str = "admin") -> str | None:
        """Who this browser is signed in as (the name in the page header), or None if the pages send it to sign in."""
        response = self.client.get(f"/{area}/account")
        if response.status_code == 302:
            assert response.location.startswith(f"/{area}/login"), response.location
            return None
        assert response.status_code == 200, response.status_code
        return Page(response).text("who")


def signed_in_to(browser: Browser, area: str = "admin") -> bool:
    return browser.who(area) is not None


@pytest.fixture
def browser(app):
    """browser(address=...) → a new Browser on the test's app."""
    return lambda address="127.0.0.1": Browser(app, address)


# --- people --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def password_hash() -> str:
    return passwords.new_hash(PASSWORD)


class People:
    """Accounts that sign in with PASSWORD, made straight in the store (the CLI's own tests make theirs with it)."""

    def __init__(self, app, password_hash: str) -> None:
        self.app = app
        self.password_hash = password_hash

    def make(self, username: str, role: str | None = None, *, organisation_id: int | None = None,
             display_name: str | None = None) -> int:
        now = self.app.config["CLOCK"]()

        def work(session):
            account = staff.create_account(session, now, username=username, display_name=display_name or username,
                                           password_hash=self.password_hash, actor="test")
            if role is not None:
                staff.grant(session, now, account=account, role=role, organisation_id=organisation_id,
                            actor="test")
            return account.id
        with self.app.app_context():
            return atomic(work)

    def account(self, username: str):
        with self.app.app_context():
            return read(lambda s: staff.find_account(s, username))


@pytest.fixture
def people(app, password_hash):
    return People(app, password_hash)


@pytest.fixture
def organisation(operator) -> dict:
    """A court registered by the operator (and so verified)."""
    return operator.ok(operator.post("/organisations", {"name": "大邑县人民法院", "kind": "court"}), 201)


def last_events(app, count: int = 1) -> list:
    """The newest audit events, newest first (sealed first, as the sequencer would within a second)."""
    with app.app_context():
        atomic(audit.seal)
        return read(lambda s: [audit.event_view(e) for e in audit.recent(s, limit=count)])


def enrol(app, username: str) -> str:
    """Set up the account's second factor, as /<area>/account/totp does; its secret. The code that confirmed it is
    spent: the next one is half a minute away."""
    secret = totp.new_secret()
    now = app.config["CLOCK"]()

    def work(session):
        account = staff.find_account(session, username)
        staff.enrol_totp(session, now, account_id=account.id, secret=secret, code=code_at(secret, now),
                         actor=account.actor)
    with app.app_context():
        atomic(work)
    return secret


def wrong_code(secret: str, now) -> str:
    """Six digits that are not the code of this 30-second step, nor of the steps either side."""
    near = {code_at(secret, now + timedelta(seconds=s)) for s in (-30, 0, 30)}
    return next(code for code in ("000000", "123456", "999999", "424242") if code not in near)


# --- flask users ---------------------------------------------------------------------------------------------------

class Cli:
    """``flask --app backend users …`` through Flask's CLI runner; stdin is ``input``."""

    def __init__(self, runner) -> None:
        self.runner = runner

    def __call__(self, *args: str, input: str | None = None):
        return self.runner.invoke(args=["users", *args], input=input)

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    def fails(self, *args: str, input: str | None = None) -> str:
        """The command exits 1; what it said."""
        result = self(*args, input=input)
        assert result.exit_code == 1, (args, result.exit_code, result.output)
        return result.output

    def roles(self) -> dict[str, str]:
        """``users list`` as {username: the rest of its line}."""
        lines = self.ok("list").splitlines()
        return {line.split()[0]: " ".join(line.split()[1:]) for line in lines if line.strip()}


@pytest.fixture
def cli(runner):
    return Cli(runner)
