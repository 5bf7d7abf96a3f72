"""Fixtures, composed as in Flask's tutorial: stores → app → client → operator.

Every test that takes ``app`` runs twice: on the embedded stores (SQLite file + in-process Redis stand-in) and on
the services (PostgreSQL + real Redis). A missing service fails the run: it is never skipped. To run only the
embedded pair on a machine without services, say so explicitly: ``TEST_STORES=embedded pytest``.

After each such test the ledger invariant checker and the audit chain verifier run; a test that tampers with
rows on purpose says so with ``@pytest.mark.tampers``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import backend.models  # noqa: F401
from backend import create_app, migrate, sequencer
from backend.audit import verify
from backend.db import atomic, snapshot
from backend.ledger.invariants import check
from tests import openapi_check

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ALL_STORES = ("embedded", "services")
# What production must set to talk to the real WeChat (the key files are read on first use, not at start-up).
LIVE_WECHAT = {"WECHAT_APPID": "wx0123456789abcdef", "WECHAT_APP_SECRET": "s" * 32, "WECHATPAY_MCHID": "1230000109",
               "WECHATPAY_PRIVATE_KEY_FILE": "/etc/tanhui/apiclient_key.pem",
               "WECHATPAY_CERT_SERIAL_NO": "444F4864EA9B34415AAAAAAAAAAAAAAAAAAAAAAA", "WECHATPAY_APIV3_KEY": "k" * 32,
               "WECHATPAY_PUBLIC_KEY_FILE": "/etc/tanhui/pub_key.pem",
               "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0112345678902025010100000000"}


def pytest_configure(config):
    config.addinivalue_line("markers", "tampers: the test breaks an invariant on purpose")
    config.addinivalue_line("markers", "services_only: needs PostgreSQL + Redis (concurrency)")


def pytest_collection_modifyitems(config, items):
    """Concurrency tests need row locks: they are generated for the services pair only, not skipped on SQLite."""
    embedded_only = [item for item in items if item.get_closest_marker("services_only")
                     and getattr(item, "callspec", None) and item.callspec.params.get("stores") == "embedded"]
    if embedded_only:
        config.hook.pytest_deselected(items=embedded_only)
        items[:] = [item for item in items if item not in embedded_only]


def selected_stores() -> list[str]:
    chosen = [s.strip() for s in os.environ.get("TEST_STORES", ",".join(ALL_STORES)).split(",") if s.strip()]
    unknown = set(chosen) - set(ALL_STORES)
    if unknown:
        raise pytest.UsageError(f"TEST_STORES: unknown {sorted(unknown)}; choose from {ALL_STORES}")
    return chosen


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 12, 9, 0, tzinfo=timezone.utc)  # 植树节

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Stores:
    """One database + Redis pair, migrated once per session, reset before each test."""

    def __init__(self, kind: str, workdir) -> None:
        self.kind = kind
        self.workdir = workdir
        if kind == "embedded":
            self.template = workdir / "template.db"
            migrate.upgrade(f"sqlite:///{self.template}")
        else:
            self._require_services()
            self.schema = f"t_{uuid.uuid4().hex[:12]}"
            self.admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as connection:
                connection.execute(text(f"CREATE SCHEMA {self.schema}"))
            self.url = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
            self.redis_prefix = f"{self.schema}:"
            migrate.upgrade(self.url)

    @staticmethod
    def _require_services() -> None:
        import redis

        hint = "(DESIGN.md §8 says how to start it; TEST_STORES=embedded runs without services)"
        try:
            with create_engine(PG_URL).connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {error} {hint}", pytrace=False)
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except Exception as error:
            pytest.fail(f"Redis at {REDIS_URL} is not reachable: {error} {hint}", pytrace=False)

    def overrides(self, tmp_path) -> dict:
        if self.kind == "embedded":
            path = tmp_path / "test.db"
            shutil.copyfile(self.template, path)
            return {"DATABASE_URL": f"sqlite:///{path}", "REDIS_URL": None}
        self._reset()
        return {"DATABASE_URL": self.url, "REDIS_URL": REDIS_URL, "DATABASE_POOL_SIZE": 20,
                "REDIS_KEY_PREFIX": self.redis_prefix}

    def _reset(self) -> None:
        import redis

        tables = ", ".join(f"{self.schema}.{t.name}" for t in SQLModel.metadata.sorted_tables)
        with self.admin.connect() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            connection.execute(text(f"INSERT INTO {self.schema}.audit_head (id, seq, hash) "
                                    f"VALUES (1, 0, '{'0' * 64}')"))
            connection.execute(text(f"INSERT INTO {self.schema}.log_head (id, tree_size) VALUES (1, 0)"))
        # Only this run's keys: another test run (another schema) may be using the same Redis at the same time.
        client = redis.Redis.from_url(REDIS_URL)
        for found in client.scan_iter(match=f"{self.redis_prefix}*", count=1000):
            client.delete(found)

    def close(self) -> None:
        if self.kind == "services":
            with self.admin.connect() as connection:
                connection.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))
            self.admin.dispose()


@pytest.fixture(scope="session", params=selected_stores())
def stores(request, tmp_path_factory):
    pair = Stores(request.param, tmp_path_factory.mktemp(request.param))
    yield pair
    pair.close()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def app(request, stores, tmp_path, clock):
    app = create_app({"TESTING": True, "APP_ENV": "test", "CLOCK": clock, "SECRET_KEY": "test-session-secret",
                      "CERT_SIGNING_KEY_FILE": str(tmp_path / "keys" / "signing.pem"),
                      "FILES_DIR": str(tmp_path / "files"), "VERIFY_EVERY_SECONDS": 0, "EXPORT_SWEEP_SECONDS": 0,
                      **stores.overrides(tmp_path)})
    openapi_check.install(app)  # every answer matches /openapi.json
    yield app
    app.extensions["wechat"].close()  # the fake WeChat server, if the test started one
    engine = app.extensions["db_engine"]
    if not request.node.get_closest_marker("tampers"):
        sequencer.run_once(app)  # what each app process's sequencer thread does within a second
        with snapshot(engine) as session:
            violations = check(session)
            chain = verify(session)
        assert not violations, "ledger invariants broken:\n" + "\n".join(map(str, violations))
        assert chain.ok, f"audit chain broken at {chain.broken_at}: {chain.problem}"
    engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass(frozen=True)
class StaffMember:
    """A staff account's personal token, and the name the audit chain gives its actions."""

    token: str
    actor: str
    account_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def staff_member(app, username: str, role: str, *, organisation_id: int | None = None) -> StaffMember:
    """A staff account with the role, and a personal API token named "test" (no password: these tests need no
    web sign-in, and argon2 is slow on purpose)."""
    from backend.staff import service as staff
    from backend.staff import tokens

    now = app.config["CLOCK"]()

    def make(session):
        account = staff.find_account(session, username) or staff.create_account(
            session, now, username=username, display_name=username, password_hash=None, actor="test")
        staff.grant(session, now, account=account, role=role, organisation_id=organisation_id, actor="test")
        token, secret = tokens.issue(session, now, account=account, name="test", days=366, actor="test")
        return StaffMember(secret, f"{account.actor} token:{token.id}:test", account.id)
    with app.app_context():
        return atomic(make)


class Operator:
    """The platform operator (an ``admin`` account), talking to /api/admin/v1 with its personal token."""

    def __init__(self, client, member: StaffMember) -> None:
        self.client = client
        self.member = member
        self.actor = member.actor
        self.headers = member.headers

    def get(self, path: str, **kw):
        return self.client.get(f"/api/admin/v1{path}", headers=self.headers, **kw)

    def post(self, path: str, json=None, *, key: str | None = None, **kw):
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(f"/api/admin/v1{path}", json=json if json is not None else {}, headers=headers, **kw)

    def ok(self, response, status=(200, 201)):
        assert response.status_code in ((status,) if isinstance(status, int) else status), response.get_json()
        return response.get_json()

    # A registered project with one issued batch in the platform's inventory, in the fewest calls.
    def registered_project(self, *, quantity_g: int = 1_000_000, county: str = "510129",
                           name: str = "测试林场森林经营项目", ecosystem: str = "forest",
                           owner_name: str = "大邑县国有林场") -> dict:
        methodology = self.ok(self.post("/methodologies", {
            "code": f"M-{uuid.uuid4().hex[:8]}", "name": "森林经营碳汇项目方法学", "ecosystem": ecosystem,
            "version": "V01", "source_document": "AR-CM-003-V01"}))
        owner = self.ok(self.post("/organisations", {"name": owner_name, "kind": "forest_farm"}))
        project = self.ok(self.post("/projects", {
            "owner_id": owner["id"], "name": name, "county_adcode": county, "ecosystem": ecosystem,
            "methodology_id": methodology["id"], "area_mu": "1000.00", "crediting_start": "2020-01-01",
            "crediting_end": "2039-12-31"}))
        self.ok(self.post(f"/projects/{project['id']}/submit"))
        self.ok(self.post(f"/projects/{project['id']}/register"))
        batch = self.ok(self.post(f"/projects/{project['id']}/batches", {
            "monitoring_start": "2020-01-01", "monitoring_end": "2023-12-31", "vintage": 2023,
            "quantity_g": quantity_g}, key=f"issue-{uuid.uuid4().hex[:12]}"))
        return {"project": project, "batch": batch, "owner": owner, "methodology": methodology}


@pytest.fixture
def operator(app, client):
    return Operator(client, staff_member(app, "operator", "admin"))
