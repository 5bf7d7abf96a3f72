"""The console's CSV export of 10^5 orders as a job (admin/exports.py): rows per second, how much the process's peak
memory grew while exporting, the file's size, and that the file holds every row once — on SQLite and PostgreSQL.

The demo is loaded (for a listing, a batch and a reservation for the orders to point at), then ``--rows`` orders are
inserted in bulk with Core, an export of all of them is recorded and its job run in this process, as a worker would.

    .venv/bin/python bench/export.py [--rows 100000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402

from admin import exports  # noqa: E402
from admin.models import CsvExport  # noqa: E402
from backend import certificates, create_app  # noqa: E402
from backend.db import atomic, read  # noqa: E402
from backend.demo import load_demo  # noqa: E402
from backend.ledger.models import Transfer  # noqa: E402
from backend.orders.models import Order  # noqa: E402
from backend.registry.models import Organisation  # noqa: E402
from backend.shop.models import Listing  # noqa: E402
from bench.report import fail, finish, run_part  # noqa: E402
from bench.stores import fresh_stores  # noqa: E402

INSERT_BATCH = 5_000


def seed(rows: int) -> None:
    now = datetime.now(timezone.utc)
    load_demo(now, certificates.certify())
    listing = read(lambda s: s.execute(select(Listing)).scalars().first())
    reservation = read(lambda s: s.execute(select(Transfer.id).limit(1)).scalar_one())
    buyer = read(lambda s: s.execute(select(Organisation.id).limit(1)).scalar_one())
    for start in range(0, rows, INSERT_BATCH):
        batch = [{"order_no": f"TH{20260312:08d}{n:012X}", "idempotency_key": f"bench-{n}", "request_hash": "0" * 64,
                  "listing_id": listing.id, "batch_id": listing.batch_id, "quantity_g": 12_345,
                  "price_fen_per_t": listing.price_fen_per_t, "amount_fen": 99, "fee_bp": 500, "purpose": "personal",
                  "status": "fulfilled", "channel": "offline", "org_id": buyer, "reservation_id": reservation,
                  "expires_at": now + timedelta(minutes=15), "paid_at": now, "created_at": now - timedelta(seconds=n),
                  "updated_at": now}
                 for n in range(start, min(rows, start + INSERT_BATCH))]
        atomic(lambda s, batch=batch: s.execute(insert(Order), batch))


def measure(kind: str, rows: int) -> None:
    with fresh_stores(kind, "export") as settings:
        app = create_app({**settings, "APP_ENV": "development", "JOB_WORKER_THREADS": 0, "VERIFY_EVERY_SECONDS": 0,
                          "SEQUENCER_INTERVAL_MS": 0})
        with app.app_context():
            began = time.perf_counter()
            seed(rows)
            print(f"  {kind}: {rows:,} orders inserted in {time.perf_counter() - began:.1f} s", flush=True)
            export_id = atomic(lambda s: _recorded(s))
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            began = time.perf_counter()
            exports.write(export_id)
            seconds = time.perf_counter() - began
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
            export = read(lambda s: s.get(CsvExport, export_id))
            path = exports.path_of(export)
            with open(path, encoding="utf-8-sig", newline="") as handle:
                numbers = [line[0] for line in csv.reader(handle)][1:]
            if export.rows != rows or len(numbers) != rows or len(set(numbers)) != rows:
                fail(f"{kind}: the export holds {len(numbers)} rows ({len(set(numbers))} distinct) of {rows}")
            print(f"  {kind}: {export.rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s; the process's "
                  f"peak memory grew {grown / 1024:.0f} MiB while exporting; file {path.stat().st_size / 2**20:.1f} "
                  "MiB", flush=True)
        app.extensions["db_engine"].dispose()


def _recorded(session) -> int:
    export = CsvExport(kind="orders", query="", requested_by="bench", requested_at=datetime.now(timezone.utc))
    session.add(export)
    session.flush()
    return export.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    began = time.perf_counter()
    print(f"CSV export of {args.rows:,} orders as a job, {CHUNK_NOTE}")
    for kind in ("sqlite", "postgresql"):
        if args.only in (None, kind):
            run_part(kind, measure, kind, args.rows)
    return finish(began)


CHUNK_NOTE = f"{exports.CHUNK:,} rows a query, keyset on the order id"

if __name__ == "__main__":
    sys.exit(main())
