"""The ``flask --app backend …`` commands operators and scripts rely on.

db upgrade | db current | db downgrade · demo · serve · ledger check | ledger sweep · orders sweep ·
jobs work | jobs status | jobs dead | jobs retry | jobs drop · audit verify · keys rotate | keys show · log verify ·
cert verify
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select
from werkzeug.serving import run_simple

from backend import certificates, jobs, migrate, sequencer, wechat
from backend.audit import verify
from backend.certificates import keys as certificate_keys
from backend.certificates import wording
from backend.certificates.models import Certificate
from backend.certificates.qr import read_qr
from backend.certificates.verifier import Verdict, claims_view, split_verify_url, verify_token
from backend.db import atomic, get_engine, read, schema_revision, snapshot
from backend.demo import ACCOUNTS as DEMO_ACCOUNTS
from backend.demo import DEMO_PASSWORD, load_demo
from backend.demo import PEOPLE_ORGANISATIONS as DEMO_ORGANISATIONS
from backend.footprint import service as footprint_service
from backend.ledger import operations
from backend.ledger.errors import ReservationResolved
from backend.ledger.invariants import check
from backend.orders import workflow
from backend.orders.models import ORDER_CLIENT_PREFIX
from backend.transparency.models import LogHead
from backend.transparency.verify import check_log
from backend.wechat.errors import WeChatUnavailable

db_group = AppGroup("db", help="Database schema migrations (Alembic).")
ledger_group = AppGroup("ledger", help="The credit ledger.")
audit_group = AppGroup("audit", help="The hash-chained audit log.")
orders_group = AppGroup("orders", help="Orders paid with WeChat Pay.")
keys_group = AppGroup("keys", help="The certificate signing keys.")
jobs_group = AppGroup("jobs", help="Background jobs (certificate messages, leaderboard scores), delivered at least once.")
log_group = AppGroup("log", help="The certificate transparency log.")
cert_group = AppGroup("cert", help="Retirement certificates.")


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"schema at {schema_revision(get_engine())}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (``base`` empties it)."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"schema at {schema_revision(get_engine())}")


@db_group.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the newest one available."""
    click.echo(f"database: {schema_revision(get_engine())}  head: {migrate.head_revision()}")


@ledger_group.command("check")
def ledger_check() -> None:
    """Check every ledger invariant; exit 1 naming each one that does not hold."""
    with snapshot() as session:
        violations = check(session, now=current_app.config["CLOCK"](),
                           delay_seconds=current_app.config["SEAL_DELAY_SECONDS"])
    if violations:
        for violation in violations:
            click.echo(str(violation), err=True)
        click.echo(f"ledger check FAILED: {len(violations)} violation(s)", err=True)
        sys.exit(1)
    click.echo("ledger check passed: every invariant holds")


@ledger_group.command("sweep")
@click.option("--limit", default=500, show_default=True, help="At most this many reservations per run.")
def ledger_sweep(limit: int) -> None:
    """Void reservations whose time is up, each in its own transaction (orders' own: see `orders sweep`)."""
    clock = current_app.config["CLOCK"]
    ids = atomic(lambda s: operations.expired_reservations(s, clock(), limit=limit,
                                                           excluding_prefix=ORDER_CLIENT_PREFIX))
    voided = 0
    for reservation_id in ids:
        try:
            atomic(lambda s, rid=reservation_id: operations.void(
                s, clock(), client_id=f"expire:{rid}", reservation_id=rid, actor="system:sweeper", expired=True))
            voided += 1
        except ReservationResolved:
            pass  # paid or voided by someone else since we listed it: nothing left to sweep
    click.echo(f"voided {voided} expired reservation(s)")


@orders_group.command("sweep")
@click.option("--limit", default=200, show_default=True, help="At most this many orders of each kind per run.")
def orders_sweep(limit: int) -> None:
    """Close and release unpaid orders past their deadline, settle paid ones, send decided refunds."""
    try:
        pay = wechat.pay()
    except WeChatUnavailable as error:  # in fake mode: the server process runs the fake WeChat, and its sweeper
        raise click.ClickException(error.message) from None
    report = workflow.sweep(pay, current_app.config["CLOCK"], certificates.certify(), limit=limit)
    click.echo(str(report))
    if report.failed:
        sys.exit(1)


@jobs_group.command("work")
@click.option("--drain", is_flag=True, help="Run what is queued, then stop (otherwise wait for jobs until stopped).")
def jobs_work(drain: bool) -> None:
    """Run background jobs: for a deployment with JOB_WORKER_THREADS=0, or to empty the queue by hand.

    SIGTERM or Ctrl-C stops it after the job in hand; SIGKILL mid-job loses nothing: once its lease lapses
    (JOB_LEASE_SECONDS) another worker runs that job again."""
    app = current_app._get_current_object()
    if drain:
        click.echo(f"ran {jobs.drain(app)} job(s)")
        return
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):  # a command's main thread may set handlers; app threads may not
        signal.signal(number, lambda *_: stop.set())
    jobs.work(app, stop)


@jobs_group.command("status")
def jobs_status() -> None:
    """How many jobs wait, run, wait to be retried, and are dead letters."""
    counts = jobs.status()
    click.echo(f"queued {counts['queued']} · running {counts['running']} ({counts['workers']} worker(s)) · "
               f"retries waiting {counts['later']} · dead letters {counts['dead']}")


@jobs_group.command("dead")
def jobs_dead() -> None:
    """List the dead letters: jobs that failed MAX_ATTEMPTS times, lost their worker as often, have no handler
    here, or were never jobs. Each stays until `jobs retry` or `jobs drop`."""
    letters = jobs.dead_letters()
    click.echo(f"{len(letters)} dead letter(s)")
    for letter in letters:
        what = (f"{letter['job']} {json.dumps(letter.get('args'), ensure_ascii=False)} "
                f"after attempt {letter.get('attempt')}" if "job" in letter else f"not a job: {letter.get('line')!r}")
        click.echo(f"{letter['id']}  {letter.get('died_at', '?')}  {what}")
        click.echo(f"    {letter.get('error', '')}")


@jobs_group.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every dead letter that is a job.")
def jobs_retry(ids: tuple[str, ...], everything: bool) -> None:
    """Queue dead letters IDS again, from attempt 1 (handlers are idempotent in effect, so this is safe)."""
    _act_on_dead(jobs.retry_dead, ids, everything, "queued again")


@jobs_group.command("drop")
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every dead letter.")
def jobs_drop(ids: tuple[str, ...], everything: bool) -> None:
    """Forget dead letters IDS (after reading them with `jobs dead`)."""
    _act_on_dead(jobs.drop_dead, ids, everything, "dropped")


def _act_on_dead(action, ids: tuple[str, ...], everything: bool, done: str) -> None:
    if bool(ids) == everything:
        raise click.UsageError("name the dead letters (ids from `jobs dead`), or say --all")
    acted = action(None if everything else ids)
    for letter in acted:
        click.echo(f"{letter['id']} {done}")
    missed = sorted(set(ids) - {letter["id"] for letter in acted})
    for letter_id in missed:
        click.echo(f"{letter_id}: no such dead letter" + (" that is a job" if action is jobs.retry_dead else ""),
                   err=True)
    click.echo(f"{len(acted)} dead letter(s) {done}")
    if missed:
        sys.exit(1)


@audit_group.command("verify")
def audit_verify() -> None:
    """Verify the audit hash chain; exit 1 naming the first broken link, or when events have waited for the
    sealer longer than SEAL_DELAY_SECONDS."""
    with snapshot() as session:
        report = verify(session, now=current_app.config["CLOCK"](),
                        delay_seconds=current_app.config["SEAL_DELAY_SECONDS"])
    if report.broken_at is not None:
        click.echo(f"audit chain BROKEN at event {report.broken_at}: {report.problem}", err=True)
        sys.exit(1)
    if report.overdue:
        click.echo(f"audit chain intact but NOT SEALED IN TIME: {report.overdue}", err=True)
        sys.exit(1)
    waiting = report.unsealed
    click.echo(f"audit chain intact: {report.length} event(s)"
               + (f"; {waiting.count} more waiting for the sealer (the oldest for "
                  f"{waiting.age_seconds(current_app.config['CLOCK']()):.1f} s)" if waiting.count else ""))


@click.command("seal")
@with_appcontext
def seal() -> None:
    """Run the sequencer once: chain committed audit events, append signed certificates to the transparency log
    (each app process does this every SEQUENCER_INTERVAL_MS; this is for SEQUENCER_INTERVAL_MS=0 and by hand)."""
    click.echo(str(sequencer.run_once(current_app._get_current_object())))


@log_group.command("verify")
@click.option("--jwks", "jwks_file", type=click.File("r", encoding="utf-8"), default=None,
              help="Check tree head signatures against this JWKS file (default: this app's published keys).")
def log_verify(jwks_file) -> None:
    """Rebuild the transparency log from the certificates and check every leaf, node and signed tree head."""
    jwks = _read_jwks(jwks_file) if jwks_file else certificates.key_ring().jwks()
    with snapshot() as session:
        violations = check_log(session, jwks, now=current_app.config["CLOCK"](),
                               delay_seconds=current_app.config["SEAL_DELAY_SECONDS"])
        size = session.execute(select(LogHead.tree_size)).scalar_one_or_none()
    if violations:
        for violation in violations:
            click.echo(str(violation), err=True)
        click.echo(f"log verify FAILED: {len(violations)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"transparency log verified: {size} leaves, every node and signed tree head matches")


@cert_group.command("verify")
@click.argument("source")
@click.option("--jwks", "jwks_file", type=click.File("r", encoding="utf-8"), required=True,
              help="The published keys (a saved copy of /.well-known/jwks.json).")
def cert_verify(source: str, jwks_file) -> None:
    """Check a certificate offline: SOURCE is a PNG with its QR (the QR image, share card or a photo of the
    PDF), the QR's URL, or the bare JWS. Needs no network and no database; exit 0 valid, 1 invalid."""
    jwks = _read_jwks(jwks_file)
    text = source
    if _is_file(source):
        try:
            text = read_qr(Path(source))
        except ValueError as error:
            click.echo(f"INVALID: {error}")
            sys.exit(1)
    number, token = split_verify_url(text)
    verdict = verify_token(token, jwks)
    if verdict.genuine and number and verdict.claims["n"] != number:
        verdict = Verdict(False, f"链接中的编号 {number} 与签名中的 {verdict.claims['n']} 不符 "
                          "(the URL names another certificate than the one signed)", verdict.claims, verdict.kid)
    if not verdict.genuine:
        click.echo(f"INVALID: {verdict.reason}")
        sys.exit(1)
    claims = claims_view(verdict.claims)
    claims["retired_at"] = datetime.fromtimestamp(claims.get("retired_at", 0), timezone.utc).isoformat()
    click.echo(f"VALID: {verdict.reason}")
    if "kind" in claims:  # a document over several retirements (a witness certificate …): no batch of its own
        click.echo(f"  document {claims['number']} ({claims['kind']}) · {wording.quantity_text(claims['quantity_g'])} "
                   f"({claims['quantity_g']} g CO2e)")
        click.echo(f"  purpose {wording.purpose_text(claims.get('purpose', ''))} · issued {claims.get('retired_at')}"
                   f" · key {verdict.kid}")
    else:
        click.echo(f"  certificate {claims['number']} · {wording.quantity_text(claims['quantity_g'])} "
                   f"({claims['quantity_g']} g CO2e) · batch {claims.get('batch')}")
        click.echo(f"  purpose {wording.purpose_text(claims.get('purpose', ''))} · retired {claims.get('retired_at')}")
        serials = wording.serials_text(claims.get("serials", []))
        if count := claims.get("serial_range_count"):
            serials = f"{serials} (span of {count} ranges; the full list is on the verify page)"
        click.echo(f"  serials {serials} · key {verdict.kid}")
    digest = claims.get("payload_sha256", "")
    click.echo(f"  payload SHA-256 {base64.urlsafe_b64decode(digest + '=' * (-len(digest) % 4)).hex()}")
    click.echo("  (offline check: the signature only. Revocation and the log proof are on the verify page.)")


def _read_jwks(handle) -> dict:
    """The JWKS file, checked up front: a bad file is the caller's mistake (exit 2), not a forged certificate."""
    try:
        return certificate_keys.check_jwks(json.load(handle))
    except ValueError as error:
        raise click.BadParameter(f"not a usable JWKS: {error}", param_hint="--jwks") from None


def _is_file(source: str) -> bool:
    try:
        return Path(source).is_file()
    except OSError:  # a JWS is longer than any file name
        return False


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Make a new signing key; the current one is retired and keeps verifying under its kid."""
    config = current_app.config
    old, new = certificate_keys.rotate(config["CERT_SIGNING_KEY_FILE"], config["CERT_RETIRED_KEYS_FILE"])
    click.echo(f"signing key is now {new}" + (f"; {old} retired (still published in the JWKS)" if old else ""))
    click.echo("restart the app processes to sign with it")


@keys_group.command("show")
def keys_show() -> None:
    """Print the published JWKS (current key first)."""
    click.echo(json.dumps(current_app.extensions["cert_keys"].jwks(), indent=2))


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo registry, batches, inventory and people (idempotent: a second run changes nothing)."""
    _refuse_in_production("demo")
    summary = load_demo(current_app.config["CLOCK"](), certificates.certify())
    sequencer.run_once(current_app._get_current_object())  # no server may be running to seal what it wrote
    click.echo(summary)


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve_command(host: str, port: int) -> None:
    """Migrate, load the demo data and serve (the embedded development set-up)."""
    _refuse_in_production("serve")
    app = current_app._get_current_object()
    migrate.upgrade(app.config["DATABASE_URL"])
    click.echo(load_demo(app.config["CLOCK"](), certificates.certify()))
    sequencer.run_once(app)  # the demo's certificates verify with their log proofs from the first page view
    factors = footprint_service.current_set()
    click.echo(f"emission-factor set {factors.number}: {factors.summary}")
    base = f"http://{host}:{port}"
    for name, value in (("PUBLIC_BASE_URL", base), ("WECHATPAY_NOTIFY_URL", base + "/api/pay/wechat/notify")):
        if name not in os.environ:  # QR codes and the fake WeChat's notifications point at this very server
            app.config[name] = value
    click.echo("\n碳汇+ is running (embedded defaults: %s, Redis %s)" % (
        app.config["DATABASE_URL"], app.config["REDIS_URL"] or "in-process stand-in"))
    for label, path in (("health", "/healthz"), ("projects", "/api/v1/projects"), ("OpenAPI", "/openapi.json"),
                        ("signing keys", "/.well-known/jwks.json"), ("log head", "/api/v1/log/sth"),
                        ("factors", "/api/v1/footprint/factors"), ("airports", "/api/v1/airports?q=成都")):
        click.echo(f"  {label:<15} {base}{path}")
    if first := read(lambda session: session.execute(select(Certificate).order_by(Certificate.id).limit(1))
                     .scalar_one_or_none()):
        click.echo(f"  certificate     {base}/v/{first.number}?jws={first.jws}")
        for kind in ("certificate.png", "certificate.pdf"):
            click.echo(f"  {kind:<15} {base}/api/v1/certificates/{first.number}/{kind}")
    click.echo(f"  footprint       curl -s {base}/api/v1/footprint/household -H 'Content-Type: application/json' "
               """-d '{"region": "510000", "electricity_kwh": 100}'""")
    click.echo(f"  shop            {base}/api/mp/v1/listings")
    click.echo(f"  wx.login code   curl -s -X POST {base}/api/dev/wx-login  (what the phone's wx.login gives: "
               "good for one login, within 5 minutes)")
    click.echo(f"  log in          curl -s {base}/api/mp/v1/auth/login -H 'Content-Type: application/json' "
               """-d '{"code": "<that code>"}'""")
    click.echo(f"  fake WeChat     in this process (WECHAT_MODE={app.config['WECHAT_MODE']}); pay an order with "
               f"curl -X POST {base}/api/dev/pay/<order_no>  (README: buying with curl)")
    click.echo(f"\n  sign in (password {DEMO_PASSWORD} for every demo account, development only):")
    click.echo(f"  operators       {base}/admin/login   as " + ", ".join(
        name for name, _, _, org in DEMO_ACCOUNTS if org is None))
    click.echo(f"  organisations   {base}/org/login     as")
    organisations = {spec["key"]: spec["name"] for spec in DEMO_ORGANISATIONS}
    for name, _, role, org in DEMO_ACCOUNTS:
        if org is not None:
            click.echo(f"    {name:<16} {role} of {organisations[org]}")
    click.echo(f"  operator API    curl -s {base}/api/admin/v1/projects -H \"Authorization: Bearer $(.venv/bin/flask "
               "--app backend users token admin)\"  (or make a token on /admin/account)\n")
    # Werkzeug's development server: fine for the embedded set-up; production runs gunicorn (README).
    run_simple(host, port, app, threaded=True)


def _refuse_in_production(command: str) -> None:
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException(f"`{command}` is the embedded development set-up (demo data with a public "
                                   "password, the fake WeChat); production runs gunicorn (README: deploying)")


def init_app(app: Flask) -> None:
    for command in (db_group, ledger_group, orders_group, jobs_group, audit_group, keys_group, log_group, cert_group,
                    seal, demo_command, serve_command):
        app.cli.add_command(command)
