"""End-to-end purchases per second over real HTTP: order, WeChat Pay notification, ledger post, retirement, certificate.

One purchase is what a citizen's phone and WeChat Pay do, in turn, against the app served by gunicorn (sync workers,
``backend:create_app()``, configured by environment variables only, APP_ENV=production, on a fresh PostgreSQL
schema and a Redis key prefix of its own):

1. order: ``POST /api/mp/v1/orders`` (Idempotency-Key; purpose personal; 1 kg, the smallest quantity sold): the
   app reserves the credits (one transaction), asks WeChat Pay for a prepay id (an RSA-signed APIv3 call, its
   signed answer verified) and signs the ``wx.requestPayment`` parameters.
2. pay: the fake WeChat marks the order paid and builds its notification (AES-GCM encrypted, RSA-signed).
3. notify: that notification POSTed to ``/api/pay/wechat/notify``, as WeChat delivers it: the app verifies and
   decrypts it, then in one transaction posts the credits to the buyer, retires them and numbers, signs and logs
   the certificate. ``FakeWeChat.pay(deliver=True)`` would send it too, synchronously, but returns the
   notification and only logs the answer; so it is built with ``deliver=False`` and sent with ``fake.sender``,
   which returns the HTTP status (as ``/api/dev/pay`` does).
4. status: ``GET /api/mp/v1/orders/<no>`` until ``fulfilled`` with a certificate number (the first answer should
   be, since the notification was answered before).

The fake WeChat (``backend.wechat.fake``) is one real HTTP server in this process: gunicorn's workers run with
``WECHAT_MODE=live`` pointed at it (WECHAT_API_BASE, WECHATPAY_GATEWAY, its app id and secret, merchant number,
merchant key, platform public key and APIv3 key written to temp files or passed as variables), because
``WECHAT_MODE=fake`` serves from one process only (a second worker is refused: ``backend/wechat/fake_lock.py``).
Buyers log in with codes from ``fake.login_code``, each used once, as wx.login's are. Login and public rate
limits are raised so that the limiter counts every request but refuses none.

For each gunicorn size (``--workers``, default 1, 2 and 4 sync workers) ``--buyers`` citizens log in
(``POST /api/mp/v1/auth/login``; logins/s reported), a few untimed purchases warm every worker, then every buyer
buys once per client concurrency (``--clients``, default 1, 8 and 32 threads; no buyer has two purchases under way
at once, so ``--buyers``, default 800, is at least the largest client count); no purchase of a cell starts after
``--cell-seconds`` (default 20: nine cells, the whole default run within about 12 minutes on 2 cores), so a
collapsing server cannot stretch the run. Reported per cell: purchases/s (completed purchases over the wall time of
the cell), p50/p99 of each step and of the whole purchase, the CPU time per purchase of this process (clients +
fake WeChat), of gunicorn's workers and of their PostgreSQL backends (found by application_name), the database's
share of that CPU, the share of the machine's CPUs those three and the whole machine used (anything else running
shows as the difference), the deadlocks PostgreSQL detected (each one holds its transactions for
deadlock_timeout, 1 s by default, before one of them is retried), and the sequencer's backlog when the cell ended.
Everything shares the machine's cores (2 here): the load generator and the fake WeChat take their share.

Then the worker-scaling table (issue 17: no global serialisation point left on the purchase path): for each client
count, purchases/s at each gunicorn size, its ratio to the smallest size, and how busy the machine's CPUs were, so
one sees throughput grow with workers until the CPU is full. And CPU per purchase by component over all cells, the
database's share of it, and an estimate of what the database alone could carry (this machine's cores over the
PostgreSQL backends' CPU per purchase): what a second app machine, sharing the database, would scale to at most.

The sequencer (``backend/sequencer.py``) runs in every gunicorn worker as in production, every
SEQUENCER_INTERVAL_MS (500 ms by default): the purchase's transactions only write unsealed audit events and queue
certificates for the transparency log; it seals and appends them in batches, and its CPU is counted with the
workers' and their PostgreSQL backends'. After the last cell this process runs one pass of its own
(bench/ledger.py's ``sequence``, signing tree heads with the app's key) and reports what that pass had left to do:
little means the workers' sequencers kept up.

The ledger-only figure is bench/ledger.py's PostgreSQL single-writer cell, measured here in the same run
(``ledger.ours_retirement``: RESERVE, POST, RETIRE with its certificate, three transactions through
``backend.ledger.operations``, no HTTP, no WeChat) for ``--ledger-seconds``, on a fresh schema of its own.

A purchase that failed (a non-2xx answer, a timeout) has its order asked for once more, as the buyer's phone
would: for a still-reserved order the app asks WeChat Pay and settles the payment it finds. Afterwards: every order
fulfilled with exactly one certificate (the one its status answer named), exactly one payment notification acted
on per order, the money the app took (amount_fen of fulfilled orders) equal to what the fake WeChat recorded as
paid, nothing left unsealed or unlogged after the final sequencer pass, the ledger invariants
(``backend.ledger.invariants.check``: supply, serials, history, certificates, orders, transparency log, its tree
heads' signatures checked against the app's key) and the audit chain. Any failure, any non-2xx answer, an error
in gunicorn's log: exit 1.

    .venv/bin/python bench/purchase.py [--buyers N] [--workers 1,2,4] [--clients 1,8,32]
                                       [--cell-seconds S] [--ledger-seconds S]

Everything is created fresh (``bench_*`` schemas in the ``test`` database, Redis keys under a ``bench-cert-*``
prefix, temp key files) and removed at exit, gunicorn included.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from certificates import (  # bench/certificates.py: this script's directory is first on sys.path
    app_environment,
    free_port,
    fresh_database,
    gunicorn_available,
    machine_context,
    redis_namespace,
    stop_process_group,
    wait_until_ready,
    write_signing_key,
)
from ledger import make_batches, ours_retirement, sequence  # bench/ledger.py
from report import fail, finish, percentile, run_part  # bench/report.py
from sqlalchemy import create_engine, func, select, text

from backend import audit
from backend.certificates import keys
from backend.certificates.models import Certificate
from backend.db import make_engine, snapshot
from backend.ledger.invariants import check
from backend.orders.models import Order, PaymentNotification
from backend.shop.service import MIN_ORDER_G, amount_fen
from backend.transparency import log as transparency_log
from backend.transparency.verify import check_log
from backend.wechat.fake import FakeWeChat

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WORKER_COUNTS = (1, 2, 4)
CLIENT_COUNTS = (1, 8, 32)
CELL_SECONDS = 20.0  # nine cells of at most 20 s: the default run, logins and checks included, within ~12 min
# Each buys once per cell: about 70 ms of CPU per purchase caps 2 cores near 28 purchases/s, so 800 last a whole
# 20 s cell with room to spare (and exceed 32 clients: no buyer has two purchases under way).
BUYERS = 800
QUANTITY_G = MIN_ORDER_G  # 1 kg: the smallest order, so the demo batch lasts for any run
UNLIMITED = "100000000"  # a rate limit the limiter counts against but never reaches
HTTP_TIMEOUT = 30  # seconds; gunicorn's own worker timeout is 30 s as well
STATUS_POLLS = 50  # GETs of the order, 20 ms apart, before a purchase counts as never fulfilled
WARM_UP_PER_WORKER = 3  # untimed purchases per gunicorn worker: wechatpayv3, keys and pools built in each
LEDGER_WARM_UP = 5  # connect, prepare statements, open the year's certificate counter
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------------------------------------
# The fake WeChat, and the app's configuration pointing at it


def wechat_environment(fake: FakeWeChat, directory: str) -> dict[str, str]:
    """What production sets to talk to WeChat, here naming the fake: its keys go to files as real ones would."""
    private_key = Path(directory, "apiclient_key.pem")
    private_key.write_text(fake.merchant_private_key_pem)
    private_key.chmod(0o600)
    public_key = Path(directory, "pub_key.pem")
    public_key.write_text(fake.platform_public_key_pem)
    return {"WECHAT_MODE": "live", "WECHAT_APPID": fake.appid, "WECHAT_APP_SECRET": fake.secret,
            "WECHAT_API_BASE": fake.url, "WECHATPAY_GATEWAY": fake.url, "WECHATPAY_MCHID": fake.mchid,
            "WECHATPAY_PRIVATE_KEY_FILE": str(private_key), "WECHATPAY_CERT_SERIAL_NO": fake.merchant_serial_no,
            "WECHATPAY_APIV3_KEY": fake.apiv3_key, "WECHATPAY_PUBLIC_KEY_FILE": str(public_key),
            "WECHATPAY_PUBLIC_KEY_ID": fake.public_key_id}


def bench_environment(url: str, prefix: str, directory: str, fake: FakeWeChat) -> dict[str, str]:
    env = app_environment(url, prefix, write_signing_key(directory))
    env.update(wechat_environment(fake, directory))
    # Production: every secret is given, so nothing embedded or generated is in play (settings.py would refuse).
    env.update({"APP_ENV": "production", "PUBLIC_RATE_LIMIT_PER_MINUTE": UNLIMITED,
                "MP_LOGIN_RATE_LIMIT_PER_MINUTE": UNLIMITED})
    # The workers' sequencers must run, as in production: an inherited 0 (cron mode) gives way to the default.
    inherited = env.get("SEQUENCER_INTERVAL_MS", "").strip()
    if inherited.isdigit() and int(inherited) == 0:
        del env["SEQUENCER_INTERVAL_MS"]
    return env


# ----------------------------------------------------------------------------------------------------------------
# gunicorn with sync workers, and the CPU its processes use


@contextmanager
def sync_gunicorn(workers: int, env: dict[str, str], log_path: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn's default worker class, as the README deploys it; yields (base URL, arbiter) once /healthz is 200.

    The port is chosen before the start because the app's notify URL, which it hands WeChat at prepay, names it.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**env, "PUBLIC_BASE_URL": base, "WECHATPAY_NOTIFY_URL": base + "/api/pay/wechat/notify"}
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "backend:create_app()"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_until_ready(process, base + "/healthz", log_path)
        yield base, process
    finally:
        stop_process_group(process)


def process_cpu(pid: int) -> float:
    """user + system seconds of one process (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat's first line."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / CLOCK_TICKS, sum(ticks) / CLOCK_TICKS


class Meter:
    """Between two reads: CPU seconds of this process, of gunicorn's workers, of the app's PostgreSQL backends and
    of the whole machine (anyone else's work shows as the difference), and PostgreSQL's deadlock count.

    The backends are found by the application_name in the app's DATABASE_URL, so other users of the same
    PostgreSQL do not count. A backend that ended between two reads loses its time (pools keep theirs open).
    Deadlocks are pg_stat_database's for the whole ``test`` database (whoever else uses it too); PostgreSQL
    publishes a backend's counts within about a second, so a cell's last ones may show in the next.
    """

    PARTS = ("bench process", "gunicorn workers", "postgres backends")

    def __init__(self, arbiter: int, application_name: str) -> None:
        self.arbiter = arbiter
        self.application_name = application_name
        self.admin = create_engine(PG_URL)

    def database(self) -> tuple[list[int], int]:
        """(pids of the app's backends, deadlocks detected in this database so far)."""
        with self.admin.connect() as connection:
            pids = connection.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                      {"name": self.application_name}).scalars().all()
            deadlocks = connection.execute(text("SELECT deadlocks FROM pg_stat_database "
                                                "WHERE datname = current_database()")).scalar_one()
        return list(pids), deadlocks

    def read(self) -> dict[str, dict[int, float]]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = machine_busy()
        backends, deadlocks = self.database()
        return {"machine": {0: busy}, "machine total": {0: total}, "deadlocks": {0: deadlocks},
                "bench process": {0: usage.ru_utime + usage.ru_stime},
                "gunicorn workers": {pid: process_cpu(pid) for pid in [self.arbiter, *children_of(self.arbiter)]},
                "postgres backends": {pid: process_cpu(pid) for pid in backends}}

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        return {part: sum(value - before[part].get(pid, 0) for pid, value in after[part].items()) for part in after}

    def close(self) -> None:
        self.admin.dispose()


# ----------------------------------------------------------------------------------------------------------------
# Buyers and purchases over HTTP

_local = threading.local()


def http() -> requests.Session:
    """One requests session per client thread (sync workers close every connection, so it saves little else)."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


@dataclass
class Buyer:
    person: str
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def log_in(base: str, fake: FakeWeChat, buyer: Buyer) -> float:
    """A fresh wx.login code (one use, five minutes) for a session token; the seconds the login took. Raises on
    anything but 200."""
    code = fake.login_code(buyer.person)
    began = time.perf_counter()
    response = http().post(f"{base}/api/mp/v1/auth/login", json={"code": code}, timeout=HTTP_TIMEOUT)
    if response.status_code != 200:
        raise RuntimeError(f"login of {buyer.person} answered {response.status_code}: {response.text[:200]}")
    buyer.token = response.json()["token"]
    return time.perf_counter() - began


@dataclass
class Purchase:
    key: str
    buyer: Buyer = field(repr=False)
    order_no: str = ""
    amount_fen: int = 0
    certificate_no: str | None = None
    order_s: float = 0.0
    pay_s: float = 0.0
    notify_s: float = 0.0
    status_s: float = 0.0
    total_s: float = 0.0
    polls: int = 0
    problem: str | None = None


def purchase(base: str, fake: FakeWeChat, buyer: Buyer, listing_id: int, key: str) -> Purchase:
    """One purchase, step by step; a problem is recorded, not raised, so the other purchases go on."""
    result = Purchase(key, buyer)
    try:
        run_purchase(result, base, fake, buyer, listing_id)
    except Exception as error:  # noqa: BLE001 — a refused connection, a timeout, an unexpected answer
        result.problem = result.problem or f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"
    return result


def run_purchase(result: Purchase, base: str, fake: FakeWeChat, buyer: Buyer, listing_id: int) -> None:
    session = http()
    began = time.perf_counter()
    response = session.post(f"{base}/api/mp/v1/orders", headers={**buyer.headers, "Idempotency-Key": result.key},
                            json={"listing_id": listing_id, "quantity_g": QUANTITY_G, "purpose": "personal"},
                            timeout=HTTP_TIMEOUT)
    ordered = time.perf_counter()
    result.order_s = ordered - began
    if response.status_code != 201:
        result.problem = f"order answered {response.status_code}: {response.text.strip()[:200]}"
        return
    order = response.json()
    result.order_no, result.amount_fen = order["order_no"], order["amount_fen"]
    if order["status"] != "reserved" or not order.get("pay_params"):
        result.problem = f"order {result.order_no} is {order['status']} with pay_params {order.get('pay_params')}"
        return

    notification = fake.pay(result.order_no, deliver=False)
    paid = time.perf_counter()
    status = fake.sender(notification)  # one POST of the signed bytes to the notify URL the app gave at prepay
    notified = time.perf_counter()
    result.pay_s, result.notify_s = paid - ordered, notified - paid
    if status != 200:
        result.problem = f"the notification of {result.order_no} was answered {status}"
        return

    while result.polls < STATUS_POLLS:
        result.polls += 1
        response = session.get(f"{base}/api/mp/v1/orders/{result.order_no}", headers=buyer.headers,
                               timeout=HTTP_TIMEOUT)
        view = response.json() if response.status_code == 200 else {}
        if view.get("status") == "fulfilled" and view.get("certificate_no"):
            result.certificate_no = view["certificate_no"]
            break
        time.sleep(0.02)
    done = time.perf_counter()
    result.status_s, result.total_s = done - notified, done - began
    if result.certificate_no is None:
        result.problem = (f"order {result.order_no} not fulfilled after {STATUS_POLLS} status queries "
                          f"(last answer {response.status_code}: {response.text.strip()[:150]})")


@dataclass
class Cell:
    workers: int
    clients: int
    purchases: list[Purchase] = field(default_factory=list)
    elapsed: float = 0.0
    measured: dict[str, float] = field(default_factory=dict)  # Meter.spent: CPU seconds, deadlocks
    backlog: tuple[int, int] | None = None  # (unsealed audit events, certificates queued for the log) at its end

    @property
    def done(self) -> list[Purchase]:
        return [p for p in self.purchases if p.problem is None]

    @property
    def rate(self) -> float:
        return len(self.done) / self.elapsed if self.elapsed else 0.0

    def ms(self, step: str, fraction: float) -> float:
        return percentile([getattr(p, step) for p in self.done], fraction) * 1000

    @property
    def busy(self) -> float:
        """The share of the machine's CPUs busy over the cell (/proc/stat: anyone's work)."""
        total = self.measured.get("machine total") or float("nan")
        return self.measured.get("machine", float("nan")) / total

    @property
    def cpu_ms(self) -> dict[str, float]:
        """CPU milliseconds per completed purchase of each Meter part, "total" their sum, "database share" the
        PostgreSQL backends' part of it."""
        return cpu_per_purchase([self.measured], len(self.done))


def cpu_per_purchase(measured: list[dict[str, float]], purchases: int) -> dict[str, float]:
    """CPU ms per purchase, by Meter part, over one or more cells' measurements."""
    per = {part: sum(m.get(part, 0.0) for m in measured) / purchases * 1000 if purchases else float("nan")
           for part in Meter.PARTS}
    per["total"] = sum(per[part] for part in Meter.PARTS)
    per["database share"] = per["postgres backends"] / per["total"] if per["total"] else float("nan")
    return per


def backlog(engine) -> tuple[int, int]:
    """(audit events not yet sealed, certificates not yet in the transparency log): the sequencer's backlog."""
    with snapshot(engine) as session:
        return audit.unsealed(session).count, transparency_log.pending_since(session)[0]


def buy_all(base: str, fake: FakeWeChat, buyers: list[Buyer], listing_id: int, clients: int, tag: str,
            seconds: float | None = None) -> tuple[list[Purchase], float]:
    """Every buyer buys once, ``clients`` threads at a time, none started after ``seconds``; (purchases, wall s)."""
    started = time.perf_counter()
    deadline = started + seconds if seconds else float("inf")

    def buy(numbered: tuple[int, Buyer]) -> Purchase | None:
        if time.perf_counter() >= deadline:  # the cell's time is up: the rest are not started
            return None
        return purchase(base, fake, numbered[1], listing_id, f"bench-{tag}-{numbered[0]}")

    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="buyer") as pool:
        purchases = [p for p in pool.map(buy, enumerate(buyers)) if p is not None]
    return purchases, time.perf_counter() - started


def recover(base: str, purchases: list[Purchase]) -> None:
    """A failed purchase's order, asked for once more as the buyer's phone would: for a still-reserved order the
    app asks WeChat Pay and settles a payment it finds (its documented fallback for a lost notification)."""
    failed = [p for p in purchases if p.problem and p.order_no]
    settled = 0
    for p in failed:
        try:
            response = http().get(f"{base}/api/mp/v1/orders/{p.order_no}", headers=p.buyer.headers,
                                  timeout=HTTP_TIMEOUT)
            view = response.json() if response.status_code == 200 else {}
        except requests.RequestException:
            continue
        if view.get("status") == "fulfilled" and view.get("certificate_no"):
            p.certificate_no = view["certificate_no"]
            settled += 1
    if failed:
        print(f"    asked for the {len(failed)} failed purchases' orders again: {settled} fulfilled now", flush=True)


def report_problems(name: str, purchases: list[Purchase], expected_fen: int) -> None:
    broken = [p for p in purchases if p.problem]
    for p in broken[:3]:
        print(f"    {p.problem}", flush=True)
    if broken:
        fail(f"{name}: {len(broken)} of {len(purchases)} purchases failed")
    mispriced = [p for p in purchases if not p.problem and p.amount_fen != expected_fen]
    if mispriced:
        fail(f"{name}: {len(mispriced)} orders priced other than {expected_fen} fen")
    polled = [p for p in purchases if not p.problem and p.polls > 1]
    if polled:  # not a failure: the notification was answered, yet the order did not show fulfilled at once
        print(f"    {len(polled)} purchases needed more than one status query", flush=True)


# ----------------------------------------------------------------------------------------------------------------
# One gunicorn size: logins, warm-up, then one cell per client concurrency


@dataclass
class Serving:
    workers: int
    login_rate: float = 0.0
    login_p50_ms: float = float("nan")
    cells: list[Cell] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)  # all of them, warm-up included, for the checks


def choose_listing(base: str, needed_g: int) -> tuple[int, int]:
    """(listing id, price fen/t) of the listing with the most credits on sale; it must cover the whole run."""
    response = requests.get(f"{base}/api/mp/v1/listings", timeout=HTTP_TIMEOUT)
    if response.status_code != 200:
        raise RuntimeError(f"GET /api/mp/v1/listings answered {response.status_code}")
    listing = max(response.json()["items"], key=lambda item: item["available_g"])
    if listing["available_g"] < needed_g:
        raise RuntimeError(f"listing {listing['id']} has {listing['available_g']} g on sale, the run needs {needed_g}")
    return listing["id"], listing["price_fen_per_t"]


def serve_and_buy(workers: int, env: dict[str, str], log_path: str, fake: FakeWeChat, args, run_tag: str,
                  application_name: str, observer_url: str) -> Serving:
    serving = Serving(workers)
    concurrency = max(args.clients)
    print(f"gunicorn, {workers} sync workers: {args.buyers} buyers log in ({concurrency} at a time), "
          f"{WARM_UP_PER_WORKER * workers} warm-up purchases, then {args.buyers} purchases per cell", flush=True)
    with sync_gunicorn(workers, env, log_path) as (base, arbiter):
        # every buyer buys once per cell, and once more at most to warm up
        listing_id, price = choose_listing(base, QUANTITY_G * args.buyers * (len(args.clients) + 1))
        expected_fen = amount_fen(QUANTITY_G, price)
        buyers = [Buyer(f"bench-{run_tag}-w{workers}-{number}") for number in range(args.buyers)]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            started = time.perf_counter()
            seconds = list(pool.map(lambda buyer: log_in(base, fake, buyer), buyers))
            serving.login_rate = len(buyers) / (time.perf_counter() - started)
        serving.login_p50_ms = percentile(seconds, 0.5) * 1000
        print(f"  logins: {serving.login_rate:.1f}/s, p50 {serving.login_p50_ms:.1f} ms", flush=True)

        warm, _ = buy_all(base, fake, buyers[:WARM_UP_PER_WORKER * workers], listing_id, workers,
                          f"{run_tag}-w{workers}-warm")
        report_problems(f"{workers} workers warm-up", warm, expected_fen)
        recover(base, warm)
        serving.purchases.extend(warm)

        meter = Meter(arbiter.pid, application_name)
        observer = make_engine(observer_url, pool_size=1)  # another application_name: not counted as the app's
        try:
            for clients in args.clients:
                cell = Cell(workers, clients)
                before = meter.read()
                cell.purchases, cell.elapsed = buy_all(base, fake, buyers, listing_id, clients,
                                                       f"{run_tag}-w{workers}-c{clients}", args.cell_seconds)
                cell.measured = Meter.spent(before, meter.read())
                cell.backlog = backlog(observer)
                serving.cells.append(cell)
                serving.purchases.extend(cell.purchases)
                cut = f" of {len(buyers)}, cut at {args.cell_seconds:g} s," if len(cell.purchases) < len(buyers) else ""
                print(f"  {clients} client(s): {cell.rate:6.1f} purchases/s  p50 {cell.ms('total_s', 0.5):6.1f} ms  "
                      f"p99 {cell.ms('total_s', 0.99):6.1f} ms  ({len(cell.done)} done{cut} in {cell.elapsed:.1f} s; "
                      f"machine CPU {cell.busy:.0%} busy; {cell.measured['deadlocks']:.0f} deadlocks in PostgreSQL)",
                      flush=True)
                cpu = cell.cpu_ms
                print(f"    CPU ms/purchase: app workers {cpu['gunicorn workers']:.1f}, PostgreSQL backends "
                      f"{cpu['postgres backends']:.1f}, load generator + fake WeChat {cpu['bench process']:.1f}; "
                      f"total {cpu['total']:.1f}, database share {cpu['database share']:.0%}; backlog at the end: "
                      f"{cell.backlog[0]} events unsealed, {cell.backlog[1]} certificates unlogged", flush=True)
                report_problems(f"{workers} workers, {clients} clients", cell.purchases, expected_fen)
                recover(base, cell.purchases)
        finally:
            observer.dispose()
            meter.close()
    check_log_file(log_path, workers)
    return serving


def check_log_file(log_path: str, workers: int) -> None:
    """gunicorn logs at warning: a traceback, an error or a worker timeout there is a failure of the run."""
    lines = Path(log_path).read_text(errors="replace").splitlines() if Path(log_path).exists() else []
    # Stopping sends SIGTERM to the whole group, so the arbiter reports its workers as killed: that one is ours.
    lines = [line for line in lines if "was sent SIGTERM" not in line]
    bad = [line for line in lines if "Traceback" in line or "ERROR" in line or "WORKER TIMEOUT" in line]
    # What the tracebacks end with ("sqlalchemy.exc.OperationalError: (psycopg.errors.DeadlockDetected) ..."),
    # counted, says more than the last lines of the log.
    raised = Counter(line[:150] for line in lines if re.match(r"[\w.]+(Error|Exception|Timeout)\w*: ", line))
    for line, count in raised.most_common(3):
        print(f"    gunicorn log: {count} x {line}", flush=True)
    if bad:
        fail(f"gunicorn with {workers} workers logged {sum(line.startswith('Traceback') for line in lines)} "
             f"tracebacks and {len(bad)} error lines, e.g. {bad[0][:150]}")
    elif lines:
        print(f"  gunicorn log ({workers} workers): {len(lines)} lines, e.g. {lines[-1][:160]}", flush=True)


# ----------------------------------------------------------------------------------------------------------------
# After the run: orders, certificates, notifications, money, ledger


def check_run(url: str, fake: FakeWeChat, purchases: list[Purchase], ring: keys.KeyRing) -> list[str]:
    """The sequencer's last pass, then: everything bought is fulfilled, certified once, paid once, sealed and
    logged, and the ledger holds; what was checked."""
    engine = make_engine(url, pool_size=1)
    try:
        events, certificates = sequence(engine, ring)  # seal, then append to the log, until nothing is left
        with snapshot(engine) as session:
            violations = check(session) + check_log(session, ring.jwks())  # the tree heads' signatures too
            chain = audit.verify(session)
            remaining = (chain.unsealed.count, transparency_log.pending_since(session)[0])
            orders = session.execute(select(Order.order_no, Order.status, Order.amount_fen, Certificate.number)
                                     .outerjoin(Certificate, Certificate.retirement_id == Order.retirement_id)).all()
            acted = Counter(dict(session.execute(
                select(PaymentNotification.order_no, func.count()).where(PaymentNotification.outcome == "fulfilled")
                .group_by(PaymentNotification.order_no)).all()))
            notifications = session.execute(select(func.count()).select_from(PaymentNotification)).scalar_one()
    finally:
        engine.dispose()
    bought = {p.order_no: p for p in purchases if p.order_no}
    stored = {order_no: (status, fen, number) for order_no, status, fen, number in orders}
    findings = [f"the final sequencer pass (this process, after the last cell) had {events} audit events left to "
                f"seal and {certificates} certificates to append to the log; the workers' sequencers did the rest",
                f"ledger invariants {'hold' if not violations else f'{len(violations)} VIOLATED'}",
                f"audit chain {'intact' if chain.ok else 'BROKEN'} ({chain.length} events, {remaining[0]} unsealed); "
                f"{remaining[1]} certificates still queued for the log"]
    for violation in violations[:5]:
        print(f"    {violation}")
    if violations or not chain.ok:
        fail("ledger invariants or audit chain do not hold after the run")
    if remaining != (0, 0):
        fail(f"after the final sequencer pass {remaining[0]} audit events are unsealed and {remaining[1]} "
             "certificates not in the log")

    if set(stored) != set(bought):
        fail(f"{len(bought)} orders placed over HTTP, {len(stored)} in the database")
    unfulfilled = [no for no, (status, _, _) in stored.items() if status != "fulfilled"]
    if unfulfilled:
        fail(f"{len(unfulfilled)} orders not fulfilled, e.g. {unfulfilled[0]} is {stored[unfulfilled[0]][0]}")
    numbers = [number for _, _, number in stored.values() if number]
    if len(numbers) != len(stored) or len(set(numbers)) != len(numbers):
        fail(f"{len(stored)} orders but {len(numbers)} certificates ({len(set(numbers))} distinct)")
    mismatched = [no for no, p in bought.items()
                  if p.certificate_no and p.certificate_no != stored.get(no, (None, None, None))[2]]
    if mismatched:
        fail(f"{len(mismatched)} orders whose status answer named another certificate than the stored one")
    findings.append(f"{len(stored)} orders, {sum(s == 'fulfilled' for s, _, _ in stored.values())} fulfilled, "
                    f"{len(set(numbers))} certificates, one per order")

    once = sum(1 for no in stored if acted[no] == 1)
    if once != len(stored) or notifications != len(stored):
        fail(f"{once} of {len(stored)} orders fulfilled by their payment notification ({notifications} acted on); "
             "the others by the status query, or not at all")
    findings.append(f"{notifications} payment notifications acted on; {once} of {len(stored)} orders fulfilled by "
                    "exactly one")

    paid = {no: record["total"] for no, record in fake.transactions.items() if record["trade_state"] == "SUCCESS"}
    taken = {no: fen for no, (status, fen, _) in stored.items() if status == "fulfilled"}
    if paid != taken:
        fail(f"money: the fake WeChat recorded {len(paid)} payments, {sum(paid.values())} fen; the fulfilled orders "
             f"are {len(taken)}, {sum(taken.values())} fen")
    findings.append(f"money: {sum(taken.values())} fen in fulfilled orders = {sum(paid.values())} fen paid at the "
                    f"fake WeChat ({len(paid)} payments)")
    return findings


# ----------------------------------------------------------------------------------------------------------------
# The ledger alone, as bench/ledger.py measures it


@dataclass
class LedgerOnly:
    rate: float
    p50_ms: float
    count: int


def ledger_only(seconds: float) -> LedgerOnly:
    """bench/ledger.py's PostgreSQL single-writer cell in this process: RESERVE + POST + RETIRE with certificate."""
    print(f"ledger-only (bench/ledger.py's retirement, PostgreSQL, one writer, no HTTP): {seconds:g} s", flush=True)
    with fresh_database("postgresql") as url:
        engine = make_engine(url, pool_size=1)
        try:
            retirement = ours_retirement(engine, make_batches(engine, 1, uuid.uuid4().hex[:8])[0])
            for number in range(LEDGER_WARM_UP):
                retirement(10**9 + number, f"warm-{number}")
            latencies, number = [], 0
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                number += 1
                began = time.perf_counter()
                retirement(number, f"retire-{number}")
                latencies.append(time.perf_counter() - began)
            elapsed = time.perf_counter() - started
            with snapshot(engine) as session:
                violations = check(session)
        finally:
            engine.dispose()
    if violations:
        fail(f"ledger-only: {len(violations)} invariant violations, e.g. {violations[0]}")
    result = LedgerOnly(len(latencies) / elapsed, percentile(latencies, 0.5) * 1000, len(latencies))
    print(f"  {result.rate:.1f} retirements/s, p50 {result.p50_ms:.1f} ms ({result.count} retirements)", flush=True)
    return result


# ----------------------------------------------------------------------------------------------------------------
# The whole run, and the report


def bench_http(args) -> list[Serving]:
    run_tag = uuid.uuid4().hex[:6]
    application_name = f"bench-purchase-{run_tag}"
    servings: list[Serving] = []
    with (fresh_database("postgresql") as schema_url, redis_namespace() as prefix,
          tempfile.TemporaryDirectory(prefix="bench-purchase-") as directory,
          FakeWeChat(allow_loopback_http_notify=True) as fake):  # gunicorn's notify URL is http on 127.0.0.1
        # The app's PostgreSQL backends carry this name, so their CPU time can be told from anyone else's.
        url = f"{schema_url}&application_name={application_name}"
        observer_url = f"{schema_url}&application_name={application_name}-observer"
        env = bench_environment(url, prefix, directory, fake)
        # The demo's projects and batches are what the buyers buy; production refuses to load the demo (its
        # accounts' password is public), so this throwaway schema is filled as development would fill it.
        demo = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", "demo"], cwd=REPO,
                              env={**env, "APP_ENV": "development"}, capture_output=True, text=True)
        if demo.returncode != 0:
            raise RuntimeError(f"flask --app backend demo failed:\n{demo.stderr[-2000:]}")
        print(f"  {demo.stdout.strip()[:150]}…", flush=True)
        for workers in args.workers:
            serving = run_part(f"{workers} workers", serve_and_buy, workers, env, f"{directory}/gunicorn-{workers}.log",
                               fake, args, run_tag, application_name, observer_url)
            if serving:
                servings.append(serving)
        purchases = [p for serving in servings for p in serving.purchases]
        ring = keys.load(env["CERT_SIGNING_KEY_FILE"], f"{directory}/no-retired-keys.json", may_generate=False)
        for finding in run_part("checks", check_run, observer_url, fake, purchases, ring) or []:
            print(f"  {finding}", flush=True)
    return servings


def print_table(servings: list[Serving], ledger: LedgerOnly | None) -> None:
    print("purchases over HTTP: order + pay (fake WeChat) + notification (post, retire, certificate) + status")
    print(f"{'gunicorn':<8} {'clients':>7} {'purch/s':>8} {'/ledger':>7} {'purchase ms':>13} {'order ms':>12} "
          f"{'pay ms':>6} {'notify ms':>12} {'status ms':>12} {'n':>5} | {'CPU ms/purchase: bench':>22} "
          f"{'gunicorn':>8} {'postgres':>8} {'db share':>8} | {'CPU busy: ours':>14} {'machine':>7} | "
          f"{'deadlocks':>9}")
    for serving in servings:
        for cell in serving.cells:
            ratio = f"{cell.rate / ledger.rate:.2f}" if ledger and ledger.rate else ""
            per = cell.cpu_ms
            total = cell.measured.get("machine total") or float("nan")
            ours = sum(cell.measured.get(part, 0.0) for part in Meter.PARTS) / total

            def spread(step: str, c: Cell = cell) -> str:
                return f"{c.ms(step, 0.5):.1f}/{c.ms(step, 0.99):.1f}"

            print(f"{cell.workers:>2} sync  {cell.clients:>7} {cell.rate:>8.1f} {ratio:>7} {spread('total_s'):>13} "
                  f"{spread('order_s'):>12} {cell.ms('pay_s', 0.5):>6.1f} {spread('notify_s'):>12} "
                  f"{spread('status_s'):>12} {len(cell.done):>5} | {per['bench process']:>22.1f} "
                  f"{per['gunicorn workers']:>8.1f} {per['postgres backends']:>8.1f} {per['database share']:>8.0%} | "
                  f"{ours:>14.0%} {cell.busy:>7.0%} | {cell.measured.get('deadlocks', 0):>9.0f}")
    print("ms: p50/p99 (pay: p50 of the fake signing and encrypting its notification, in this process). CPU: this "
          "process (clients + fake")
    print("WeChat), gunicorn's workers (their sequencer threads included), the app's PostgreSQL backends; db share: "
          "postgres over the")
    print(f"three. busy: share of {os.cpu_count()} cores over the cell, ours (those three) and the whole machine's "
          "(/proc/stat): the difference")
    print("is PostgreSQL's own processes, the kernel, and anything else running. deadlocks: detected by PostgreSQL "
          "in the test")
    print("database during the cell (each costs deadlock_timeout, then a retried transaction).")
    for serving in servings:
        print(f"logins with {serving.workers} sync workers: {serving.login_rate:.1f}/s, p50 {serving.login_p50_ms:.1f} "
              "ms")
    if ledger:
        print(f"ledger-only (bench/ledger.py, PostgreSQL, one writer, measured in this run): {ledger.rate:.1f} "
              f"retirements/s, p50 {ledger.p50_ms:.1f} ms ({ledger.count} retirements); /ledger = purch/s over it")
    print()
    print_scaling(servings)
    print()
    print_cpu_summary(servings)


def print_scaling(servings: list[Serving]) -> None:
    """Per client count: purchases/s at each gunicorn size, over the smallest size's, and the machine's CPU busy."""
    cells = {(cell.workers, cell.clients): cell for serving in servings for cell in serving.cells}
    sizes = sorted({workers for workers, _ in cells})
    if not sizes:
        return
    base = sizes[0]
    print(f"worker scaling: purchases/s, (x the {base}-worker rate), machine CPU busy; throughput should grow with "
          "workers until the CPU is full")
    print(f"{'clients':>7} " + " ".join(f"{f'{workers} worker' + ('s' if workers > 1 else ''):>24}"
                                        for workers in sizes))
    for clients in sorted({clients for _, clients in cells}):
        row = []
        for workers in sizes:
            cell = cells.get((workers, clients))
            if cell is None:
                row.append(f"{'-':>24}")
                continue
            first = cells.get((base, clients))
            ratio = f"(x{cell.rate / first.rate:.2f})" if first and first.rate else "(x -)"
            row.append(f"{cell.rate:>9.1f} {ratio:>8} {cell.busy:>4.0%} CPU")
        print(f"{clients:>7} " + " ".join(row))


def print_cpu_summary(servings: list[Serving]) -> None:
    """CPU per purchase by component over every cell, the database's share, and what the database alone could
    carry: the figure that decides how far a second app machine sharing this database would scale."""
    cells = [cell for serving in servings for cell in serving.cells if cell.done]
    if not cells:
        return
    per = cpu_per_purchase([cell.measured for cell in cells], sum(len(cell.done) for cell in cells))
    print(f"CPU per purchase over all {len(cells)} cells ({sum(len(cell.done) for cell in cells)} purchases): app "
          f"workers {per['gunicorn workers']:.1f} ms, PostgreSQL backends {per['postgres backends']:.1f} ms, load "
          f"generator + fake WeChat {per['bench process']:.1f} ms; total {per['total']:.1f} ms")
    shares = [cell.cpu_ms["database share"] for cell in cells]
    print(f"database share of CPU per purchase (PostgreSQL backends / total): {per['database share']:.0%} "
          f"(cells {min(shares):.0%} to {max(shares):.0%})")
    cores = os.cpu_count() or 1
    estimates = [cores / (cell.cpu_ms["postgres backends"] / 1000) for cell in cells
                 if cell.cpu_ms["postgres backends"] > 0]
    if per["postgres backends"] > 0:
        print(f"ESTIMATE: with unlimited app CPU (more app machines), the database alone would carry about "
              f"{cores / (per['postgres backends'] / 1000):.0f} purchases/s on this machine")
        print(f"  ({cores} cores / {per['postgres backends']:.1f} ms of PostgreSQL backend CPU per purchase; the cells "
              f"give {min(estimates):.0f} to {max(estimates):.0f}). An upper bound, not a measurement:")
        print("  PostgreSQL's own processes (WAL writer, checkpointer), the kernel, lock waits and contention at "
              "higher concurrency are not in it.")


def more_context() -> str:
    """What else decides these figures: the WeChat and HTTP libraries, and how long a lock wait runs before
    PostgreSQL looks for a deadlock (the least a deadlock costs)."""
    found = []
    for package in ("wechatpayv3", "wechatpy", "requests", "psycopg", "sqlalchemy"):
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} absent")
    try:
        admin = create_engine(PG_URL)
        with admin.connect() as connection:
            found.append("PostgreSQL deadlock_timeout "
                         + connection.execute(text("SELECT current_setting('deadlock_timeout')")).scalar_one())
        admin.dispose()
    except Exception as error:  # noqa: BLE001 — context only
        found.append(f"PostgreSQL unreachable ({type(error).__name__})")
    return "; ".join(found)


def counts(text_value: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(n) for n in text_value.split(",") if n.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: comma-separated positive integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{name}: comma-separated positive integers")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=BUYERS,
                        help=f"buyers per gunicorn size; each buys once per cell (default {BUYERS})")
    parser.add_argument("--workers", type=lambda v: counts(v, "--workers"), default=WORKER_COUNTS,
                        help="gunicorn sync worker counts, comma-separated (default 1,2,4)")
    parser.add_argument("--clients", type=lambda v: counts(v, "--clients"), default=CLIENT_COUNTS,
                        help="client threads per cell, comma-separated (default 1,8,32)")
    parser.add_argument("--cell-seconds", type=float, default=CELL_SECONDS,
                        help=f"no purchase of a cell starts after this many seconds (default {CELL_SECONDS:g})")
    parser.add_argument("--ledger-seconds", type=float, default=5.0, help="ledger-only run length (default 5)")
    args = parser.parse_args()
    if args.buyers < 1 or args.ledger_seconds <= 0 or args.cell_seconds <= 0:
        parser.error("--buyers, --cell-seconds and --ledger-seconds must be positive")
    if args.buyers < max(args.clients):
        parser.error(f"--buyers must be at least the largest client count ({max(args.clients)}): no buyer has two "
                     "purchases under way at once")

    began = time.perf_counter()
    context = machine_context()
    print("purchase benchmark; " + context[0] + " (anything else running skews every figure)", flush=True)
    ledger = run_part("ledger-only", ledger_only, args.ledger_seconds)
    servings: list[Serving] = []
    if gunicorn_available():
        servings = run_part("http", bench_http, args) or []

    print()
    for line in context:
        print(line)
    print(more_context())
    print()
    print_table(servings, ledger)
    if not any(serving.cells for serving in servings):
        fail("no purchase cell completed")
    return finish(began)


if __name__ == "__main__":
    sys.exit(main())
