"""Ledger throughput: retirements per second, on SQLite and PostgreSQL, against raw psycopg's ceiling.

One retirement is what a citizen's purchase does to the ledger: RESERVE (platform → user:N) in one transaction,
then — as a payment settles the order — POST and RETIRE (user:N, purpose personal, exactly the serials posted) in
a second, through ``backend.db.atomic`` calling ``backend.ledger.operations`` directly (no HTTP). Workers are processes, each with its own engine, each buying for
its own users. "hot" cells draw every purchase from one batch's platform inventory (the real hot row); "spread"
cells give each worker its own batch, so the difference is what the hot row costs. Audit events are written
unsealed and certificates queued for the transparency log; during every cell of ours a sequencer process seals and
appends them every 0.5 s, as each app process does in production (backend/sequencer.py), so its cost is counted.

The pgbench cells are the ceiling issue 17 measures against: a minimal retirement in SQL (``PGBENCH_SCRIPT``, its
four statements written out) run by pgbench, hot and spread, in the same run; the table gives ours / pgbench and
the goals' ratios.

The raw cells run an equivalent hand-written sequence with psycopg on a small schema of their own (three
transactions per retirement: lock the accounts FOR UPDATE, guarded balance UPDATEs, transfer row, serial range
rows, audit row under a lock of one head row, retirement row), which is the ceiling this PostgreSQL sets.
"raw-unchained" is the same without the audit chain's head row lock, to show what that global lock costs.

Before the timed cells, one process counts what a retirement sends: SQL statements per operation (SQLAlchemy's
``before_cursor_execute``), protocol round trips (libpq's trace; PostgreSQL only) and client CPU time.
After them, the ledger invariants and the audit chain are checked, so a lost update would fail the run.

    /tmp/venv-probe/bin/python bench/ledger.py [--seconds N] [--only sqlite|postgresql] [--workers 1,8] [--show-sql]

Everything is created fresh (a temp SQLite file, ``bench_*`` schemas in the ``test`` database) and removed at exit.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import multiprocessing as mp
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
QUANTITY_G = 10**12  # a million tonnes per batch: room for far more retirements than any run makes
AMOUNT_G = 12_345  # a personal footprint-sized purchase
TTL_SECONDS = 900
WORKER_COUNTS = (1, 8)
COUNT_SAMPLES = 20  # retirements whose statements are counted
PROBLEMS: list[str] = []  # anything that makes the run fail (exit 1)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# ----------------------------------------------------------------------------------------------------------------
# Our ledger


def make_batches(engine, count: int, tag: str) -> list[int]:
    """``count`` registered forest projects with one batch each, issued to the platform."""
    from backend.db import atomic
    from backend.registry import service

    def make(session):
        now = now_utc()
        methodology = service.create_methodology(session, now, actor="bench", code=f"AR-CM-003-{tag}",
                                                 name="森林经营碳汇项目方法学", ecosystem="forest", version="V01",
                                                 source_document="AR-CM-003-V01")
        owner = service.create_organisation(session, now, actor="bench", name="大邑县国有林场", kind="forest_farm")
        batch_ids = []
        for number in range(count):
            project = service.create_project(session, now, actor="bench", owner_id=owner.id,
                                             name=f"森林经营项目 {tag}-{number}", county_adcode="510129",
                                             ecosystem="forest", methodology_id=methodology.id,
                                             area_mu=Decimal("35200"),
                                             crediting_start=date(2019, 1, 1), crediting_end=date(2038, 12, 31))
            service.decide(session, now, actor="bench", project_id=project.id, action="submit")
            service.decide(session, now, actor="bench", project_id=project.id, action="register")
            batch = service.create_batch(session, now, actor="bench", client_id=f"issue-{tag}-{number}",
                                         project_id=project.id, monitoring_start=date(2019, 1, 1),
                                         monitoring_end=date(2023, 12, 31), vintage=2023, quantity_g=QUANTITY_G)
            batch_ids.append(batch.id)
        return batch_ids

    return atomic(make, engine=engine)


def ours_retirement(engine, batch_id: int, phase=lambda name: None):
    """A function doing one retirement for (user number, client id prefix): three units of work."""
    from joserfc.jwk import OKPKey

    from backend.certificates.keys import KeyRing
    from backend.certificates.service import certifier
    from backend.db import atomic
    from backend.ledger import operations
    from backend.privacy.fingerprint import key_from

    # Each retirement also numbers, states and signs its certificate, in the same transaction.
    certify = certifier(KeyRing(OKPKey.generate_key("Ed25519")), "碳汇+ (bench)", key_from("bench-secret"))

    def retirement(user_no: int, key: str) -> None:
        user = f"user:{user_no}"
        phase("reserve")
        reservation = atomic(lambda s: operations.reserve(
            s, now_utc(), client_id=f"{key}-r", batch_id=batch_id, from_holder="platform", to_holder=user,
            amount_g=AMOUNT_G, ttl_seconds=TTL_SECONDS, actor="bench"), engine=engine)
        reservation_id = reservation.id

        def settle(s) -> None:  # as a payment settles an order: post and retire in one transaction
            phase("post")
            posted = operations.post(s, now_utc(), client_id=f"{key}-p", reservation_id=reservation_id, actor="bench")
            phase("retire")
            operations.retire(s, now_utc(), client_id=f"{key}-t", batch_id=batch_id, holder=user, amount_g=AMOUNT_G,
                              purpose="personal", beneficiary_name="张三", actor="bench", certify=certify,
                              serials_of=posted.id)

        atomic(settle, engine=engine)
        phase("-")

    return retirement


def ours_worker(url: str, batch_id: int, worker_no: int, cell_no: int, seconds: float, barrier, results) -> None:
    try:
        from backend.db import make_engine

        engine = make_engine(url, pool_size=1)
        retirement = ours_retirement(engine, batch_id)
        run_loop(retirement, worker_no, cell_no, seconds, barrier, results)
        engine.dispose()
    except Exception:  # noqa: BLE001 — reported by the parent
        barrier.abort()
        results.put({"worker": worker_no, "fatal": traceback.format_exc()})


def run_loop(retirement, worker_no: int, cell_no: int, seconds: float, barrier, results) -> None:
    """Warm up, wait for the others, then retire until the time is up; report count, latencies, errors."""
    first_user = (cell_no + 1) * 10**12 + (worker_no + 1) * 10**9
    retirement(first_user, f"c{cell_no}w{worker_no}-warm")  # connects, creates the escrow account, primes caches
    barrier.wait(timeout=300)
    latencies, errors, first_error = [], 0, None
    started = time.perf_counter()
    deadline = started + seconds
    number, finished = 0, started
    while finished < deadline:
        number += 1
        began = time.perf_counter()
        try:
            retirement(first_user + number, f"c{cell_no}w{worker_no}-{number}")
        except Exception:  # noqa: BLE001 — counted; a run of them stops the worker
            errors += 1
            first_error = first_error or traceback.format_exc(limit=3)
            if errors >= 50:
                break
        else:
            latencies.append(time.perf_counter() - began)
        finished = time.perf_counter()
    results.put({"worker": worker_no, "done": len(latencies), "elapsed": finished - started,
                 "latencies": latencies, "errors": errors, "first_error": first_error})


# ----------------------------------------------------------------------------------------------------------------
# Raw psycopg: the same three transactions, hand-written

RAW_SCHEMA = """
CREATE TABLE batch (id bigserial PRIMARY KEY, quantity_g bigint NOT NULL);
CREATE TABLE acct (
    id bigserial PRIMARY KEY, holder varchar(64) NOT NULL, batch_id bigint NOT NULL REFERENCES batch,
    kind varchar(16) NOT NULL, debits_g bigint NOT NULL DEFAULT 0, credits_g bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (holder, batch_id, kind),
    CHECK (debits_g >= 0 AND credits_g >= 0), CHECK (kind = 'issuance' OR credits_g >= debits_g));
CREATE INDEX ON acct (batch_id);
CREATE TABLE xfer (
    id bigserial PRIMARY KEY, client_id varchar(80) NOT NULL UNIQUE, request_hash varchar(64) NOT NULL,
    code varchar(12) NOT NULL, batch_id bigint NOT NULL REFERENCES batch,
    debit_account_id bigint NOT NULL REFERENCES acct, credit_account_id bigint NOT NULL REFERENCES acct,
    amount_g bigint NOT NULL CHECK (amount_g > 0), pending_id bigint REFERENCES xfer, counterparty varchar(64),
    expires_at timestamptz, actor varchar(64) NOT NULL, created_at timestamptz NOT NULL,
    CHECK (debit_account_id <> credit_account_id));
CREATE INDEX ON xfer (batch_id); CREATE INDEX ON xfer (debit_account_id); CREATE INDEX ON xfer (credit_account_id);
CREATE INDEX ON xfer (pending_id);
CREATE TABLE srange (
    id bigserial PRIMARY KEY, batch_id bigint NOT NULL REFERENCES batch, account_id bigint NOT NULL REFERENCES acct,
    first bigint NOT NULL, last bigint NOT NULL, reservation_id bigint REFERENCES xfer,
    CHECK (first >= 1 AND last >= first));
CREATE INDEX ON srange (account_id, first); CREATE INDEX ON srange (batch_id, first);
CREATE INDEX ON srange (reservation_id);
CREATE TABLE xrange (transfer_id bigint REFERENCES xfer, first bigint, last bigint NOT NULL,
                     PRIMARY KEY (transfer_id, first));
CREATE INDEX ON xrange (first, last);
CREATE TABLE pending (pending_id bigint PRIMARY KEY REFERENCES xfer, outcome varchar(12) NOT NULL,
                      transfer_id bigint NOT NULL REFERENCES xfer, resolved_at timestamptz NOT NULL);
CREATE TABLE retirement (
    id bigserial PRIMARY KEY, transfer_id bigint NOT NULL UNIQUE REFERENCES xfer, holder varchar(64) NOT NULL,
    batch_id bigint NOT NULL REFERENCES batch, quantity_g bigint NOT NULL, purpose varchar(16) NOT NULL,
    purpose_ref varchar(200), beneficiary_name varchar(200) NOT NULL, beneficiary_masked varchar(200) NOT NULL,
    retired_at timestamptz NOT NULL);
CREATE INDEX ON retirement (holder); CREATE INDEX ON retirement (batch_id);
CREATE TABLE audit_event (
    seq bigint PRIMARY KEY, at timestamptz NOT NULL, actor varchar(64) NOT NULL, action varchar(64) NOT NULL,
    object_type varchar(32) NOT NULL, object_id varchar(64) NOT NULL, before json, after json,
    prev_hash varchar(64) NOT NULL, hash varchar(64) NOT NULL);
CREATE TABLE audit_head (id int PRIMARY KEY, seq bigint NOT NULL, hash varchar(64) NOT NULL);
INSERT INTO audit_head VALUES (1, 0, repeat('0', 64));
CREATE SEQUENCE audit_unchained_seq START 1000000000000;
"""


def raw_conninfo(schema: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    return (f"host={url.host or '127.0.0.1'} port={url.port or 5432} user={url.username or 'postgres'} "
            f"dbname={url.database} options='-c search_path={schema} -c timezone=UTC'")


def raw_setup(conninfo: str, count: int) -> list[int]:
    """``count`` batches, each issued to the platform: an available account holding ``[1, QUANTITY_G]``."""
    import psycopg

    with psycopg.connect(conninfo) as connection:
        batch_ids = []
        for _ in range(count):
            batch_id = connection.execute("INSERT INTO batch (quantity_g) VALUES (%s) RETURNING id",
                                          (QUANTITY_G,)).fetchone()[0]
            connection.execute("INSERT INTO acct (holder, batch_id, kind, debits_g) VALUES ('registry', %s, "
                               "'issuance', %s)", (batch_id, QUANTITY_G))
            account = connection.execute("INSERT INTO acct (holder, batch_id, kind, credits_g) VALUES ('platform', "
                                         "%s, 'available', %s) RETURNING id", (batch_id, QUANTITY_G)).fetchone()[0]
            connection.execute("INSERT INTO acct (holder, batch_id, kind) VALUES ('platform', %s, 'reserved')",
                               (batch_id,))
            connection.execute("INSERT INTO srange (batch_id, account_id, first, last) VALUES (%s, %s, 1, %s)",
                               (batch_id, account, QUANTITY_G))
            batch_ids.append(batch_id)
        return batch_ids


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                     default=str).encode()).hexdigest()


class RawLedger:
    """The three transactions with nothing but psycopg; ``statements`` counts what they send.

    ``chained=False`` is the variant without the hash chain: audit rows numbered by a sequence, no head row lock,
    to show what the one global ``audit_head`` row costs.
    """

    def __init__(self, connection, batch_id: int, chained: bool = True) -> None:
        self.connection = connection
        self.cursor = connection.cursor()
        self.batch_id = batch_id
        self.chained = chained
        self.statements = 0
        self.per_operation: collections.Counter = collections.Counter()

    def sql(self, query: str, params=()):
        self.statements += 1
        return self.cursor.execute(query, params)

    def _audit(self, now: datetime, action: str, transfer_id: int, after: dict) -> None:
        from psycopg.types.json import Json

        if not self.chained:
            self.sql("INSERT INTO audit_event (seq, at, actor, action, object_type, object_id, after, prev_hash, hash) "
                     "VALUES (nextval('audit_unchained_seq'), %s, 'bench', %s, 'transfer', %s, %s, '', %s)",
                     (now, action, str(transfer_id), Json(after), _digest(after)))
            return
        seq, prev_hash = self.sql("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").fetchone()
        seq += 1
        event_hash = _digest({"seq": seq, "at": now.isoformat(), "actor": "bench", "action": action,
                              "object_type": "transfer", "object_id": str(transfer_id), "before": None,
                              "after": after, "prev_hash": prev_hash})
        self.sql("INSERT INTO audit_event (seq, at, actor, action, object_type, object_id, after, prev_hash, hash) "
                 "VALUES (%s, %s, 'bench', %s, 'transfer', %s, %s, %s, %s)",
                 (seq, now, action, str(transfer_id), Json(after), prev_hash, event_hash))
        self.sql("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (seq, event_hash))

    def _move_balances(self, source: int, destination: int, amount: int) -> None:
        if self.sql("UPDATE acct SET debits_g = debits_g + %s WHERE id = %s AND credits_g - debits_g >= %s",
                    (amount, source, amount)).rowcount != 1:
            raise RuntimeError("insufficient credits")
        self.sql("UPDATE acct SET credits_g = credits_g + %s WHERE id = %s", (amount, destination))

    def _transfer(self, now: datetime, code: str, key: str, request: dict, source: int, destination: int,
                  amount: int, **extra) -> int:
        columns = ["client_id", "request_hash", "code", "batch_id", "debit_account_id", "credit_account_id",
                   "amount_g", "actor", "created_at", *extra]
        values = [key, _digest({"operation": code, **request}), code, self.batch_id, source, destination, amount,
                  "bench", now, *extra.values()]
        return self.sql(f"INSERT INTO xfer ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                        "RETURNING id", values).fetchone()[0]

    def reserve(self, user: str, key: str) -> int:
        now, batch, amount = now_utc(), self.batch_id, AMOUNT_G
        accounts = dict(self.sql("SELECT kind, id FROM acct WHERE holder = 'platform' AND batch_id = %s AND kind IN "
                                 "('available', 'reserved') ORDER BY id FOR UPDATE", (batch,)).fetchall())
        source, escrow = accounts["available"], accounts["reserved"]
        self._move_balances(source, escrow, amount)
        transfer = self._transfer(now, "RESERVE", key, {"batch_id": batch, "to": user, "amount_g": amount},
                                  source, escrow, amount, counterparty=user,
                                  expires_at=now + timedelta(seconds=TTL_SECONDS))
        # the lowest available serials: shrink the platform's lowest range from below
        first = self.sql("UPDATE srange SET first = first + %s WHERE id = (SELECT id FROM srange WHERE account_id = %s "
                         "AND reservation_id IS NULL ORDER BY first LIMIT 1) AND last - first + 1 > %s "
                         "RETURNING first - %s", (amount, source, amount, amount)).fetchone()[0]
        last = first + amount - 1
        self.sql("INSERT INTO srange (batch_id, account_id, first, last, reservation_id) VALUES (%s, %s, %s, %s, %s)",
                 (batch, escrow, first, last, transfer))
        self.sql("INSERT INTO xrange (transfer_id, first, last) VALUES (%s, %s, %s)", (transfer, first, last))
        self._audit(now, "ledger.reserve", transfer, {"code": "RESERVE", "batch_id": batch, "amount_g": amount,
                                                       "from": "platform/available", "to": "platform/reserved",
                                                       "ranges": [[first, last]], "client_id": key,
                                                       "counterparty": user})
        self.connection.commit()
        return transfer

    def post(self, reservation: int, key: str) -> None:
        now, batch = now_utc(), self.batch_id
        source, escrow, amount, user, expires_at = self.sql(
            "SELECT debit_account_id, credit_account_id, amount_g, counterparty, expires_at FROM xfer "
            "WHERE id = %s AND code = 'RESERVE'", (reservation,)).fetchone()
        if expires_at <= now:
            raise RuntimeError("reservation expired")
        row = self.sql("INSERT INTO acct (holder, batch_id, kind) VALUES (%s, %s, 'available') ON CONFLICT DO NOTHING "
                       "RETURNING id", (user, batch)).fetchone()
        destination = row[0] if row else self.sql(
            "SELECT id FROM acct WHERE holder = %s AND batch_id = %s AND kind = 'available'",
            (user, batch)).fetchone()[0]
        self.sql("SELECT id FROM acct WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                 (sorted({source, escrow, destination}),)).fetchall()
        self._move_balances(escrow, destination, amount)
        transfer = self._transfer(now, "POST", key, {"reservation_id": reservation}, escrow, destination, amount,
                                  pending_id=reservation)
        # the primary key refuses a second resolution of the same reservation
        self.sql("INSERT INTO pending (pending_id, outcome, transfer_id, resolved_at) VALUES (%s, 'posted', %s, %s)",
                 (reservation, transfer, now))
        ranges = self.sql("DELETE FROM srange WHERE account_id = %s AND reservation_id = %s RETURNING first, last",
                          (escrow, reservation)).fetchall()
        for first, last in ranges:
            self.sql("INSERT INTO srange (batch_id, account_id, first, last) VALUES (%s, %s, %s, %s)",
                     (batch, destination, first, last))
            self.sql("INSERT INTO xrange (transfer_id, first, last) VALUES (%s, %s, %s)", (transfer, first, last))
        self._audit(now, "ledger.post", transfer, {"code": "POST", "batch_id": batch, "amount_g": amount,
                                                    "from": "platform/reserved", "to": f"{user}/available",
                                                    "ranges": [list(r) for r in ranges], "client_id": key,
                                                    "pending_id": reservation})
        self.connection.commit()

    def retire(self, user: str, key: str) -> None:
        now, batch, amount = now_utc(), self.batch_id, AMOUNT_G
        self.sql("INSERT INTO acct (holder, batch_id, kind) VALUES (%s, %s, 'retired') ON CONFLICT DO NOTHING",
                 (user, batch))
        accounts = dict(self.sql("SELECT kind, id FROM acct WHERE holder = %s AND batch_id = %s AND kind IN "
                                 "('available', 'retired') ORDER BY id FOR UPDATE", (user, batch)).fetchall())
        source, retired = accounts["available"], accounts["retired"]
        self._move_balances(source, retired, amount)
        transfer = self._transfer(now, "RETIRE", key, {"batch_id": batch, "holder": user, "amount_g": amount,
                                                       "purpose": "personal", "beneficiary_name": "张三"},
                                  source, retired, amount)
        # the user holds exactly what was bought: its lowest range goes whole
        first, last = self.sql("DELETE FROM srange WHERE id = (SELECT id FROM srange WHERE account_id = %s AND "
                               "reservation_id IS NULL ORDER BY first LIMIT 1) RETURNING first, last",
                               (source,)).fetchone()
        self.sql("INSERT INTO srange (batch_id, account_id, first, last) VALUES (%s, %s, %s, %s)",
                 (batch, retired, first, last))
        self.sql("INSERT INTO xrange (transfer_id, first, last) VALUES (%s, %s, %s)", (transfer, first, last))
        retirement = self.sql(
            "INSERT INTO retirement (transfer_id, holder, batch_id, quantity_g, purpose, beneficiary_name, "
            "beneficiary_masked, retired_at) VALUES (%s, %s, %s, %s, 'personal', '张三', '张*', %s) RETURNING id",
            (transfer, user, batch, amount, now)).fetchone()[0]
        self._audit(now, "ledger.retire", transfer, {"code": "RETIRE", "batch_id": batch, "amount_g": amount,
                                                      "from": f"{user}/available", "to": f"{user}/retired",
                                                      "ranges": [[first, last]], "client_id": key,
                                                      "retirement_id": retirement, "purpose": "personal",
                                                      "beneficiary_masked": "张*"})
        self.connection.commit()

    def retirement(self, user_no: int, key: str) -> None:
        user = f"user:{user_no}"
        try:
            before = self.statements
            reservation = self.reserve(user, f"{key}-r")
            self.per_operation["reserve"] += self.statements - before
            before = self.statements
            self.post(reservation, f"{key}-p")
            self.per_operation["post"] += self.statements - before
            before = self.statements
            self.retire(user, f"{key}-t")
            self.per_operation["retire"] += self.statements - before
        except Exception:
            self.connection.rollback()
            raise


def raw_worker(conninfo: str, batch_id: int, chained: bool, worker_no: int, cell_no: int, seconds: float, barrier,
               results) -> None:
    try:
        import psycopg

        with psycopg.connect(conninfo) as connection:
            run_loop(RawLedger(connection, batch_id, chained).retirement, worker_no, cell_no, seconds, barrier, results)
    except Exception:  # noqa: BLE001 — reported by the parent
        barrier.abort()
        results.put({"worker": worker_no, "fatal": traceback.format_exc()})


# ----------------------------------------------------------------------------------------------------------------
# Running cells


class Cell:
    def __init__(self, backend: str, impl: str, spread: str, workers: int) -> None:
        self.backend, self.impl, self.spread, self.workers = backend, impl, spread, workers
        self.rate = self.p50 = self.p99 = 0.0
        self.done = self.errors = 0
        self.note = ""

    def key(self) -> tuple:
        return self.backend, self.spread, self.workers


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def sequence(engine, ring) -> tuple[int, int]:
    """One pass of the sequencer (backend.sequencer.run_once without the app): seal, then merge, until done."""
    from backend import audit
    from backend.db import atomic
    from backend.transparency import log as transparency_log

    events = certificates = 0
    while (sealed := atomic(audit.seal, engine=engine)) > 0:
        events += sealed
    while (merged := atomic(lambda s: transparency_log.merge(s, now_utc(), ring), engine=engine)) > 0:
        certificates += merged
    return events, certificates


def sequencer_worker(url: str, stop, interval: float = 0.5) -> None:
    """The sequencer as production runs it, every ``interval`` seconds, for the length of a cell."""
    from joserfc.jwk import OKPKey

    from backend.certificates.keys import KeyRing
    from backend.db import make_engine

    engine = make_engine(url, pool_size=1)
    ring = KeyRing(OKPKey.generate_key("Ed25519"))
    while not stop.wait(interval):
        sequence(engine, ring)
    engine.dispose()


def run_cell(cell: Cell, target, target_args: list[tuple], seconds: float, cell_no: int,
             sequencer_url: str | None = None) -> Cell:
    """Start one process per entry of ``target_args`` (and the sequencer, for ours) and gather their reports."""
    context = mp.get_context("fork")
    barrier = context.Barrier(len(target_args))
    results = context.Queue()
    processes = [context.Process(target=target, args=(*args, worker_no, cell_no, seconds, barrier, results),
                                 daemon=True)
                 for worker_no, args in enumerate(target_args)]
    stop = context.Event()
    if sequencer_url is not None:
        processes.append(context.Process(target=sequencer_worker, args=(sequencer_url, stop), daemon=True))
    for process in processes:
        process.start()
    reports = []
    try:
        for _ in target_args:
            reports.append(results.get(timeout=seconds + 300))
    except queue.Empty:
        cell.note = "timed out"
    stop.set()
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join()
    fatal = [report["fatal"] for report in reports if "fatal" in report]
    if fatal:
        print(f"  worker failed:\n{fatal[0]}", file=sys.stderr)
        cell.note = "worker failed"
        return cell
    latencies = [latency for report in reports for latency in report["latencies"]]
    cell.done = sum(report["done"] for report in reports)
    cell.errors = sum(report["errors"] for report in reports)
    cell.rate = sum(report["done"] / report["elapsed"] for report in reports if report["elapsed"] > 0)
    cell.p50, cell.p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    for report in reports:
        if report["first_error"]:
            print(f"  first error of worker {report['worker']}:\n{report['first_error']}", file=sys.stderr)
            break
    print(f"  {cell.backend:<10} {cell.impl:<13} {cell.spread:<6} {cell.workers} worker(s): {cell.rate:8.1f} "
          f"retirements/s  p50 {cell.p50:6.2f} ms  p99 {cell.p99:6.2f} ms  ({cell.done} done, {cell.errors} errors)"
          f"{'  ' + cell.note if cell.note else ''}", flush=True)
    return cell


def run_grid(backend: str, impl: str, target, make_args, seconds: float, cells: list[Cell],
             cell_counter: collections.Counter, worker_counts=None, sequencer_url: str | None = None) -> None:
    """The hot cells for each worker count, then the spread cell with the most workers."""
    for workers in worker_counts or WORKER_COUNTS:
        cell_counter["n"] += 1
        batch = make_args(1)[0]
        cells.append(run_cell(Cell(backend, impl, "hot", workers), target, [batch] * workers, seconds,
                              cell_counter["n"], sequencer_url))
    workers = max(worker_counts or WORKER_COUNTS)
    if workers == 1:
        return  # one batch per worker is the hot cell again
    cell_counter["n"] += 1
    cells.append(run_cell(Cell(backend, impl, "spread", workers), target, make_args(workers), seconds,
                          cell_counter["n"], sequencer_url))


# ----------------------------------------------------------------------------------------------------------------
# Counting what one retirement sends


def count_ours(url: str, batch_id: int, show_sql: bool) -> dict:
    """SQL statements per operation (before_cursor_execute) and, on PostgreSQL, protocol round trips."""
    from sqlalchemy import event

    from backend.db import make_engine

    engine = make_engine(url, pool_size=1)
    current = ["-"]
    statements: collections.Counter = collections.Counter()
    verbs: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    sample: list[tuple[str, str]] = []
    recording = [False]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, _parameters, _context, _executemany):
        if not recording[0] or statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE: a transaction, not work
            return
        statements[current[0]] += 1
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb == "SELECT" and "FOR UPDATE" in statement:
            verb = "SELECT…FOR UPDATE"
        verbs[current[0]][verb] += 1
        if len(sample) < 200 and current[0] != "-" and recording[0] == "sample":
            sample.append((current[0], " ".join(statement.split())))

    retirement = ours_retirement(engine, batch_id, phase=lambda name: current.__setitem__(0, name))
    tag = uuid.uuid4().hex[:6]
    for number in range(COUNT_SAMPLES):  # steady state: psycopg prepares a statement on its 5th use
        retirement(9 * 10**15 - 1 - number, f"count-{tag}-warm{number}")

    cpu = [0.0]

    def samples() -> None:
        began = time.process_time()
        for number in range(COUNT_SAMPLES):
            recording[0] = "sample" if number == 0 else True
            retirement(9 * 10**15 + 1 + number, f"count-{tag}-{number}")
        recording[0] = False
        cpu[0] = time.process_time() - began

    round_trips = None
    if engine.dialect.name == "postgresql":
        # libpq's protocol trace: one ReadyForQuery per round trip. Switching the trace on and off costs a few
        # round trips of its own (pool pings), measured with nothing in between and taken off.
        round_trips = traced_round_trips(engine, samples) - traced_round_trips(engine, lambda: None)
    else:
        samples()
    engine.dispose()
    if show_sql:
        print(f"  statements of one retirement ({engine.dialect.name}):")
        for operation, statement in sample:
            print(f"    {operation:<8} {statement[:160]}")
    return {"statements": {op: n / COUNT_SAMPLES for op, n in statements.items()},
            "verbs": {op: {verb: n / COUNT_SAMPLES for verb, n in counter.items()} for op, counter in verbs.items()},
            "round_trips": None if round_trips is None else round_trips / COUNT_SAMPLES,
            "cpu_ms": cpu[0] / COUNT_SAMPLES * 1000}


def traced_round_trips(engine, work) -> int:
    """Round trips the engine's one pooled connection makes during ``work()``."""
    with tempfile.NamedTemporaryFile("w+", suffix=".trace") as trace:
        with engine.connect() as connection:  # pool_size 1 and no concurrency: the same connection throughout
            connection.connection.dbapi_connection.pgconn.trace(trace.fileno())
        work()
        with engine.connect() as connection:
            connection.connection.dbapi_connection.pgconn.untrace()
        trace.flush()
        trace.seek(0)
        return sum(1 for line in trace if "\tB\t" in line and "ReadyForQuery" in line)


def count_raw(conninfo: str, batch_id: int) -> dict:
    import psycopg

    with psycopg.connect(conninfo) as connection:
        ledger = RawLedger(connection, batch_id)
        for number in range(COUNT_SAMPLES):
            ledger.retirement(8 * 10**15 - 1 - number, f"count-warm{number}")
        ledger.statements = 0
        ledger.per_operation.clear()
        with tempfile.NamedTemporaryFile("w+", suffix=".trace") as trace:
            connection.pgconn.trace(trace.fileno())
            began = time.process_time()
            for number in range(COUNT_SAMPLES):
                ledger.retirement(8 * 10**15 + 1 + number, f"count-{number}")
            cpu = time.process_time() - began
            connection.pgconn.untrace()
            trace.flush()
            trace.seek(0)
            round_trips = sum(1 for line in trace if "\tB\t" in line and "ReadyForQuery" in line)
    return {"statements": {op: n / COUNT_SAMPLES for op, n in ledger.per_operation.items()},
            "round_trips": round_trips / COUNT_SAMPLES, "cpu_ms": cpu / COUNT_SAMPLES * 1000}


def describe_counts(name: str, counts: dict) -> None:
    total = sum(counts["statements"].values())
    parts = ", ".join(f"{op} {counts['statements'].get(op, 0):g}" for op in ("reserve", "post", "retire"))
    line = f"  {name:<16} {total:5.1f} SQL statements per retirement ({parts})"
    if counts.get("round_trips") is not None:
        line += f"; {counts['round_trips']:.1f} round trips incl. BEGIN/COMMIT and pool pings"
    print(line, flush=True)
    print(f"      client CPU {counts['cpu_ms']:.1f} ms per retirement (this process only, not the database's)")
    for op in ("reserve", "post", "retire") if "verbs" in counts else ():
        kinds = ", ".join(f"{verb} {n:g}" for verb, n in sorted(counts["verbs"].get(op, {}).items()))
        print(f"      {op:<8} {kinds}")


def verify_ledger(engine, cells: list[Cell], backend: str) -> None:
    """After the run: the ledger's invariants and the audit chain still hold (a lost update would show here)."""
    from sqlmodel import Session

    from joserfc.jwk import OKPKey

    from backend.audit import verify
    from backend.certificates.keys import KeyRing
    from backend.ledger.invariants import check

    events, certificates = sequence(engine, KeyRing(OKPKey.generate_key("Ed25519")))  # what the last pass left
    print(f"  {backend}: the sequencer's last pass sealed {events} event(s), appended {certificates} certificate(s)")
    with Session(engine) as session:
        violations, chain = check(session), verify(session)
    print(f"  {backend}: ledger invariants {'hold' if not violations else f'{len(violations)} VIOLATED'}; audit chain "
          f"{'intact' if chain.ok else 'BROKEN: ' + str(chain.problem)} ({chain.length} events)", flush=True)
    for violation in violations[:5]:
        print(f"    {violation}")
    if violations or not chain.ok:
        PROBLEMS.append(f"{backend}: invariants violated or audit chain broken")


# ----------------------------------------------------------------------------------------------------------------
# Backends


def bench_sqlite(args, cells: list[Cell], counts: dict, counter: collections.Counter) -> None:
    from backend import migrate
    from backend.db import make_engine

    directory = tempfile.mkdtemp(prefix="bench-ledger-")
    try:
        url = f"sqlite:///{directory}/ledger.db"
        print(f"SQLite: migrating {url}", flush=True)
        migrate.upgrade(url)
        setup = make_engine(url, pool_size=1)
        counts[("sqlite", "ours")] = count_ours(url, make_batches(setup, 1, "count")[0], args.show_sql)
        describe_counts("sqlite ours", counts[("sqlite", "ours")])

        def make_args(count: int) -> list[tuple]:
            batch_ids = make_batches(setup, count, uuid.uuid4().hex[:8])
            setup.dispose()  # nothing open across the fork
            return [(url, batch_id) for batch_id in batch_ids]

        run_grid("sqlite", "ours", ours_worker, make_args, args.seconds, cells, counter, sequencer_url=url)
        verify_ledger(setup, cells, "sqlite")
        setup.dispose()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def bench_postgresql(args, cells: list[Cell], counts: dict, counter: collections.Counter) -> None:
    from sqlalchemy import create_engine, text

    from backend import migrate
    from backend.db import make_engine

    suffix = uuid.uuid4().hex[:10]
    ours_schema, raw_schema = f"bench_{suffix}", f"bench_raw_{suffix}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {ours_schema}"))
            connection.execute(text(f"CREATE SCHEMA {raw_schema}"))
        admin.dispose()  # nothing open across the forks to come
        url = f"{PG_URL}?options=-csearch_path%3D{ours_schema}"
        print(f"PostgreSQL: migrating schema {ours_schema}; raw tables in {raw_schema}", flush=True)
        migrate.upgrade(url)
        conninfo = raw_conninfo(raw_schema)
        import psycopg

        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(RAW_SCHEMA)
        setup = make_engine(url, pool_size=1)
        counts[("postgresql", "ours")] = count_ours(url, make_batches(setup, 1, "count")[0], args.show_sql)
        describe_counts("postgresql ours", counts[("postgresql", "ours")])
        counts[("postgresql", "raw")] = count_raw(conninfo, raw_setup(conninfo, 1)[0])
        describe_counts("postgresql raw", counts[("postgresql", "raw")])

        def make_ours(count: int) -> list[tuple]:
            batch_ids = make_batches(setup, count, uuid.uuid4().hex[:8])
            setup.dispose()
            return [(url, batch_id) for batch_id in batch_ids]

        def make_raw(count: int) -> list[tuple]:
            return [(conninfo, batch_id, True) for batch_id in raw_setup(conninfo, count)]

        def make_unchained(count: int) -> list[tuple]:
            return [(conninfo, batch_id, False) for batch_id in raw_setup(conninfo, count)]

        run_grid("postgresql", "ours", ours_worker, make_ours, args.seconds, cells, counter, sequencer_url=url)
        if args.buyers:  # issue 17: many buyers of one batch against as many spread over 16 batches
            for spread, batch_ids in (("hot", make_ours(1) * PGBENCH_SPREAD),
                                      (f"spread{PGBENCH_SPREAD}", make_ours(PGBENCH_SPREAD))):
                counter["n"] += 1
                cells.append(run_cell(Cell("postgresql", "ours", spread, args.buyers), ours_worker,
                                      [batch_ids[i % len(batch_ids)] for i in range(args.buyers)], args.seconds,
                                      counter["n"], url))
        verify_ledger(setup, cells, "postgresql")
        setup.dispose()
        run_grid("postgresql", "raw", raw_worker, make_raw, args.seconds, cells, counter)
        run_grid("postgresql", "raw-unchained", raw_worker, make_unchained, args.seconds, cells, counter,
                 worker_counts=(max(WORKER_COUNTS),))
    finally:
        with admin.connect() as connection:
            for schema in (ours_schema, raw_schema):
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


# --- the ceiling: pgbench running a minimal retirement -------------------------------------------------------------

# The least a retirement can be in SQL: lock the batch's inventory row, take the grams off it (its next serial
# moves on), and record the retirement and its serial range — one transaction, four statements, nothing else (no
# audit, no certificate, no reservation). pgbench runs it with its own clients; a hot cell draws every retirement
# from one row, a spread cell from ``nbatches`` rows at random.
PGBENCH_SCHEMA = """
CREATE TABLE inventory (batch_id int PRIMARY KEY, available_g bigint NOT NULL CHECK (available_g >= 0),
                        next_serial bigint NOT NULL);
CREATE TABLE retirement (id bigserial PRIMARY KEY, batch_id int NOT NULL, quantity_g bigint NOT NULL,
                         retired_at timestamptz NOT NULL);
CREATE TABLE serial_range (id bigserial PRIMARY KEY, retirement_id bigint NOT NULL, first_serial bigint NOT NULL,
                           last_serial bigint NOT NULL);
"""
PGBENCH_SCRIPT = f"""\\set batch random(1, :nbatches)
BEGIN;
SELECT available_g FROM inventory WHERE batch_id = :batch FOR UPDATE;
UPDATE inventory SET available_g = available_g - {AMOUNT_G}, next_serial = next_serial + {AMOUNT_G}
  WHERE batch_id = :batch;
INSERT INTO retirement (batch_id, quantity_g, retired_at) VALUES (:batch, {AMOUNT_G}, now());
INSERT INTO serial_range (retirement_id, first_serial, last_serial)
  SELECT currval('retirement_id_seq'), next_serial - {AMOUNT_G}, next_serial - 1 FROM inventory
  WHERE batch_id = :batch;
END;
"""
PGBENCH_SPREAD = 16  # batches of the spread ceiling cells, as the goal names it


def pgbench_cell(conninfo: str, script: str, *, batches: int, clients: int, seconds: float) -> Cell:
    """One pgbench run; tps as pgbench reports it (without the initial connection time)."""
    # Labelled as ours is where they compare (ours spreads to one batch per worker), so the ratio column lines up.
    label = "hot" if batches == 1 else "spread" if batches == max(WORKER_COUNTS) else f"spread{batches}"
    cell = Cell("postgresql", "pgbench", label, clients)
    done = subprocess.run(["pgbench", "-n", "-f", script, "-c", str(clients), "-j", str(clients), "-T",
                           str(max(1, round(seconds))), "-D", f"nbatches={batches}", "-r", conninfo],
                          capture_output=True, text=True, timeout=seconds + 120)
    found = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", done.stdout, re.M)
    latency = re.search(r"^latency average = ([0-9.]+) ms", done.stdout, re.M)
    failed = re.search(r"^number of failed transactions: ([0-9]+)", done.stdout, re.M)
    if done.returncode != 0 or found is None:
        cell.note = f"pgbench failed: {(done.stderr or done.stdout)[-300:]}"
        return cell
    cell.rate = float(found.group(1))
    cell.done = int(cell.rate * seconds)
    cell.p50 = float(latency.group(1)) if latency else 0.0  # pgbench gives the mean, shown in the p50 column
    cell.errors = int(failed.group(1)) if failed else 0
    return cell


def bench_pgbench(args, cells: list[Cell]) -> None:
    """The ceiling cells, on a schema of their own: hot at each worker count, spread over PGBENCH_SPREAD batches
    and over as many batches as ours spreads to (one per worker)."""
    import psycopg

    if shutil.which("pgbench") is None:
        PROBLEMS.append("pgbench is not installed: no ceiling to compare with")
        return
    schema = f"bench_pgb_{uuid.uuid4().hex[:10]}"
    conninfo = raw_conninfo(schema)
    with psycopg.connect(raw_conninfo("public"), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        spreads = sorted({PGBENCH_SPREAD, max(WORKER_COUNTS)})
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(PGBENCH_SCHEMA)
            connection.execute("INSERT INTO inventory SELECT n, %s, 1 FROM generate_series(1, %s) n",
                               (QUANTITY_G, max(spreads)))
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write(PGBENCH_SCRIPT)
        print(f"PostgreSQL ceiling: pgbench, a minimal retirement (4 statements, one transaction), schema {schema}",
              flush=True)
        for workers in WORKER_COUNTS:
            cells.append(pgbench_cell(conninfo, script.name, batches=1, clients=workers, seconds=args.seconds))
        for batches in spreads:
            cells.append(pgbench_cell(conninfo, script.name, batches=batches, clients=max(WORKER_COUNTS),
                                      seconds=args.seconds))
        for cell in cells[-len(WORKER_COUNTS) - len(spreads):]:
            print(f"  pgbench {cell.spread:<8} {cell.workers:>2} clients: {cell.rate:8.1f} tps"
                  f"{'  ' + cell.note if cell.note else ''}", flush=True)
    finally:
        os.unlink(script.name)
        with psycopg.connect(raw_conninfo("public"), autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def print_table(cells: list[Cell]) -> None:
    raw = {cell.key(): cell for cell in cells if cell.impl == "raw"}
    pgbench = {cell.key(): cell for cell in cells if cell.impl == "pgbench"}
    print()
    print(f"{'backend':<11} {'impl':<13} {'batches':<8} {'workers':>7} {'retire/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'ours/raw':>8} {'ours/pgbench':>12}")
    print("-" * 100)
    for cell in cells:
        ratios = []
        for ceilings in (raw, pgbench):
            ceiling = ceilings.get(cell.key())
            ratios.append(f"{cell.rate / ceiling.rate:.2f}" if cell.impl == "ours" and ceiling is not None
                          and ceiling.rate > 0 else "")
        p99 = "" if cell.impl == "pgbench" else f"{cell.p99:.2f}"  # pgbench reports a mean, no percentiles
        print(f"{cell.backend:<11} {cell.impl:<13} {cell.spread:<8} {cell.workers:>7} {cell.rate:>9.1f} "
              f"{cell.p50:>8.2f} {p99:>8} {cell.errors:>6} {ratios[0]:>8} {ratios[1]:>12}"
              f"{'  ' + cell.note if cell.note else ''}")
    ours_hot = {c.workers: c.rate for c in cells
                if c.backend == "postgresql" and c.impl == "ours" and c.spread == "hot"}
    ceiling_hot = pgbench.get(("postgresql", "hot", max(WORKER_COUNTS)))
    ceiling_spread = pgbench.get(("postgresql", "spread" if PGBENCH_SPREAD == max(WORKER_COUNTS)
                                  else f"spread{PGBENCH_SPREAD}", max(WORKER_COUNTS)))
    ours_spread = next((c.rate for c in cells if c.backend == "postgresql" and c.impl == "ours"
                        and c.spread == "spread"), None)
    if ceiling_hot and ceiling_hot.rate and max(WORKER_COUNTS) in ours_hot:
        print(f"\nissue 17's goals, this run: ours hot with {max(WORKER_COUNTS)} workers = "
              f"{ours_hot[max(WORKER_COUNTS)] / ceiling_hot.rate:.1%} of pgbench hot (goal >= 25%); "
              + (f"{max(WORKER_COUNTS)} workers / 1 worker = {ours_hot[max(WORKER_COUNTS)] / ours_hot[1]:.2f} "
                 "(goal > 1)" if ours_hot.get(1) else ""))
    if ceiling_spread and ceiling_spread.rate and ours_spread:
        print(f"ours spread ({max(WORKER_COUNTS)} batches) = {ours_spread / ceiling_spread.rate:.1%} of pgbench "
              f"spread over {PGBENCH_SPREAD} batches (goal >= 50%)")
    many = {c.spread: c for c in cells if c.impl == "ours" and c.workers not in WORKER_COUNTS}
    if "hot" in many and f"spread{PGBENCH_SPREAD}" in many and many[f"spread{PGBENCH_SPREAD}"].rate:
        hot, spread = many["hot"], many[f"spread{PGBENCH_SPREAD}"]
        print(f"{hot.workers} buyers of one batch = {hot.rate / spread.rate:.0%} of {spread.workers} buyers over "
              f"{PGBENCH_SPREAD} batches (goal >= 50%); oversold: see the ledger invariants above")
    print()
    print("retire/s: complete retirements per second, all workers — ours: reserve, then post + retire with its")
    print("     certificate (2 transactions, as an order and its payment); raw: 3 transactions.")
    print("hot: every worker buys from one batch's platform inventory; spread: one batch per worker.")
    print("raw: reserve, post, retire by hand with psycopg; raw-unchained: raw without the audit hash chain's")
    print("     single audit_head row lock (audit rows numbered by a sequence), i.e. what that global lock costs.")
    print("pgbench: the ceiling — a minimal retirement in SQL (PGBENCH_SCRIPT: lock the inventory row, decrement,")
    print("     insert the retirement and its serial range), one transaction; p50 column: pgbench's mean latency.")


def main() -> int:
    global WORKER_COUNTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured cell (default 5)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="run one backend only")
    parser.add_argument("--workers", default=",".join(map(str, WORKER_COUNTS)),
                        help="worker counts for the hot cells, comma-separated (default 1,8); spread cells use the "
                             "largest")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one retirement")
    parser.add_argument("--buyers", type=int, default=64,
                        help="also run this many workers on one batch and over 16 batches (0: skip; default 64)")
    args = parser.parse_args()
    WORKER_COUNTS = tuple(sorted({int(n) for n in args.workers.split(",") if n.strip()}))
    if not WORKER_COUNTS or min(WORKER_COUNTS) < 1:
        parser.error("--workers: one or more positive integers")

    cells: list[Cell] = []
    counts: dict = {}
    counter: collections.Counter = collections.Counter()
    began = time.perf_counter()
    print(f"ledger benchmark: {args.seconds:g} s per cell, {os.cpu_count()} cores, {AMOUNT_G} g per retirement; "
          f"load average {os.getloadavg()[0]:.2f} (anything else running skews every figure)", flush=True)
    if args.only in (None, "sqlite"):
        bench_sqlite(args, cells, counts, counter)
    if args.only in (None, "postgresql"):
        bench_pgbench(args, cells)
        bench_postgresql(args, cells, counts, counter)
    print_table(cells)
    print(f"total {time.perf_counter() - began:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    PROBLEMS.extend(f"{cell.backend} {cell.impl} {cell.spread} {cell.workers}: {cell.note or 'nothing done'}"
                    for cell in cells if cell.note or cell.done == 0)
    for problem in PROBLEMS:
        print(f"FAILED: {problem}")
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
