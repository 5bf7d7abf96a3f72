"""A busy scenic site's year of statistics (scenarios/tourism/statistics.py): how long the per-day figures for 366
days take to read and count, and that they add up to what was inserted — on SQLite and PostgreSQL.

The demo is loaded (its gate site and perk offer), then ``--offsets`` fulfilled tourism orders at the site by
``--visitors`` visitors, spread evenly over a year, and a perk voucher for each visitor (issued the day of their
first offset, redeemed a day later for every other one), inserted in bulk with Core. Then ``per_day`` runs for the
year, three times; the best and the worst are printed.

    .venv/bin/python bench/site_statistics.py [--offsets 100000] [--visitors 20000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, update  # noqa: E402

from backend import certificates, create_app  # noqa: E402
from backend.accounts.models import MiniUser  # noqa: E402
from backend.db import atomic, read  # noqa: E402
from backend.demo import load_demo  # noqa: E402
from backend.ledger.models import Transfer  # noqa: E402
from backend.orders.models import Order  # noqa: E402
from backend.shop.models import Listing  # noqa: E402
from bench.report import fail, finish, run_part  # noqa: E402
from bench.stores import fresh_stores  # noqa: E402
from scenarios.tourism import statistics  # noqa: E402
from scenarios.tourism.models import PerkOffer, PerkVoucher, Site, SiteOffset  # noqa: E402

INSERT_BATCH = 5_000
YEAR_START = datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing on New Year's Day


def _bulk(model, rows) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        atomic(lambda s, part=rows[start:start + INSERT_BATCH]: s.execute(insert(model), part))


def seed(offsets: int, visitors: int) -> tuple[int, int]:
    load_demo(YEAR_START, certificates.certify())
    listing = read(lambda s: s.execute(select(Listing)).scalars().first())
    reservation = read(lambda s: s.execute(select(Transfer.id).limit(1)).scalar_one())
    site_id, offer_id = read(lambda s: s.execute(select(Site.id, PerkOffer.id).join(
        PerkOffer, PerkOffer.site_id == Site.id)).first())
    first_user = read(lambda s: s.execute(select(func.coalesce(func.max(MiniUser.id), 0))).scalar_one()) + 1
    _bulk(MiniUser, [{"openid": f"bench-visitor-{n}", "created_at": YEAR_START, "last_login_at": YEAR_START}
                   for n in range(visitors)])
    step = timedelta(days=364) / offsets  # the last on 31 December, in Beijing
    orders = [{"order_no": f"TB{n:014d}", "idempotency_key": f"bench-{n}", "request_hash": "0" * 64,
               "listing_id": listing.id, "batch_id": listing.batch_id, "quantity_g": 5_000 + n % 20_000,
               "price_fen_per_t": listing.price_fen_per_t, "amount_fen": 99, "fee_bp": 500, "purpose": "tourism",
               "purpose_ref": f"site:{site_id}", "status": "fulfilled", "channel": "jsapi",
               "user_id": first_user + n % visitors, "reservation_id": reservation,
               "expires_at": YEAR_START, "paid_at": YEAR_START + n * step, "fulfilled_at": YEAR_START + n * step,
               "created_at": YEAR_START + n * step, "updated_at": YEAR_START + n * step} for n in range(offsets)]
    _bulk(Order, orders)
    ids = read(lambda s: s.execute(select(Order.id).where(Order.order_no.like("TB%")).order_by(Order.id))
               .scalars().all())
    _bulk(SiteOffset, [{"order_id": order_id, "site_id": site_id} for order_id in ids])
    # Each visitor's first offset is order n = visitor index (n % visitors): their voucher is issued then.
    _bulk(PerkVoucher, [{"offer_id": offer_id, "user_id": first_user + n, "year": 2026, "code": f"B{n:07d}",
                         "evidence": f"order:TB{n:014d}", "issued_at": YEAR_START + n * step,
                         "expires_at": YEAR_START + n * step + timedelta(days=90),
                         "redeemed_at": YEAR_START + n * step + timedelta(days=1) if n % 2 == 0 else None,
                         "redeemed_by": "staff:bench" if n % 2 == 0 else None} for n in range(visitors)])
    atomic(lambda s: s.execute(update(PerkOffer).where(PerkOffer.id == offer_id)
                               .values(issued=visitors, stock=None)))
    return site_id, sum(order["quantity_g"] for order in orders)


def measure(kind: str, offsets: int, visitors: int) -> None:
    with fresh_stores(kind, "site_statistics") as settings:
        app = create_app({**settings, "APP_ENV": "development", "JOB_WORKER_THREADS": 0, "VERIFY_EVERY_SECONDS": 0,
                          "SEQUENCER_INTERVAL_MS": 0})
        with app.app_context():
            began = time.perf_counter()
            site_id, grams = seed(offsets, visitors)
            print(f"  {kind}: {offsets:,} offsets by {visitors:,} visitors inserted in "
                  f"{time.perf_counter() - began:.1f} s", flush=True)
            timings = []
            for _ in range(3):
                began = time.perf_counter()
                figures = read(lambda s: statistics.per_day(s, site_id, date(2026, 1, 1), date(2026, 12, 31)))
                timings.append(time.perf_counter() - began)
            totals = figures["totals"]
            expected = {"visitors": visitors, "offsets": offsets, "retired_g": grams, "perks_issued": visitors,
                        "perks_redeemed": (visitors + 1) // 2}
            if totals != expected:
                fail(f"{kind}: the year's totals {totals} are not what was inserted {expected}")
            print(f"  {kind}: a year of days (365 rows, {offsets + visitors + (visitors + 1) // 2:,} records counted) "
                  f"in {min(timings) * 1000:.0f} ms best, {max(timings) * 1000:.0f} ms worst", flush=True)
        app.extensions["db_engine"].dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offsets", type=int, default=100_000)
    parser.add_argument("--visitors", type=int, default=20_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    began = time.perf_counter()
    print(f"A site's statistics for a year: {args.offsets:,} offsets, {args.visitors:,} visitors and vouchers")
    for kind in ("sqlite", "postgresql"):
        if args.only in (None, kind):
            run_part(kind, measure, kind, args.offsets, args.visitors)
    return finish(began)


if __name__ == "__main__":
    sys.exit(main())
