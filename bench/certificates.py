"""Certificate throughput: sign+store per second, the verify page against a bare Flask endpoint, render times.

sign+store (``--only sqlite`` / ``--only postgresql``): one writer retires 12 345 g at a time straight from the
platform's inventory of one issued batch. Each retirement is one transaction, ``backend.db.atomic`` calling
``backend.ledger.operations.retire``, which moves the serials, writes the audit event and calls the ``certify`` of
``backend.certificates.service.certifier``: number the certificate, build its canonical payload, sign the compact
JWS (Ed25519), insert it, append its digest to the transparency log and sign the new tree head. ``certify`` is
wrapped with a timer, and the key ring with another around its two Ed25519 signatures, so the certificate's share
of a retirement is reported on its own. The bare JWS signing rate over a real certificate's claims is the
reference. Afterwards the ledger invariants, the audit chain and the transparency log (rebuilt from the
certificates, every tree head signature checked against the JWKS) must hold.

verify page (``--only http``): gunicorn, gthread worker class, 2 workers x 4 threads, serves ``backend:create_app()``
configured by environment variables (a fresh PostgreSQL schema, Redis db 14 under a key prefix of its own, a rate
limit so high that the limiter counts every request but refuses none), after ``flask --app backend demo`` made the
certificates. One request warms the Redis cache, a one-second wrk run warms every worker, then wrk loads
``GET /v/<number>?jws=<jws>`` — the QR's URL, so every request also verifies that JWS — for ``--seconds``. The
same wrk settings then load the JSON look-up, the PDF (from Redis after its first render), and a bare Flask app
(one route answering ``jsonify({"ok": True})``) under the same gunicorn settings; the ratios are to that bare app.
wrk runs on the same machine as the server (2 cores here), so both share the CPUs.

render (``--only render``): ``render.qr_png``, ``render.share_card_png`` and ``render.certificate_pdf`` on real
public views (certificates made in a fresh SQLite database, read back through ``lookup.certificate_record``).
Cold: the first call in a fresh Python process, font loading included (import time shown apart). Warm: the
mean and median over ``--renders`` distinct certificates, the QR symbol cache cleared before each pass, so no
cache helps. Served: ``GET /api/v1/certificates/<n>/certificate.pdf`` (and the share card) through the Flask
test client, after the first request rendered it into Redis.

    .venv/bin/python bench/certificates.py [--seconds N] [--only sqlite|postgresql|http|render]
                                           [--connections C] [--renders N]

Everything is created fresh (a temp SQLite file, ``bench_*`` schemas in the ``test`` database, Redis keys under a
``bench-cert-*`` prefix, temp key files) and removed at exit, gunicorn included. Exit 1 if anything failed: a
violated invariant, a broken log, a non-2xx answer, a page that does not say genuine.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import redis
from joserfc.jwk import OKPKey
from ledger import make_batches  # bench/ledger.py: this script's directory is first on sys.path
from report import cpu_model, fail, finish, percentile, run_part  # bench/report.py, beside this script
from sqlalchemy import create_engine, select, text

from backend import audit, certificates, create_app, migrate
from backend.canonical import canonical_json
from backend.certificates import images, lookup, render
from backend.certificates.keys import KeyRing
from backend.certificates.models import Certificate
from backend.certificates.service import certificate_of, certifier, signed_claims
from backend.privacy.fingerprint import key_from
from backend.db import atomic, make_engine, read, snapshot
from backend.ledger import operations
from backend.ledger.invariants import check
from backend.transparency.verify import check_log

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
AMOUNT_G = 12_345  # a personal footprint-sized purchase
ISSUER = "碳汇+ (bench)"
WARM_UP_RETIREMENTS = 5  # connect, prepare statements, open the year's certificate counter
GUNICORN_WORKERS, GUNICORN_THREADS = 2, 4
WRK_THREADS = 1  # one event loop drives thousands of requests a second; more would only take CPU from the server
SERVED_REQUESTS = 50
GENUINE_MARK = "真实有效"

# (purpose, reference) of the certificates made, in turn: cards and PDFs with and without a reference line, and
# purposes whose wording differs in length.
PURPOSES = [("personal", None), ("event", "2026 成都马拉松（碳中和）"), ("judicial", "（2024）川0129刑初12号"),
            ("tree_duty", "2026")]
BENEFICIARIES = ["张三", "成都马拉松组委会", "李四", "四川某林业有限公司"]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)




# ----------------------------------------------------------------------------------------------------------------
# Fresh stores, removed at exit


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A migrated, empty database: a temp SQLite file, or a ``bench_*`` schema in PostgreSQL's ``test``."""
    if kind == "sqlite":
        directory = tempfile.mkdtemp(prefix="bench-cert-")
        try:
            url = f"sqlite:///{directory}/certificates.db"
            migrate.upgrade(url)
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@contextmanager
def redis_namespace() -> Iterator[str]:
    """A REDIS_KEY_PREFIX nobody else uses; its keys are deleted afterwards."""
    prefix = f"bench-cert-{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def redis_counts(prefix: str, pattern: str) -> int:
    """The sum of the counters under ``prefix + pattern`` (the rate limiter's, say)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + pattern, count=1000))
        return sum(int(value) for value in client.mget(keys)) if keys else 0
    finally:
        client.close()


def write_signing_key(directory: str) -> str:
    """A fresh Ed25519 key file: made here, because two gunicorn workers generating it at once would collide."""
    path = os.path.join(directory, "certificate-signing-key.pem")
    Path(path).write_bytes(OKPKey.generate_key("Ed25519").as_pem(private=True))
    os.chmod(path, 0o600)
    return path


# ----------------------------------------------------------------------------------------------------------------
# The ledger side: a batch to retire from, and one retirement


def make_batch(engine, tag: str) -> int:
    """A registered forest project with one batch issued to the platform (bench/ledger.py's set-up)."""
    return make_batches(engine, 1, tag)[0]


def retire_once(engine, batch_id: int, certify, client_id: str, number: int = 0):
    """One retirement from the platform's inventory: one transaction, its certificate included."""
    purpose, reference = PURPOSES[number % len(PURPOSES)]
    return atomic(lambda s: operations.retire(
        s, now_utc(), client_id=client_id, batch_id=batch_id, holder="platform", amount_g=AMOUNT_G, purpose=purpose,
        purpose_ref=reference, beneficiary_name=BENEFICIARIES[number % len(BENEFICIARIES)], actor="bench",
        certify=certify), engine=engine)


# ----------------------------------------------------------------------------------------------------------------
# 1. sign+store


@dataclass
class TimedKeyRing(KeyRing):
    """The key ring, adding up the time its Ed25519 signatures take (the certificate's JWS, the tree head's)."""

    signing_seconds: float = 0.0

    def sign(self, payload: bytes) -> str:
        began = time.perf_counter()
        try:
            return super().sign(payload)
        finally:
            self.signing_seconds += time.perf_counter() - began

    def sign_bytes(self, message: bytes) -> bytes:
        began = time.perf_counter()
        try:
            return super().sign_bytes(message)
        finally:
            self.signing_seconds += time.perf_counter() - began


class TimedCertify:
    """The ledger's ``certify``, timed: the whole certificate, and the part of it spent signing."""

    def __init__(self, ring: TimedKeyRing) -> None:
        self.ring = ring
        self.certify = certifier(ring, ISSUER, key_from("bench-secret"))
        self.seconds: list[float] = []
        self.signing: list[float] = []

    def __call__(self, session, now, retirement, ranges, beneficiary_name):
        signed_before, began = self.ring.signing_seconds, time.perf_counter()
        try:
            return self.certify(session, now, retirement, ranges, beneficiary_name)
        finally:
            self.seconds.append(time.perf_counter() - began)
            self.signing.append(self.ring.signing_seconds - signed_before)

    def fingerprint(self, name: str) -> str:
        return self.certify.fingerprint(name)

    def forget(self) -> None:
        self.seconds.clear()
        self.signing.clear()


@dataclass
class StoreResult:
    backend: str
    elapsed: float = 0.0
    retirement_s: list[float] = field(default_factory=list)
    certify_s: list[float] = field(default_factory=list)
    signing_s: list[float] = field(default_factory=list)
    claims: bytes = b""  # a real certificate's signed claims, for the signing reference

    @property
    def retirements_per_s(self) -> float:
        return len(self.retirement_s) / self.elapsed if self.elapsed else 0.0

    @property
    def certificates_per_s(self) -> float:
        """Certificates per second of time spent in certify: what the certificate alone would allow."""
        return len(self.certify_s) / sum(self.certify_s) if self.certify_s else 0.0


def bench_store(backend: str, seconds: float) -> StoreResult:
    print(f"sign+store on {backend}: single writer, {seconds:g} s", flush=True)
    result = StoreResult(backend)
    with fresh_database(backend) as url:
        engine = make_engine(url, pool_size=1)
        try:
            ring = TimedKeyRing(OKPKey.generate_key("Ed25519"))
            certify = TimedCertify(ring)
            batch_id = make_batch(engine, uuid.uuid4().hex[:8])
            for number in range(WARM_UP_RETIREMENTS):
                retire_once(engine, batch_id, certify, f"warm-{number}", number)
            certify.forget()
            started = time.perf_counter()
            deadline, number = started + seconds, 0
            while time.perf_counter() < deadline:
                number += 1
                began = time.perf_counter()
                retire_once(engine, batch_id, certify, f"retire-{number}", number)
                result.retirement_s.append(time.perf_counter() - began)
            result.elapsed = time.perf_counter() - started
            result.certify_s, result.signing_s = list(certify.seconds), list(certify.signing)
            result.claims = last_claims(engine)
            check_store(engine, ring, backend)
        finally:
            engine.dispose()
    print(f"  {result.retirements_per_s:.1f} retirements/s; certify {statistics.fmean(result.certify_s) * 1000:.2f} "
          f"ms mean ({len(result.retirement_s)} retirements)", flush=True)
    return result


def last_claims(engine) -> bytes:
    """The canonical claims the newest certificate's JWS signs."""
    payload, digest = read(lambda s: s.execute(select(Certificate.payload, Certificate.payload_sha256)
                                               .order_by(Certificate.id.desc()).limit(1)).one(), engine=engine)
    return canonical_json(signed_claims(payload, digest))


def check_store(engine, ring: KeyRing, backend: str) -> None:
    """The ledger's invariants, the audit chain and the transparency log, on one snapshot after the run."""
    with snapshot(engine) as session:
        violations = check(session)
        log_violations = check_log(session, ring.jwks())
        chain = audit.verify(session)
        leaves = len(session.execute(select(Certificate.id)).all())
    print(f"  {backend}: ledger invariants {'hold' if not violations else f'{len(violations)} VIOLATED'}; "
          f"audit chain {'intact' if chain.ok else 'BROKEN'} ({chain.length} events); transparency log "
          f"{'verified' if not log_violations else f'{len(log_violations)} problems'} ({leaves} leaves, "
          f"tree head signatures checked against the JWKS)", flush=True)
    for violation in (violations + log_violations)[:5]:
        print(f"    {violation}")
    if violations or log_violations or not chain.ok:
        fail(f"{backend}: ledger invariants, audit chain or transparency log do not hold")


@dataclass
class SigningResult:
    jws_us: float
    raw_us: float
    claims_bytes: int


def bench_signing(claims: bytes, seconds: float) -> SigningResult:
    """Bare Ed25519: a compact JWS of the claims through joserfc (as certify does), and a raw signature."""
    ring = KeyRing(OKPKey.generate_key("Ed25519"))

    def rate(sign: Callable[[], object]) -> float:
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(100):
                sign()
            count += 100
        return (time.perf_counter() - started) / count * 1e6

    result = SigningResult(rate(lambda: ring.sign(claims)), rate(lambda: ring.current.private_key.sign(claims)),
                           len(claims))
    print(f"Ed25519 reference: JWS {result.jws_us:.1f} µs, raw signature {result.raw_us:.1f} µs "
          f"({result.claims_bytes}-byte claims)", flush=True)
    return result


# ----------------------------------------------------------------------------------------------------------------
# 2. The verify page against a bare Flask endpoint, under gunicorn and wrk

BARE_APP = '''"""The baseline: the least a Flask JSON endpoint can do."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def ok():
    return jsonify({"ok": True})
'''


@dataclass
class Load:
    name: str
    path: str
    rate: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    requests: int = 0
    non_2xx: int = 0
    socket_errors: str = ""
    bytes_per_response: int = 0


@dataclass
class HttpResult:
    loads: list[Load] = field(default_factory=list)
    settings: str = ""

    def rate_of(self, name: str) -> float:
        return next((load.rate for load in self.loads if load.name == name), 0.0)


def ensure_wrk() -> str | None:
    """wrk's path; installed from Debian if absent (we run as root); None, with a problem, if that fails."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get install -y wrk", flush=True)
    installed = subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, text=True)
    if installed.returncode != 0 or not shutil.which("wrk"):
        fail(f"wrk is not installed and apt-get install -y wrk failed: {installed.stderr.strip()[-300:]}")
        return None
    return shutil.which("wrk")


def gunicorn_available() -> bool:
    try:
        importlib.metadata.version("gunicorn")
    except importlib.metadata.PackageNotFoundError:
        fail("gunicorn is not installed: .venv/bin/pip install -e '.[server]'")
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], cwd: str, log_path: str, ready_path: str) -> Iterator[str]:
    """A gunicorn serving ``app_spec`` in a process group of its own; yields its base URL once it answers 200."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", str(GUNICORN_WORKERS), "--worker-class", "gthread",
               "--threads", str(GUNICORN_THREADS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
               app_spec]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, base + ready_path, log_path)
        yield base
    finally:
        stop_process_group(process)


def wait_until_ready(process: subprocess.Popen, url: str, log_path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with suppress(OSError):  # not listening yet: try again shortly
            if get(url, timeout=2)[0] == 200:
                return
        time.sleep(0.2)
    tail = Path(log_path).read_text(errors="replace")[-2000:]
    raise RuntimeError(f"gunicorn did not answer 200 at {url} (exit code {process.poll()}):\n{tail}")


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group (the arbiter and its workers), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:  # already gone
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def run_wrk(wrk: str, url: str, seconds: int, connections: int) -> str:
    command = [wrk, "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def parse_wrk(output: str, load: Load) -> Load:
    def number(pattern: str, default: str = "0") -> str:
        found = re.search(pattern, output, re.MULTILINE)
        return found.group(1) if found else default

    load.rate = float(number(r"^Requests/sec:\s+([\d.]+)"))
    load.requests = int(number(r"^\s*(\d+) requests in"))
    load.non_2xx = int(number(r"Non-2xx or 3xx responses:\s+(\d+)"))
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    load.socket_errors = errors.group(1).strip() if errors else ""
    for share, attribute in (("50", "p50_ms"), ("99", "p99_ms")):
        found = re.search(rf"^\s+{share}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if found:
            setattr(load, attribute, float(found.group(1)) * _UNITS_MS[found.group(2)])
    return load


def load_test(wrk: str, base: str, load: Load, seconds: int, connections: int) -> Load:
    """A one-second wrk run to warm every worker and thread, then the measured one; non-2xx fails the run."""
    url = base + load.path
    status, body = get(url)
    if status != 200:
        fail(f"{load.name}: {load.path[:60]}… answered {status}")
    load.bytes_per_response = len(body)
    run_wrk(wrk, url, 1, connections)
    parse_wrk(run_wrk(wrk, url, seconds, connections), load)
    print(f"  {load.name:<18} {load.rate:9.1f} req/s  p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms  "
          f"({load.requests} requests, {load.non_2xx} non-2xx"
          f"{', socket errors ' + load.socket_errors if load.socket_errors else ''})", flush=True)
    if load.non_2xx:
        fail(f"{load.name}: {load.non_2xx} non-2xx answers under load")
    if load.requests == 0:
        fail(f"{load.name}: wrk completed no request")
    return load


def app_environment(url: str, prefix: str, key_file: str) -> dict[str, str]:
    """The app's configuration, as a deployment gives it: environment variables only."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("FLASK_", "DATABASE_",
                                                                                      "REDIS_", "CERT_"))}
    env.update({"APP_ENV": "development", "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix,
                "PUBLIC_RATE_LIMIT_PER_MINUTE": "100000000", "CERT_SIGNING_KEY_FILE": key_file,
                "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2, "PYTHONUNBUFFERED": "1"})
    return env


def first_certificate(url: str) -> tuple[str, str]:
    """(number, JWS) of the first demo certificate: what its QR carries."""
    engine = make_engine(url, pool_size=1)
    try:
        return read(lambda s: tuple(s.execute(select(Certificate.number, Certificate.jws)
                                              .order_by(Certificate.id).limit(1)).one()), engine=engine)
    finally:
        engine.dispose()


def check_verify_page(base: str, number: str, jws: str, prefix: str) -> None:
    """The page the load will hit says genuine, and its record then sits in the Redis cache."""
    status, body = get(f"{base}/v/{number}?jws={jws}")
    genuine = GENUINE_MARK in body.decode("utf-8", errors="replace")
    print(f"  verify page of {number}: HTTP {status}, {'says' if genuine else 'does NOT say'} {GENUINE_MARK}",
          flush=True)
    if status != 200 or not genuine:
        fail(f"verify page of {number} answered {status} without {GENUINE_MARK!r}")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        if not client.exists(f"{prefix}cert:record:{number}"):
            fail(f"the record of {number} is not in the Redis cache after a request: not measuring a warm page")
    finally:
        client.close()


def bench_http(seconds: float, connections: int) -> HttpResult | None:
    wrk = ensure_wrk()
    if wrk is None or not gunicorn_available():
        return None
    duration = max(1, round(seconds))  # wrk takes whole seconds
    result = HttpResult(settings=f"gunicorn {GUNICORN_WORKERS} gthread workers x {GUNICORN_THREADS} threads; wrk -t"
                                 f"{WRK_THREADS} -c{connections} -d{duration}s --latency, after a 1 s warm-up run")
    print(f"HTTP: {result.settings}; load tool and server share {os.cpu_count()} CPUs", flush=True)
    with (fresh_database("postgresql") as url, redis_namespace() as prefix,
          tempfile.TemporaryDirectory(prefix="bench-cert-http-") as directory):
        env = app_environment(url, prefix, write_signing_key(directory))
        demo = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", "demo"], cwd=REPO, env=env,
                              capture_output=True, text=True)
        if demo.returncode != 0:
            raise RuntimeError(f"flask --app backend demo failed:\n{demo.stderr[-2000:]}")
        print(f"  {demo.stdout.strip()[:150]}…", flush=True)
        number, jws = first_certificate(url)

        Path(directory, "bare_app.py").write_text(BARE_APP, encoding="utf-8")
        with gunicorn("bare_app:app", env, directory, f"{directory}/bare.log", "/") as base:
            result.loads.append(load_test(wrk, base, Load("bare Flask JSON", "/"), duration, connections))

        with gunicorn("backend:create_app()", env, str(REPO), f"{directory}/app.log", "/healthz") as base:
            check_verify_page(base, number, jws, prefix)
            for load in (Load("verify page", f"/v/{number}?jws={jws}"),
                         Load("certificate JSON", f"/api/v1/certificates/{number}"),
                         Load("certificate PDF", f"/api/v1/certificates/{number}/certificate.pdf")):
                result.loads.append(load_test(wrk, base, load, duration, connections))
        check_limiter_counted(prefix, result)
    return result


def check_limiter_counted(prefix: str, result: HttpResult) -> None:
    """Every verify request went through the rate limiter (Redis INCR), so the page measured is the real one."""
    counted = redis_counts(prefix, "rl:verify:*")
    loaded = next(load.requests for load in result.loads if load.name == "verify page")
    print(f"  rate limiter counted {counted} verify requests (wrk's measured run completed {loaded})", flush=True)
    if counted < loaded:
        fail(f"the rate limiter counted {counted} verify requests, fewer than the {loaded} made")


# ----------------------------------------------------------------------------------------------------------------
# 3. PNG and PDF render times

# What each render endpoint draws (images.KINDS: kind -> (mimetype, draw(card, url))), and its function's name.
RENDERERS = {"qr.png": "render.qr_png", "certificate.png": "render.share_card_png",
             "certificate.pdf": "render.certificate_pdf"}

COLD_RENDER = '''
import json, sys, time
began = time.perf_counter()
from backend.certificates import render
imported = time.perf_counter()
from backend.certificates.images import KINDS  # nothing more to import: backend/__init__ already did
job = json.load(sys.stdin)
started = time.perf_counter()
data = KINDS[sys.argv[1]][1](job["card"], job["url"])
print(json.dumps({"import_s": imported - began, "first_s": time.perf_counter() - started, "bytes": len(data)}))
'''


@dataclass
class RenderTimes:
    kind: str
    import_ms: float = 0.0
    cold_ms: float = 0.0
    warm_ms: list[float] = field(default_factory=list)
    size_bytes: list[int] = field(default_factory=list)


@dataclass
class RenderResult:
    renders: list[RenderTimes] = field(default_factory=list)
    served: dict[str, tuple[float, list[float]]] = field(default_factory=dict)  # kind: (first request, then)
    batch_font_ms: float = 0.0  # cutting the font for a batch of PDFs (render.font_for_many)
    batch_pdf_ms: list[float] = field(default_factory=list)  # each PDF drawn with that font


def make_cards(app, count: int) -> list[tuple[dict, str]]:
    """``count`` real certificates, as the render endpoints see them: (public record, verify URL)."""
    engine = app.extensions["db_engine"]
    batch_id = make_batch(engine, uuid.uuid4().hex[:8])
    certify = certificates.certify()
    cards = []
    for number in range(count):
        retirement = retire_once(engine, batch_id, certify, f"render-{number}", number)
        certificate_number = read(lambda s, rid=retirement.id: certificate_of(s, rid).number, engine=engine)
        record = lookup.certificate_record(certificate_number)
        cards.append((record, images.verify_url(record)))
    return cards


def cold_render(kind: str, card: dict, url: str) -> RenderTimes:
    """The first call in a fresh process: fonts parsed, nothing cached (the OS file cache is warm, though)."""
    done = subprocess.run([sys.executable, "-c", COLD_RENDER, kind], cwd=REPO, capture_output=True,
                          text=True, input=json.dumps({"card": card, "url": url}, ensure_ascii=False), timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"cold render of {kind} failed:\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout)
    return RenderTimes(kind, import_ms=figures["import_s"] * 1000, cold_ms=figures["first_s"] * 1000)


def warm_render(times: RenderTimes, cards: list[tuple[dict, str]]) -> None:
    """After one untimed call, each of the other certificates once; the QR symbol cache cleared first."""
    draw = images.KINDS[times.kind][1]
    render.qr_symbol.cache_clear()
    draw(*cards[0])
    for card, url in cards[1:]:
        began = time.perf_counter()
        data = draw(card, url)
        times.warm_ms.append((time.perf_counter() - began) * 1000)
        times.size_bytes.append(len(data))


def served_from_redis(app, number: str, kind: str) -> tuple[float, list[float]]:
    """Through the test client: the first request (renders, stores in Redis), then SERVED_REQUESTS timed ones."""
    client = app.test_client()
    path = f"/api/v1/certificates/{number}/{kind}"
    render.qr_symbol.cache_clear()  # the warm passes drew this certificate's QR: the first request draws it anew
    began = time.perf_counter()
    first = client.get(path)
    first_ms = (time.perf_counter() - began) * 1000
    times = []
    for _ in range(SERVED_REQUESTS):
        began = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200 or response.data != first.data:
            fail(f"{path} answered {response.status_code} or other bytes than its first answer")
            break
    if first.status_code != 200:
        fail(f"{path} answered {first.status_code}")
    return first_ms, times


def bench_render(count: int) -> RenderResult:
    print(f"render: cold (fresh process) and warm over {count} distinct certificates", flush=True)
    result = RenderResult()
    with (fresh_database("sqlite") as url, redis_namespace() as prefix,
          tempfile.TemporaryDirectory(prefix="bench-cert-render-") as directory):
        app = create_app({"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix,
                          "APP_ENV": "development", "CERT_SIGNING_KEY_FILE": write_signing_key(directory),
                          "PUBLIC_RATE_LIMIT_PER_MINUTE": 100_000_000, "CERTIFICATE_ISSUER": ISSUER})
        try:
            with app.app_context():
                cards = make_cards(app, count + 1)
            for kind in RENDERERS:
                times = cold_render(kind, *cards[0])
                warm_render(times, cards)
                result.renders.append(times)
                print(f"  {RENDERERS[kind]:<22} cold {times.cold_ms:7.1f} ms (import {times.import_ms:.0f} ms "
                      f"apart); warm {statistics.fmean(times.warm_ms):6.1f} ms mean", flush=True)
            for kind in ("certificate.pdf", "certificate.png"):
                result.served[kind] = served_from_redis(app, cards[0][0]["number"], kind)
            # A job drawing many PDFs (a staff list's vouchers) cuts the font to what they draw, once.
            began = time.perf_counter()
            font = render.font_for_many((card for card, _ in cards), Path(directory))
            result.batch_font_ms = (time.perf_counter() - began) * 1000
            for card, url in cards[1:]:
                began = time.perf_counter()
                render.certificate_pdf(card, url, font_path=font)
                result.batch_pdf_ms.append((time.perf_counter() - began) * 1000)
            print(f"  certificate_pdf, font cut for the batch: cut {result.batch_font_ms:.0f} ms once, then "
                  f"{statistics.fmean(result.batch_pdf_ms):.1f} ms mean", flush=True)
        finally:
            app.extensions["db_engine"].dispose()
    return result


# ----------------------------------------------------------------------------------------------------------------
# The report


def machine_context() -> list[str]:
    lines = [f"CPUs {os.cpu_count()} ({cpu_model()}); load average {os.getloadavg()[0]:.2f}; "
             f"Python {platform.python_version()} on {platform.system()} {platform.release()}"]
    versions = []
    try:
        admin = create_engine(PG_URL)
        with admin.connect() as connection:
            server = connection.execute(text("SELECT current_setting('server_version'), current_setting('fsync'), "
                                             "current_setting('synchronous_commit')")).one()
            # Commits wait for the WAL flush unless these are off: it decides PostgreSQL's single-writer rate.
            versions.append(f"PostgreSQL {server[0].split()[0]} (fsync {server[1]}, synchronous_commit {server[2]})")
        admin.dispose()
    except Exception as error:  # noqa: BLE001 — context only; the runs report their own failures
        versions.append(f"PostgreSQL unreachable ({type(error).__name__})")
    try:
        versions.append("Redis " + redis.Redis.from_url(REDIS_URL).info("server")["redis_version"])
    except redis.RedisError as error:
        versions.append(f"Redis unreachable ({type(error).__name__})")
    wrk = shutil.which("wrk")
    if wrk:
        banner = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split()
        versions.append("wrk " + (banner[1] if len(banner) > 1 else "?"))
    for package in ("gunicorn", "flask", "joserfc", "cryptography", "pillow", "fpdf2", "qrcode"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} absent")
    lines.append("; ".join(versions))
    return lines



def print_store(results: list[StoreResult], signing: SigningResult | None) -> None:
    print("sign+store, one writer; a retirement = one transaction (serials, audit event, certificate, log append)")
    print(f"{'backend':<11} {'retire/s':>9} {'retire ms p50':>13} {'cert/s':>8} {'cert ms mean':>12} {'p50':>6} "
          f"{'p99':>6} {'of which signing':>16} {'n':>6}")
    for result in results:
        certify_ms = [value * 1000 for value in result.certify_s]
        signing_ms = statistics.fmean(result.signing_s) * 1000 if result.signing_s else float("nan")
        print(f"{result.backend:<11} {result.retirements_per_s:>9.1f} "
              f"{percentile(result.retirement_s, 0.5) * 1000:>13.2f} {result.certificates_per_s:>8.1f} "
              f"{statistics.fmean(certify_ms):>12.3f} {percentile(certify_ms, 0.5):>6.2f} "
              f"{percentile(certify_ms, 0.99):>6.2f} {signing_ms:>13.3f} ms {len(result.retirement_s):>6}")
    print("cert/s: certificates per second of time spent in certify (number + payload + JWS + insert + log append "
          "+ signed tree head); signing: its two Ed25519 signatures (JWS, tree head).")
    if signing:
        print(f"Ed25519 alone: a JWS of {signing.claims_bytes} bytes of claims {signing.jws_us:.1f} µs "
              f"({1e6 / signing.jws_us:,.0f}/s, joserfc); a raw signature {signing.raw_us:.1f} µs "
              f"({1e6 / signing.raw_us:,.0f}/s, cryptography)")


def print_http(result: HttpResult) -> None:
    print(f"HTTP, {result.settings}; wrk on the same machine")
    bare = result.rate_of("bare Flask JSON")
    print(f"{'endpoint':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'bytes':>7} {'/ bare':>7}")
    for load in result.loads:
        ratio = f"{load.rate / bare:.3f}" if bare else ""
        print(f"{load.name:<18} {load.rate:>9.1f} {load.p50_ms:>8.2f} {load.p99_ms:>8.2f} {load.non_2xx:>8} "
              f"{load.bytes_per_response:>7} {ratio:>7}")
    verify = result.rate_of("verify page")
    if bare and verify:
        print(f"verify page warm from cache: {verify:.0f} req/s = {verify / bare:.2f} x the bare Flask JSON "
              f"endpoint's {bare:.0f} req/s")
    print("verify page: GET /v/<number>?jws=<JWS> (the QR's URL): rate limit INCR + record from Redis + the JWS "
          "verified + the page rendered; JSON: GET /api/v1/certificates/<number>; PDF: from Redis after its first "
          "render.")


def print_render(result: RenderResult) -> None:
    print(f"{'render (ms)':<22} {'cold first call':>15} {'warm mean':>11} {'warm p50':>10} {'bytes (mean)':>14}")
    for times in result.renders:
        print(f"{RENDERERS[times.kind]:<22} {times.cold_ms:>15.1f} {statistics.fmean(times.warm_ms):>11.1f} "
              f"{percentile(times.warm_ms, 0.5):>10.1f} {statistics.fmean(times.size_bytes):>14,.0f}")
    imports = [times.import_ms for times in result.renders]
    print(f"cold: a fresh process, fonts parsed on the first call; importing the render module took "
          f"{min(imports):.0f}–{max(imports):.0f} ms more. warm: {len(result.renders[0].warm_ms)} distinct "
          f"certificates each, QR symbol cache cleared.")
    if result.batch_pdf_ms:
        print(f"certificate_pdf with a font cut for the batch (a job drawing many, render.font_for_many): "
              f"{statistics.fmean(result.batch_pdf_ms):.1f} ms mean, p50 {percentile(result.batch_pdf_ms, 0.5):.1f} "
              f"ms, after cutting the font once in {result.batch_font_ms:.0f} ms")
    for kind, (first_ms, times) in result.served.items():
        print(f"GET …/{kind} via the Flask test client: first {first_ms:.1f} ms (render + store in Redis), then "
              f"from Redis {statistics.fmean(times):.2f} ms mean, p50 {percentile(times, 0.5):.2f} ms "
              f"({len(times)} requests)")



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run (default 5)")
    parser.add_argument("--only", choices=("sqlite", "postgresql", "http", "render"), help="run one part only")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--renders", type=int, default=20, help="distinct certificates per warm render (default 20)")
    args = parser.parse_args()
    if args.seconds <= 0 or args.connections < 1 or args.renders < 1:
        parser.error("--seconds, --connections and --renders must be positive")

    began = time.perf_counter()
    context = machine_context()
    print("certificate benchmark; " + context[0] + " (anything else running skews every figure)", flush=True)
    stores: list[StoreResult] = []
    signing = http = renders = None
    for backend in ("sqlite", "postgresql"):
        if args.only in (None, backend) and (result := run_part(backend, bench_store, backend, args.seconds)):
            stores.append(result)
    if stores:
        signing = run_part("signing", bench_signing, stores[0].claims, min(2.0, args.seconds))
    if args.only in (None, "http"):
        http = run_part("http", bench_http, args.seconds, args.connections)
    if args.only in (None, "render"):
        renders = run_part("render", bench_render, args.renders)

    print()
    for line in context:
        print(line)
    if stores:
        print()
        print_store(stores, signing)
    if http:
        print()
        print_http(http)
    if renders:
        print()
        print_render(renders)
    return finish(began)


if __name__ == "__main__":
    sys.exit(main())
