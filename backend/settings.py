"""Settings from environment variables, with typed parsing and embedded defaults.

Every setting has an embedded default so that a fresh clone runs with nothing configured: a SQLite file in the
instance folder, an in-process Redis stand-in, a session secret generated into the instance folder. Production must
set the secrets and refuses what only development may do (the fake WeChat, the demo, plain-http callbacks).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A setting is present but cannot be parsed, or production lacks a required one."""


def parse_int(name: str, raw: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be <= {maximum}, got {value}")
    return value


def parse_list(name: str, raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(name: str, raw: str) -> str:
    url = raw.strip()
    # Heroku-style and libpq-style URLs name no driver; we speak psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise SettingsError(f"{name} must be a postgresql:// or sqlite:// URL, got {raw!r}")


def parse_redis_url(name: str, raw: str) -> str | None:
    url = raw.strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"{name} must be a redis://, rediss:// or unix:// URL, got {raw!r}")
    return url or None


def parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {list(choices)}, got {raw!r}")
    return value


def parse_base_url(name: str, raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {raw!r}")
    return url


# How long a buyer has to pay, at least. No prepay is made in the last minute before the deadline (the sweeper may
# be closing the WeChat order: orders.workflow.PREPAY_MARGIN), so a floor at or below that minute made every order
# unpayable (pay_params null). Five minutes leave four to pay after the latest prepay, and match WeChat Pay's own
# rule that an order may not be closed within five minutes of being placed ("订单生成后不能马上调用关单接口，最短调用
# 时间间隔为5分钟", the close-order API) — the sweeper closes it at the deadline.
MIN_RESERVATION_TTL_SECONDS = 300

# name -> (parser, default). A default of None means "derived at app creation" (see create_app).
SPEC: dict[str, tuple[Any, Any]] = {
    "APP_ENV": (lambda n, r: r.strip().lower(), "development"),
    "DATABASE_URL": (parse_database_url, None),
    "DATABASE_POOL_SIZE": (lambda n, r: parse_int(n, r, minimum=1), 10),
    "REDIS_URL": (parse_redis_url, None),
    # Signs web session cookies and CSRF tokens. Unset outside production: generated into the instance folder.
    "SECRET_KEY": (lambda n, r: r.strip(), None),
    "STAFF_SESSION_HOURS": (lambda n, r: parse_int(n, r, minimum=1), 12),  # a web sign-in lasts at most this long
    # Platform roles must sign in with a TOTP second factor: always in production, elsewhere when set (staging).
    "PLATFORM_SECOND_FACTOR": (lambda n, r: parse_choice(n, r, ("true", "false")) == "true", None),
    # Sign-in throttling: failures per account from one address (and 4× that from all addresses) per 15 minutes,
    # and sign-in attempts per address per minute.
    "SIGNIN_FAILURES_PER_ACCOUNT": (lambda n, r: parse_int(n, r, minimum=1), 5),
    "SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE": (lambda n, r: parse_int(n, r, minimum=1), 10),
    "STAFF_TOKEN_DAYS": (lambda n, r: parse_int(n, r, minimum=1), 90),  # default lifetime of a personal API token
    "INVITATION_DAYS": (lambda n, r: parse_int(n, r, minimum=1), 7),
    "SIGNUP_RATE_LIMIT_PER_MINUTE": (lambda n, r: parse_int(n, r, minimum=1), 3),  # organisation applications
    "PUBLIC_BASE_URL": (parse_base_url, "http://127.0.0.1:5000"),
    "RESERVATION_TTL_SECONDS": (lambda n, r: parse_int(n, r, minimum=MIN_RESERVATION_TTL_SECONDS), 900),
    # How long an organisation's offline order (a bank transfer finance records) holds its credits: 6 days, within
    # the ledger's 7-day reservation ceiling with the notification grace on top.
    "OFFLINE_ORDER_TTL_SECONDS": (lambda n, r: parse_int(n, r, minimum=3600, maximum=6 * 86400), 6 * 86400),
    # From this amount (fen) up, an offline payment needs a second finance user's confirmation (DESIGN.md §11).
    "OFFLINE_SECOND_CONFIRMATION_FEN": (lambda n, r: parse_int(n, r, minimum=1), 5_000_000),
    "EXTENSIONS": (parse_list, ["admin", "miniprogram_api", "scenarios"]),
    "CERT_SIGNING_KEY_FILE": (lambda n, r: r.strip(), None),
    # Where the app writes the files it makes for people to download (a staff list's ZIP of PDFs) and what those
    # jobs keep between runs (a font cut for a batch); <instance>/files when unset. Shared by the app servers.
    "FILES_DIR": (lambda n, r: r.strip(), None),
    "CERTIFICATE_ISSUER": (lambda n, r: r.strip(), "碳汇+ (Carbon Sink Plus)"),
    "CERT_RETIRED_KEYS_FILE": (lambda n, r: r.strip(), None),
    "CERT_CACHE_SECONDS": (lambda n, r: parse_int(n, r, minimum=0), 300),
    "PUBLIC_RATE_LIMIT_PER_MINUTE": (lambda n, r: parse_int(n, r, minimum=1), 120),
    "REDIS_KEY_PREFIX": (lambda n, r: r.strip(), "th:"),
    "TRUSTED_PROXY_HOPS": (lambda n, r: parse_int(n, r, minimum=0), 0),
    # WeChat: "fake" starts the local fake WeChat (backend/wechat/fake.py) inside the app process and points
    # every client at it; "live" talks to the real endpoints below. Production must be live.
    "WECHAT_MODE": (lambda n, r: parse_choice(n, r, ("fake", "live")), None),  # default: fake, live in production
    "WECHAT_APPID": (lambda n, r: r.strip(), None),
    "WECHAT_APP_SECRET": (lambda n, r: r.strip(), None),
    "WECHAT_API_BASE": (parse_base_url, "https://api.weixin.qq.com"),
    "WECHATPAY_MCHID": (lambda n, r: r.strip(), None),
    "WECHATPAY_PRIVATE_KEY_FILE": (lambda n, r: r.strip(), None),
    "WECHATPAY_CERT_SERIAL_NO": (lambda n, r: r.strip(), None),
    "WECHATPAY_APIV3_KEY": (lambda n, r: r.strip(), None),
    "WECHATPAY_PUBLIC_KEY_FILE": (lambda n, r: r.strip(), None),
    "WECHATPAY_PUBLIC_KEY_ID": (lambda n, r: r.strip(), None),
    "WECHATPAY_GATEWAY": (parse_base_url, "https://api.mch.weixin.qq.com"),
    "WECHATPAY_NOTIFY_URL": (parse_base_url, None),
    "WECHAT_CERTIFICATE_TEMPLATE_ID": (lambda n, r: r.strip(), None),
    "ORDER_SWEEP_INTERVAL_SECONDS": (lambda n, r: parse_int(n, r, minimum=0), 60),  # 0: only `flask orders sweep`
    # The sequencer (backend/sequencer.py) chains committed audit events and appends signed certificates to the
    # transparency log this often, in every app process (one at a time works, the others skip); 0: only `flask seal`.
    "SEQUENCER_INTERVAL_MS": (lambda n, r: parse_int(n, r, minimum=0), 500),
    # The longest an audit event may stay unsealed or a certificate out of the log (a CT log's maximum merge
    # delay): `flask audit verify`, `flask log verify` and `flask ledger check` fail past it.
    "SEAL_DELAY_SECONDS": (lambda n, r: parse_int(n, r, minimum=1), 60),
    "MP_SESSION_TTL_SECONDS": (lambda n, r: parse_int(n, r, minimum=300), 7 * 86400),
    "MP_LOGIN_RATE_LIMIT_PER_MINUTE": (lambda n, r: parse_int(n, r, minimum=1), 20),
    "JOB_WORKER_THREADS": (lambda n, r: parse_int(n, r, minimum=0), 1),  # 0: only `flask jobs work` runs jobs
    # A job worker's lease: a worker silent this long is taken for dead and its job is run again by another.
    # Longer than a Redis failover or a GC pause, short enough that a killed worker's job waits little.
    "JOB_LEASE_SECONDS": (lambda n, r: parse_int(n, r, minimum=1), 30),
    # The console's verifiers (audit chain, ledger invariants, transparency log) run on their own this often; 0: only
    # when someone asks (the tests, whose worker threads must run nothing but what a test queued).
    "VERIFY_EVERY_SECONDS": (lambda n, r: parse_int(n, r, minimum=0), 3600),
    # How often the job workers look for console exports whose job was lost, and queue them again (0: never).
    "EXPORT_SWEEP_SECONDS": (lambda n, r: parse_int(n, r, minimum=0), 300),
    "BOARD_REBUILD_SECONDS": (lambda n, r: parse_int(n, r, minimum=10), 600),
    # Mini-program limits per user (issue 12): one account must neither hold a listing hostage nor flood WeChat.
    # A session ends this long after its login however often it is refreshed, so a stolen token does not live forever.
    "MP_SESSION_MAX_AGE_SECONDS": (lambda n, r: parse_int(n, r, minimum=300), 30 * 86400),
    # Unpaid orders one user may have at once; one more is a 429 until one of them is paid or expires.
    "MP_MAX_UNPAID_ORDERS": (lambda n, r: parse_int(n, r, minimum=1), 3),
    # Grams those unpaid orders may hold together (50 t), so that no one reserves a whole listing again and again.
    "MP_MAX_RESERVED_G": (lambda n, r: parse_int(n, r, minimum=1), 50_000_000),
    # POST /orders per user and minute; an idempotent replay counts too (it costs a transaction all the same).
    "MP_ORDERS_PER_MINUTE": (lambda n, r: parse_int(n, r, minimum=1), 10),
    # Seconds between WeChat Pay queries for one order while its buyer polls its status; 0: every poll asks.
    "MP_ORDER_QUERY_INTERVAL_SECONDS": (lambda n, r: parse_int(n, r, minimum=0), 5),
}

LIVE_WECHAT_SETTINGS = ("WECHAT_APPID", "WECHAT_APP_SECRET", "WECHATPAY_MCHID", "WECHATPAY_PRIVATE_KEY_FILE",
                        "WECHATPAY_CERT_SERIAL_NO", "WECHATPAY_APIV3_KEY", "WECHATPAY_PUBLIC_KEY_FILE",
                        "WECHATPAY_PUBLIC_KEY_ID")

RETIRED_SETTINGS = {"OPERATOR_TOKEN": "the shared operator token is gone: create staff accounts "
                                      "(flask --app backend users create NAME --role admin) and personal tokens"}
FAKE_CERTIFICATE_TEMPLATE_ID = "fake-certificate-ready"
APP_ENVS = {"development", "test", "production"}


def _is_loopback(url: str) -> bool:
    """A URL on this very machine (a benchmark's stand-in for WeChat, say): plain http never leaves the host."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every setting from ``environ`` (default: ``os.environ``), parsed to its type."""
    environ = os.environ if environ is None else environ
    for name, why in RETIRED_SETTINGS.items():
        if environ.get(name):
            log.warning("%s is set but no longer used: %s", name, why)
    settings: dict[str, Any] = {}
    for name, (parser, default) in SPEC.items():
        raw = environ.get(name)
        settings[name] = default if raw is None else parser(name, raw)
    return settings


def finish_settings(settings: dict[str, Any], instance_path: str) -> dict[str, Any]:
    """Fill derived defaults and refuse an unsafe production configuration."""
    if settings["APP_ENV"] not in APP_ENVS:
        raise SettingsError(f"APP_ENV must be one of {sorted(APP_ENVS)}, got {settings['APP_ENV']!r}")
    if settings["RESERVATION_TTL_SECONDS"] < MIN_RESERVATION_TTL_SECONDS:  # also when set by create_app(overrides)
        raise SettingsError(f"RESERVATION_TTL_SECONDS must be >= {MIN_RESERVATION_TTL_SECONDS}, "
                            f"got {settings['RESERVATION_TTL_SECONDS']}")
    production = settings["APP_ENV"] == "production"
    if settings["DATABASE_URL"] is None:
        if production:
            raise SettingsError("DATABASE_URL must be set in production")
        settings["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "tanhui.db")
    if settings["REDIS_URL"] is None and production:
        raise SettingsError("REDIS_URL must be set in production")
    if not settings["CERT_SIGNING_KEY_FILE"]:
        if production:
            raise SettingsError("CERT_SIGNING_KEY_FILE must be set in production")
        settings["CERT_SIGNING_KEY_FILE"] = os.path.join(instance_path, "certificate-signing-key.pem")
    if not settings["CERT_RETIRED_KEYS_FILE"]:
        settings["CERT_RETIRED_KEYS_FILE"] = os.path.join(
            os.path.dirname(settings["CERT_SIGNING_KEY_FILE"]), "certificate-retired-keys.json")
    if not settings["FILES_DIR"]:
        settings["FILES_DIR"] = os.path.join(instance_path, "files")
    if settings["PLATFORM_SECOND_FACTOR"] is None:
        settings["PLATFORM_SECOND_FACTOR"] = production
    elif production and not settings["PLATFORM_SECOND_FACTOR"]:
        raise SettingsError("PLATFORM_SECOND_FACTOR cannot be false in production")
    if production and not settings["SECRET_KEY"]:
        raise SettingsError("SECRET_KEY must be set in production")
    if production and len(settings["SECRET_KEY"]) < 32:
        raise SettingsError("SECRET_KEY must be at least 32 characters in production")
    if settings["WECHAT_MODE"] is None:
        settings["WECHAT_MODE"] = "live" if production else "fake"
    if settings["WECHAT_MODE"] == "live":
        missing = [name for name in LIVE_WECHAT_SETTINGS if not settings[name]]
        if missing:
            raise SettingsError(f"WECHAT_MODE=live needs {', '.join(missing)}")
        if len(settings["WECHATPAY_APIV3_KEY"]) != 32:
            raise SettingsError("WECHATPAY_APIV3_KEY must be the 32-character APIv3 key")
    elif production:
        raise SettingsError("WECHAT_MODE must be live in production (the fake WeChat is for development and tests)")
    elif not settings["WECHAT_CERTIFICATE_TEMPLATE_ID"]:
        settings["WECHAT_CERTIFICATE_TEMPLATE_ID"] = FAKE_CERTIFICATE_TEMPLATE_ID  # the demo sends its messages
    if not settings["WECHATPAY_NOTIFY_URL"]:
        settings["WECHATPAY_NOTIFY_URL"] = settings["PUBLIC_BASE_URL"] + "/api/pay/wechat/notify"
    if production:  # certificates' QR codes, WeChat's callbacks and our calls to WeChat never travel in the clear
        for name in ("PUBLIC_BASE_URL", "WECHATPAY_NOTIFY_URL", "WECHAT_API_BASE", "WECHATPAY_GATEWAY"):
            if not (settings[name].startswith("https://") or _is_loopback(settings[name])):
                raise SettingsError(f"{name} must be an https:// URL in production, got {settings[name]!r}")
    return settings
