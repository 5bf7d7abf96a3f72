"""The app factory and what every deployment relies on before any business: settings, /healthz, /openapi.json and
the JSON error envelope for routes that do not exist.

Settings come from environment variables, parsed to their types; a value that cannot be parsed, or a production
configuration that lacks a secret, stops the app from starting with a ``SettingsError`` that names the variable.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, text

from backend import create_app
from backend.migrate import head_revision
from backend.settings import (
    SPEC,
    SettingsError,
    finish_settings,
    load_settings,
)
from tests.conftest import LIVE_WECHAT, PG_URL

STRONG_TOKEN = "x" * 40


@pytest.fixture
def clean_env(monkeypatch):
    """No setting leaks in from the shell that runs the tests."""
    for name in SPEC:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def make_app(tmp_path, **overrides):
    """A throwaway app on its own SQLite file (never the repository's instance folder)."""
    settings = {"TESTING": True, "APP_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 'factory.db'}",
                "REDIS_URL": None, "SECRET_KEY": "factory-secret"}
    settings.update(overrides)
    return create_app(settings)


# --- settings: typed parsing -------------------------------------------------------------------------------------

def test_nothing_configured_gives_the_embedded_defaults(tmp_path):
    """A fresh clone runs with nothing set: SQLite in the instance folder, the Redis stand-in; the session secret
    is generated into the instance folder when the app is made."""
    settings = finish_settings(load_settings({}), str(tmp_path))
    assert settings["APP_ENV"] == "development"
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path}/tanhui.db"
    assert settings["REDIS_URL"] is None
    assert settings["SECRET_KEY"] is None
    assert settings["DATABASE_POOL_SIZE"] == 10
    assert settings["RESERVATION_TTL_SECONDS"] == 900
    assert settings["EXTENSIONS"] == ["admin", "miniprogram_api", "scenarios"]


def test_values_are_parsed_to_their_types():
    settings = load_settings({"DATABASE_POOL_SIZE": " 25 ", "RESERVATION_TTL_SECONDS": "1800",
                              "EXTENSIONS": "admin, scenarios,,",
                              "APP_ENV": " Production ", "PUBLIC_BASE_URL": "https://tanhui.example.cn/"})
    assert settings["DATABASE_POOL_SIZE"] == 25
    assert settings["RESERVATION_TTL_SECONDS"] == 1800
    assert settings["EXTENSIONS"] == ["admin", "scenarios"]
    assert settings["APP_ENV"] == "production"
    assert settings["PUBLIC_BASE_URL"] == "https://tanhui.example.cn"


@pytest.mark.parametrize("raw, expected", [
    ("postgres://app@db.internal/tanhui", "postgresql+psycopg://app@db.internal/tanhui"),
    ("postgresql://app@db.internal:6432/tanhui", "postgresql+psycopg://app@db.internal:6432/tanhui"),
    ("postgresql+psycopg://app@db/tanhui", "postgresql+psycopg://app@db/tanhui"),
    ("sqlite:////var/lib/tanhui/tanhui.db", "sqlite:////var/lib/tanhui/tanhui.db"),
])
def test_database_urls_are_normalised_to_the_psycopg3_driver(raw, expected):
    assert load_settings({"DATABASE_URL": raw})["DATABASE_URL"] == expected


@pytest.mark.parametrize("name, raw", [
    ("DATABASE_POOL_SIZE", "ten"),
    ("DATABASE_POOL_SIZE", "1.5"),
    ("DATABASE_POOL_SIZE", "0"),             # a pool of no connections
    ("RESERVATION_TTL_SECONDS", "10"),       # below the five-minute floor
    ("RESERVATION_TTL_SECONDS", "60"),       # within the last minute no prepay is made: nobody could pay
    ("RESERVATION_TTL_SECONDS", "-900"),
    ("DATABASE_URL", "mysql://root@localhost/tanhui"),
    ("DATABASE_URL", "tanhui.db"),
    ("APP_ENV", "staging"),
])
def test_a_bad_value_is_refused_naming_the_variable(name, raw, tmp_path):
    with pytest.raises(SettingsError, match=name):
        finish_settings(load_settings({name: raw}), str(tmp_path))


@pytest.mark.parametrize("name, raw", [
    ("REDIS_URL", "localhost:6379"),
    ("REDIS_URL", "http://127.0.0.1:6379/0"),
    ("PUBLIC_BASE_URL", "tanhui.example.cn"),
    ("PUBLIC_BASE_URL", "ftp://tanhui.example.cn"),
])
def test_a_url_that_is_no_url_of_its_kind_is_refused_naming_the_variable(name, raw, tmp_path):
    """REDIS_URL must be redis://, rediss:// or unix://; PUBLIC_BASE_URL (printed into certificate QR codes) must be
    http(s)://host. Today both are taken as they are: a bad REDIS_URL surfaces later as redis-py's ValueError from
    create_app (naming no variable), a bad PUBLIC_BASE_URL not at all."""
    with pytest.raises(SettingsError, match=name):
        finish_settings(load_settings({name: raw}), str(tmp_path))


# --- settings: production refuses to run without its secrets ---------------------------------------------------

PRODUCTION = {"APP_ENV": "production", "DATABASE_URL": "postgresql://app@db/tanhui",
              "REDIS_URL": "redis://cache:6379/0", "SECRET_KEY": STRONG_TOKEN,
              "PUBLIC_BASE_URL": "https://tanhui.example.cn",
              "CERT_SIGNING_KEY_FILE": "/etc/tanhui/certificate-signing-key.pem", **LIVE_WECHAT}


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CERT_SIGNING_KEY_FILE"])
def test_production_refuses_a_missing_secret(missing, tmp_path):
    environ = {name: value for name, value in PRODUCTION.items() if name != missing}
    with pytest.raises(SettingsError, match=f"{missing} must be set in production"):
        finish_settings(load_settings(environ), str(tmp_path))


def test_production_talks_to_the_real_wechat_with_every_credential_or_does_not_start(tmp_path):
    """The fake WeChat never runs in production, and a missing credential is named at start-up, not at the first
    payment."""
    assert finish_settings(load_settings(PRODUCTION), str(tmp_path))["WECHAT_MODE"] == "live"
    with pytest.raises(SettingsError, match="WECHAT_MODE must be live in production"):
        finish_settings(load_settings({**PRODUCTION, "WECHAT_MODE": "fake"}), str(tmp_path))
    without = {name: value for name, value in PRODUCTION.items() if name != "WECHATPAY_APIV3_KEY"}
    with pytest.raises(SettingsError, match="WECHAT_MODE=live needs WECHATPAY_APIV3_KEY"):
        finish_settings(load_settings(without), str(tmp_path))
    with pytest.raises(SettingsError, match="32-character APIv3 key"):
        finish_settings(load_settings({**PRODUCTION, "WECHATPAY_APIV3_KEY": "short"}), str(tmp_path))
    with pytest.raises(SettingsError, match="WECHAT_MODE"):
        load_settings({"WECHAT_MODE": "sandbox"})
    development = finish_settings(load_settings({}), str(tmp_path))
    assert development["WECHAT_MODE"] == "fake"
    assert development["WECHATPAY_NOTIFY_URL"] == "http://127.0.0.1:5000/api/pay/wechat/notify"


def test_the_development_pay_endpoint_exists_only_with_the_fake_wechat(clean_env, tmp_path):
    production = create_app({**PRODUCTION, "TESTING": True, "CERT_SIGNING_KEY_FILE": str(tmp_path / "k.pem"),
                             "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})
    assert not any(rule.rule.startswith("/api/dev/") for rule in production.url_map.iter_rules())
    development = make_app(tmp_path)
    assert any(rule.rule == "/api/dev/pay/<order_no>" for rule in development.url_map.iter_rules())
    for app in (production, development):
        app.extensions["db_engine"].dispose()


def test_production_refuses_a_blank_or_short_session_secret(tmp_path):
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        finish_settings(load_settings({**PRODUCTION, "SECRET_KEY": "   "}), str(tmp_path))
    with pytest.raises(SettingsError, match="SECRET_KEY must be at least 32"):
        finish_settings(load_settings({**PRODUCTION, "SECRET_KEY": "short-but-not-empty"}), str(tmp_path))


@pytest.mark.parametrize("name", ["PUBLIC_BASE_URL", "WECHATPAY_NOTIFY_URL", "WECHAT_API_BASE", "WECHATPAY_GATEWAY"])
def test_production_refuses_plain_http_for_certificates_and_payment_notifications(name, tmp_path):
    """Certificates' QR codes point at PUBLIC_BASE_URL, WeChat Pay posts to the notify URL, and we call WeChat:
    never in the clear — except on this very machine (a benchmark's stand-in for WeChat), which it never leaves."""
    with pytest.raises(SettingsError, match=f"{name} must be an https:// URL in production"):
        finish_settings(load_settings({**PRODUCTION, name: "http://tanhui.example.cn"}), str(tmp_path))
    settings = finish_settings(load_settings({**PRODUCTION, name: "http://127.0.0.1:8123"}), str(tmp_path))
    assert settings[name] == "http://127.0.0.1:8123"


def test_gunicorn_workers_starting_at_once_share_one_generated_session_secret(tmp_path):
    """Development generates SECRET_KEY into the instance folder; processes racing to make it all read one key."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        keys = set(pool.map(_generated_secret, [str(tmp_path)] * 8))
    assert len(keys) == 1 and len(keys.pop()) >= 48


def _generated_secret(instance: str) -> str:
    from flask import Flask

    from backend.staff.web import _secret_key

    app = Flask("probe", instance_path=instance)
    return _secret_key(app)


def test_the_retired_operator_token_setting_is_ignored_with_a_warning(caplog, tmp_path):
    """OPERATOR_TOKEN opened the whole operator API to whoever held it; setting it now opens nothing."""
    settings = finish_settings(load_settings({"OPERATOR_TOKEN": "dev-operator-token"}), str(tmp_path))
    assert "OPERATOR_TOKEN" not in settings
    assert "OPERATOR_TOKEN is set but no longer used" in caplog.text


def test_production_with_every_secret_keeps_them_as_given(tmp_path):
    settings = finish_settings(load_settings(PRODUCTION), str(tmp_path))
    assert settings["DATABASE_URL"] == "postgresql+psycopg://app@db/tanhui"
    assert settings["REDIS_URL"] == "redis://cache:6379/0"
    assert settings["SECRET_KEY"] == STRONG_TOKEN


# --- create_app ----------------------------------------------------------------------------------------------------

def test_create_app_reads_the_environment_and_overrides_win(clean_env, tmp_path):
    clean_env.setenv("DATABASE_POOL_SIZE", "7")
    clean_env.setenv("SECRET_KEY", "secret-from-the-environment")
    app = make_app(tmp_path, SECRET_KEY="secret-from-the-test")
    assert app.config["DATABASE_POOL_SIZE"] == 7
    assert app.config["SECRET_KEY"] == "secret-from-the-test"
    assert app.config["DATABASE_URL"].endswith("factory.db")
    app.extensions["db_engine"].dispose()


def test_create_app_stops_on_a_bad_environment_variable(clean_env, tmp_path):
    clean_env.setenv("RESERVATION_TTL_SECONDS", "fifteen minutes")
    with pytest.raises(SettingsError, match="RESERVATION_TTL_SECONDS"):
        make_app(tmp_path)


def test_a_reservation_too_short_to_pay_in_is_refused_from_the_environment_and_from_overrides(clean_env,
                                                                                            tmp_path):
    """No prepay is made in an order's last minute (PREPAY_MARGIN), so a 60-second reservation could never be paid:
    the floor lies well above that minute, however the setting arrives."""
    from datetime import timedelta

    from backend.orders.workflow import PREPAY_MARGIN
    from backend.settings import MIN_RESERVATION_TTL_SECONDS

    assert timedelta(seconds=MIN_RESERVATION_TTL_SECONDS) - PREPAY_MARGIN >= timedelta(minutes=4)
    for seconds in (30, 60, MIN_RESERVATION_TTL_SECONDS - 1):
        with pytest.raises(SettingsError, match="RESERVATION_TTL_SECONDS"):
            finish_settings(load_settings({"RESERVATION_TTL_SECONDS": str(seconds)}), str(tmp_path))
        with pytest.raises(SettingsError, match="RESERVATION_TTL_SECONDS"):
            make_app(tmp_path, RESERVATION_TTL_SECONDS=seconds)
    assert load_settings({"RESERVATION_TTL_SECONDS": str(MIN_RESERVATION_TTL_SECONDS)})[
        "RESERVATION_TTL_SECONDS"] == MIN_RESERVATION_TTL_SECONDS


def test_create_app_in_production_without_secrets_does_not_start(clean_env, tmp_path):
    clean_env.setenv("APP_ENV", "production")
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        create_app({"TESTING": True})


def test_the_clock_and_extensions_are_overridable(clean_env, tmp_path):
    """Tests inject their own clock; an app without extensions serves the public API but no operator API."""
    def frozen():
        raise AssertionError("not called here")

    app = make_app(tmp_path, CLOCK=frozen, EXTENSIONS=[])
    assert app.config["CLOCK"] is frozen
    client = app.test_client()
    response = client.get("/api/admin/v1/projects")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert "admin_api" not in app.blueprints and "public" in app.blueprints
    app.extensions["db_engine"].dispose()


# --- /healthz ------------------------------------------------------------------------------------------------------

def test_healthz_is_green_when_both_stores_answer_and_the_schema_is_at_head(app, client, stores):
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["db"] == "ok" and report["redis"] == "ok" and report["status"] == "ok"
    assert report["schema"] == report["schema_head"] == head_revision()
    assert report["version"] == app.config["VERSION"]
    expected = {"embedded": {"db": "sqlite", "redis": "fakeredis"},
                "services": {"db": "postgresql", "redis": "redis"}}[stores.kind]
    assert report["backend"] == expected


def test_healthz_is_503_when_redis_is_unreachable(app):
    """Same database, but Redis on a port where nothing listens: the database stays ok, Redis is named."""
    sibling = create_app({"TESTING": True, "APP_ENV": "test", "DATABASE_URL": app.config["DATABASE_URL"],
                          "REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": "t"})
    try:
        response = sibling.test_client().get("/healthz")
        report = response.get_json()
        assert response.status_code == 503, report
        assert report["status"] == "unavailable"
        assert report["db"] == "ok"
        assert report["redis"].startswith("error")
    finally:
        sibling.extensions["db_engine"].dispose()


def test_healthz_is_503_until_migrations_run_on_a_fresh_database(clean_env, tmp_path):
    """A fresh, empty SQLite file is reachable but unmigrated; ``flask db upgrade`` turns the light green."""
    app = make_app(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}")
    client = app.test_client()
    response = client.get("/healthz")
    report = response.get_json()
    assert response.status_code == 503, report
    assert report["schema"] is None
    assert report["db"].startswith("migrations pending")
    assert report["redis"] == "ok"

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"schema at {head_revision()}" in result.output

    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["schema"] == head_revision()
    app.extensions["db_engine"].dispose()


def test_healthz_is_503_when_the_database_is_unreachable(clean_env, tmp_path):
    app = make_app(tmp_path, DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/test")
    response = app.test_client().get("/healthz")
    report = response.get_json()
    assert response.status_code == 503, report
    assert report["db"].startswith("error")
    assert report["redis"] == "ok"
    app.extensions["db_engine"].dispose()


def test_healthz_is_503_on_an_empty_postgresql_schema(clean_env, tmp_path):
    """The PostgreSQL flavour of 'not migrated': a schema with no tables at all."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    schema = "t_unmigrated_" + tmp_path.name[-8:].lower().replace("-", "_")
    schema = re.sub(r"[^a-z0-9_]", "_", schema)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    try:
        app = make_app(tmp_path, DATABASE_URL=f"{PG_URL}?options=-csearch_path%3D{schema}")
        response = app.test_client().get("/healthz")
        assert response.status_code == 503, response.get_json()
        assert response.get_json()["db"].startswith("migrations pending")
        app.extensions["db_engine"].dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# --- /openapi.json -----------------------------------------------------------------------------------------------

def _resolve(document, ref: str):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        assert part in node, f"{ref} does not resolve (no {part!r})"
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@pytest.fixture
def openapi(clean_env, tmp_path):
    app = make_app(tmp_path)
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    yield response.get_json()
    app.extensions["db_engine"].dispose()


def test_openapi_lists_the_operator_and_public_paths(openapi):
    assert openapi["openapi"].startswith("3.")
    paths = openapi["paths"]
    for path, method in [("/api/admin/v1/methodologies", "post"), ("/api/admin/v1/organisations", "post"),
                         ("/api/admin/v1/projects", "post"), ("/api/admin/v1/projects", "get"),
                         ("/api/admin/v1/projects/{project_id}", "get"),
                         ("/api/admin/v1/projects/{project_id}/batches", "post"),
                         ("/api/admin/v1/ledger/transfers", "post"), ("/api/admin/v1/ledger/reservations", "post"),
                         ("/api/admin/v1/ledger/reservations/{reservation_id}/post", "post"),
                         ("/api/admin/v1/ledger/reservations/{reservation_id}/void", "post"),
                         ("/api/admin/v1/ledger/retirements", "post"), ("/api/admin/v1/ledger/cancellations", "post"),
                         ("/api/admin/v1/ledger/transfers/{transfer_id}/correct", "post"),
                         ("/api/v1/projects", "get"), ("/api/v1/projects/{project_id}", "get"),
                         ("/api/v1/batches/{batch_code}/serials/{serial}", "get")]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from /openapi.json"


def test_openapi_request_schemas_are_the_validating_models(openapi):
    """The batch body in the document is the one the server enforces: strict, bounded, no unknown fields."""
    operation = openapi["paths"]["/api/admin/v1/projects/{project_id}/batches"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    batch_in = _resolve(openapi, ref)
    assert ref.endswith("/BatchIn")
    assert set(batch_in["required"]) == {"monitoring_start", "monitoring_end", "vintage", "quantity_g"}
    assert batch_in["additionalProperties"] is False
    assert batch_in["properties"]["quantity_g"]["type"] == "integer"
    assert batch_in["properties"]["quantity_g"]["exclusiveMinimum"] == 0
    assert batch_in["properties"]["quantity_g"]["maximum"] == 10**15

    retire = openapi["paths"]["/api/admin/v1/ledger/retirements"]["post"]
    retire_in = _resolve(openapi, retire["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert "beneficiary_name" in retire_in["required"]
    assert set(retire_in["properties"]["purpose"]["enum"]) >= {"personal", "tree_duty", "event", "judicial"}

    public = openapi["paths"]["/api/v1/projects"]["get"]
    assert {p["name"] for p in public["parameters"]} == {"ecosystem", "province"}
    assert all(p["in"] == "query" for p in public["parameters"])
    assert public["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")


def test_every_reference_in_openapi_resolves(openapi):
    for ref in set(_refs(openapi)):
        _resolve(openapi, ref)


def test_openapi_paths_are_templates_not_flask_rules(openapi):
    """OpenAPI paths name their parameters as {name}; Flask's converter syntax (<any(a,b):action>) must not leak."""
    leaked = [path for path in openapi["paths"] if "<" in path or ">" in path]
    assert leaked == []
    assert "post" in openapi["paths"].get("/api/admin/v1/projects/{project_id}/{action}", {})


# --- errors for routes that do not exist ---------------------------------------------------------------------------

def test_an_unknown_route_gets_the_json_error_envelope(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == "not_found" and error["message"]


def test_a_wrong_method_gets_the_json_error_envelope(client):
    response = client.delete("/api/v1/projects")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
