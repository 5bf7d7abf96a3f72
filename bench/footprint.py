"""Footprint calculators: time per calculation, pure and through HTTP, and what a 10,000-record event costs.

event (pure): one event at 成都 with ``--records`` participant-travel records, made from ``--seed``: every mode
(high-speed rail, flight in every cabin, car, bus, train, metro), four in five from an origin adcode drawn from the
factor set's places, the rest by distance, most of them return journeys; plus venue energy, organiser vehicles,
accommodation, catering, materials (one custom) and waste. Timed, each ``--runs`` times with a full garbage
collection before each run, the median reported: ``Input.model_validate`` on the dict, ``model_validate_json`` on
its JSON (strict, as the HTTP layer validates), and ``event.calculate`` on the validated inputs (whole calculation,
and per record). Peak memory: tracemalloc over one calculation (inputs already validated), and over JSON validation
+ calculation, in runs of their own, since tracing slows everything down.

household (pure): ``--households`` distinct bodies (region drawn from every adcode the calculators accept, or
none; factor year 2021–2023 or the latest; electricity, gas, water, LPG and heat in varying amounts), each
validated and calculated once; per-calculation mean, p50 and p99 of ``calculate`` alone and of validation plus it.

household (HTTP): the same bodies POSTed one after another to ``/api/v1/footprint/household`` through Flask's test
client, on ``create_app`` with a fresh SQLite file migrated by ``backend.migrate.upgrade``, REDIS_URL unset (the
in-process stand-in), APP_ENV test and a rate limit so high that the limiter counts every request but refuses none.
A request is: the test client building the WSGI environ, strict JSON validation, the rate-limit INCR, the
calculation, one transaction storing it, the JSON answer. Per-request mean, p50 and p99, and requests per second
(one client, one thread). Then the 10,000-record event POSTed once: body and answer size, time. ``--pg`` repeats both
on PostgreSQL (a fresh ``bench_*`` schema in the ``test`` database) with the real Redis (db 14, a key prefix of
its own). Every answer must be 200 and every calculation must be stored exactly once.

    .venv/bin/python bench/footprint.py [--records N] [--households N] [--runs N] [--seed S] [--pg]

Everything is created fresh (a temp directory for SQLite and key files, a ``bench_*`` schema, Redis keys under a
``bench-fp-*`` prefix) and removed at exit. Exit 1 if anything failed.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from report import cpu_model, fail, finish, percentile, run_part  # bench/report.py, beside this script
from stores import PG_URL, REDIS_URL, fresh_stores  # bench/stores.py
from sqlalchemy import create_engine, func, select, text

from backend import create_app
from backend.db import read
from backend.footprint import library
from backend.footprint.calculators import event, household
from backend.footprint.models import FootprintCalculation
from backend.registry.adcode import divisions

VENUE = "510100"  # 成都市
WARM_UP_REQUESTS = 20  # load the factor set, open connections, fill caches; not timed, but stored

# Participant travel of a big-city event: (mode, share, one-way km range when given by distance).
MODES = [("hsr", 0.35, (100, 1800)), ("flight", 0.2, (500, 9000)), ("car", 0.15, (5, 400)),
         ("bus", 0.15, (2, 60)), ("train", 0.1, (100, 2500)), ("metro", 0.05, (2, 40))]
CABINS = [("economy", 0.8), ("premium_economy", 0.05), ("business", 0.1), ("first", 0.05)]




def pick(rng: random.Random, weighted: list[tuple]) -> tuple:
    return rng.choices(weighted, weights=[item[1] for item in weighted])[0]


# ----------------------------------------------------------------------------------------------------------------
# Inputs


def event_body(records: int, seed: int) -> dict:
    """An event with ``records`` participant-travel records, the same for the same seed."""
    rng = random.Random(seed)
    places = sorted(library.parse(library.packaged_files()).places)
    travel = []
    for _ in range(records):
        mode, _, (low, high) = pick(rng, MODES)
        record = {"mode": mode, "count": rng.randint(1, 40), "round_trip": rng.random() < 0.85}
        if rng.random() < 0.8:
            record["origin"] = rng.choice(places)
        else:
            record["distance_km"] = f"{rng.uniform(low, high):.1f}"
        if mode == "flight":
            record["cabin"] = pick(rng, CABINS)[0]
        travel.append(record)
    return {
        "name": "2026 成都马拉松（碳中和）", "stage": "final", "venue": VENUE, "year": 2023,
        "participants": sum(record["count"] for record in travel),
        "venue_energy": {"electricity_kwh": "182500", "natural_gas_m3": "3200", "diesel_l": "850"},
        "organiser_vehicles": [{"mode": "car", "fuel": "diesel", "litres": "2400"},
                               {"mode": "car", "fuel": "electric", "kwh": "5200"},
                               {"mode": "flight", "from": "PEK", "to": "TFU", "passengers": 12, "round_trip": True}],
        "participant_travel": travel,
        "accommodation_room_nights": "18500",
        "catering": {"meat": 30000, "meat_light": 12000, "vegetarian": 4000},
        "materials": [{"kind": "paper", "kg": "1200"}, {"kind": "plastic", "kg": "640"},
                      {"kind": "custom", "name": "完赛奖牌", "quantity": "30000", "unit": "枚",
                       "kgco2e_per_unit": "0.35", "source": "供应商产品碳足迹声明 2025"}],
        "waste_kg": "42000",
    }


def household_bodies(count: int, seed: int) -> list[dict]:
    """``count`` distinct household bills: any accepted region or none, any factor year or the latest."""
    rng = random.Random(seed + 1)
    regions = sorted(divisions())
    years = library.parse(library.packaged_files()).years("electricity.grid")
    bodies, seen = [], set()
    while len(bodies) < count:
        body = {}
        if rng.random() < 0.9:
            body["region"] = rng.choice(regions)
        if rng.random() < 0.5:
            body["year"] = rng.choice(years)
        body["electricity_kwh"] = f"{rng.uniform(20, 2500):.1f}"
        for name, high, chance in (("natural_gas_m3", 120, 0.7), ("water_t", 40, 0.6), ("lpg_kg", 30, 0.1),
                                   ("heating_gj", 25, 0.2)):
            if rng.random() < chance:
                body[name] = f"{rng.uniform(0, high):.2f}"
        key = json.dumps(body, sort_keys=True)
        if key not in seen:
            seen.add(key)
            bodies.append(body)
    return bodies


# ----------------------------------------------------------------------------------------------------------------
# Pure calculators


@dataclass
class EventPure:
    records: int
    validate_dict_s: float
    validate_json_s: float
    calculate_s: list[float]
    body_bytes: int
    result_bytes: int
    lines: int
    total_g: int
    peak_calculate_bytes: int = 0
    peak_json_bytes: int = 0


def bench_event_pure(body: dict, runs: int) -> EventPure:
    records = len(body["participant_travel"])
    print(f"event (pure): {records:,} participant records, {runs} runs", flush=True)
    factors = library.parse(library.packaged_files()).numbered(1)
    raw = json.dumps(body, ensure_ascii=False).encode()
    inputs = event.Input.model_validate(body)
    validate_dict = statistics.median(timed(lambda: event.Input.model_validate(body), runs))
    validate_json = statistics.median(timed(lambda: event.Input.model_validate_json(raw, strict=True), runs))
    times = timed(lambda: event.calculate(inputs, factors), runs)
    result = event.calculate(inputs, factors)
    again = event.calculate(event.Input.model_validate(body), factors)
    if again != result:
        fail("event: two calculations of one body differ")
    measured = EventPure(records, validate_dict, validate_json, times, len(raw),
                         len(json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode()),
                         len(result["breakdown"]),
                         result["total_g"])
    measured.peak_calculate_bytes = peak_bytes(lambda: event.calculate(inputs, factors))
    measured.peak_json_bytes = peak_bytes(
        lambda: event.calculate(event.Input.model_validate_json(raw, strict=True), factors))
    print(f"  median {statistics.median(times) * 1000:.1f} ms; total {result['total_g']:,} g in "
          f"{len(result['breakdown'])} lines", flush=True)
    return measured


def timed(work: Callable[[], object], runs: int) -> list[float]:
    """Seconds per run; a full collection before each, so that one run's garbage is not collected in the next."""
    times = []
    for _ in range(runs):
        gc.collect()
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return times


def peak_bytes(work: Callable[[], object]) -> int:
    """The most memory Python allocated at once while ``work`` ran, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        kept = work()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del kept
    return peak - before


@dataclass
class HouseholdPure:
    calculate_s: list[float] = field(default_factory=list)
    validate_and_calculate_s: list[float] = field(default_factory=list)


def bench_household_pure(bodies: list[dict]) -> HouseholdPure:
    print(f"household (pure): {len(bodies):,} bodies", flush=True)
    factors = library.parse(library.packaged_files()).numbered(1)
    for body in bodies[:WARM_UP_REQUESTS]:
        household.calculate(household.Input.model_validate(body), factors)
    measured = HouseholdPure()
    for body in bodies:
        began = time.perf_counter()
        inputs = household.Input.model_validate(body)
        validated = time.perf_counter()
        household.calculate(inputs, factors)
        done = time.perf_counter()
        measured.calculate_s.append(done - validated)
        measured.validate_and_calculate_s.append(done - began)
    print(f"  calculate {statistics.fmean(measured.calculate_s) * 1e6:.0f} µs mean", flush=True)
    return measured


# ----------------------------------------------------------------------------------------------------------------
# Through HTTP


@dataclass
class HttpResult:
    backend: str
    elapsed_s: float = 0.0
    request_s: list[float] = field(default_factory=list)
    stored: int = 0
    event_s: float = 0.0
    event_body_bytes: int = 0
    event_answer_bytes: int = 0

    @property
    def rate(self) -> float:
        return len(self.request_s) / self.elapsed_s if self.elapsed_s else 0.0


def bench_http(backend: str, bodies: list[dict], warm_up: list[dict], event_json: bytes) -> HttpResult:
    print(f"HTTP on {backend}: {len(bodies):,} household requests, then the event", flush=True)
    result = HttpResult(backend)
    with fresh_stores(backend) as stores:
        app = create_app({"APP_ENV": "test", "PUBLIC_RATE_LIMIT_PER_MINUTE": 1_000_000_000, **stores})
        try:
            client = app.test_client()
            for body in warm_up:
                expect_200(client.post("/api/v1/footprint/household", json=body), "household warm-up")
            payloads = [json.dumps(body).encode() for body in bodies]  # encoding is the client's work, not timed
            started = time.perf_counter()
            for payload in payloads:
                began = time.perf_counter()
                response = client.post("/api/v1/footprint/household", data=payload,
                                       content_type="application/json")
                result.request_s.append(time.perf_counter() - began)
                if response.status_code != 200:
                    expect_200(response, "household")
                    break
            result.elapsed_s = time.perf_counter() - started
            began = time.perf_counter()
            response = client.post("/api/v1/footprint/event", data=event_json, content_type="application/json")
            result.event_s = time.perf_counter() - began
            expect_200(response, "event")
            result.event_body_bytes, result.event_answer_bytes = len(event_json), len(response.get_data())
            engine = app.extensions["db_engine"]
            result.stored = read(lambda s: s.execute(select(func.count()).select_from(FootprintCalculation))
                                 .scalar_one(), engine=engine)
            expected = len(warm_up) + len(bodies) + 1
            if result.stored != expected:
                fail(f"{backend}: {result.stored:,} calculations stored, expected {expected:,}")
        finally:
            app.extensions["db_engine"].dispose()
    print(f"  {result.rate:.0f} req/s; event {result.event_s * 1000:.0f} ms", flush=True)
    return result


def expect_200(response, what: str) -> None:
    if response.status_code != 200:
        fail(f"{what}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")


# ----------------------------------------------------------------------------------------------------------------
# Report



def machine_context(pg: bool) -> str:
    parts = [f"CPUs {os.cpu_count()} ({cpu_model()})", f"load average {os.getloadavg()[0]:.2f}",
             f"Python {platform.python_version()}"]
    parts += [f"{package} {importlib.metadata.version(package)}" for package in ("flask", "pydantic", "sqlalchemy")]
    if pg:
        try:
            admin = create_engine(PG_URL)
            with admin.connect() as connection:
                version, fsync, synchronous = connection.execute(text(
                    "SELECT current_setting('server_version'), current_setting('fsync'), "
                    "current_setting('synchronous_commit')")).one()
            admin.dispose()
            # Each stored calculation is a commit: whether it waits for the WAL flush decides much of its time.
            parts.append(f"PostgreSQL {version.split()[0]} (fsync {fsync}, synchronous_commit {synchronous})")
        except Exception as error:  # noqa: BLE001 — context only; the run reports its own failure
            parts.append(f"PostgreSQL unreachable ({type(error).__name__})")
        try:
            parts.append("Redis " + redis.Redis.from_url(REDIS_URL).info("server")["redis_version"])
        except redis.RedisError as error:
            parts.append(f"Redis unreachable ({type(error).__name__})")
    return "; ".join(parts)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def print_pure(measured: EventPure | None, households: HouseholdPure | None) -> None:
    if measured:
        median = statistics.median(measured.calculate_s)
        print(f"event, {measured.records:,} participant records ({measured.body_bytes:,} bytes of JSON) → "
              f"{measured.lines} lines, {measured.total_g:,} g; the result as compact JSON {measured.result_bytes:,} "
              "bytes")
        print(f"{'step':<36} {'ms':>9} {'µs / record':>12}")
        for name, seconds in (("Input.model_validate (dict), median", measured.validate_dict_s),
                              ("model_validate_json strict, median", measured.validate_json_s),
                              (f"calculate, median of {len(measured.calculate_s)}", median),
                              ("calculate, fastest", min(measured.calculate_s))):
            print(f"{name:<36} {seconds * 1000:>9.1f} {seconds / measured.records * 1e6:>12.2f}")
        print(f"peak memory (tracemalloc): calculate {measured.peak_calculate_bytes / 2**20:.1f} MiB; "
              f"JSON validation + calculate {measured.peak_json_bytes / 2**20:.1f} MiB")
    if households:
        print()
        print(f"household, {len(households.calculate_s):,} distinct bodies, pure function")
        print(f"{'per calculation (ms)':<34} {'mean':>9} {'p50':>9} {'p99':>9} {'per s':>9}")
        for name, values in (("calculate", households.calculate_s),
                             ("model_validate + calculate", households.validate_and_calculate_s)):
            mean = statistics.fmean(values)
            print(f"{name:<34} {ms(mean):>9} {ms(percentile(values, 0.5)):>9} {ms(percentile(values, 0.99)):>9} "
                  f"{1 / mean:>9,.0f}")


def print_http(results: list[HttpResult], records: int) -> None:
    print("household through HTTP (Flask test client, one thread): validation, rate limit, calculation, stored")
    print(f"{'backend':<11} {'requests':>9} {'req/s':>8} {'mean ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'stored':>8}")
    for result in results:
        if not result.request_s:
            continue
        print(f"{result.backend:<11} {len(result.request_s):>9,} {result.rate:>8.0f} "
              f"{ms(statistics.fmean(result.request_s)):>9} {ms(percentile(result.request_s, 0.5)):>8} "
              f"{ms(percentile(result.request_s, 0.99)):>8} {result.stored:>8,}")
    print()
    print("the event through HTTP, once")
    print(f"{'backend':<11} {'records':>8} {'body bytes':>11} {'answer bytes':>13} {'ms':>8} {'µs / record':>12}")
    for result in results:
        if result.event_s:
            print(f"{result.backend:<11} {records:>8,} {result.event_body_bytes:>11,} {result.event_answer_bytes:>13,} "
                  f"{result.event_s * 1000:>8.1f} {result.event_s / records * 1e6:>12.2f}")
    print("stored: rows in footprint_calculation afterwards (warm-up requests and the event included).")



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="participant records of the event (default "
                                                                    "10,000; the API takes up to 20,000)")
    parser.add_argument("--households", type=int, default=10_000, help="household calculations (default 10,000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of the event calculation (default 7)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated inputs (default 2026)")
    parser.add_argument("--pg", action="store_true", help="also through HTTP on PostgreSQL + Redis")
    args = parser.parse_args()
    if not 1 <= args.records <= 20_000 or args.households < 1 or args.runs < 1:
        parser.error("--records must be 1–20,000; --households and --runs positive")

    began = time.perf_counter()
    context = machine_context(args.pg)
    print("footprint benchmark; " + context + " (anything else running skews every figure)", flush=True)
    body = event_body(args.records, args.seed)
    bodies = household_bodies(args.households + WARM_UP_REQUESTS, args.seed)
    warm_up, bodies = bodies[:WARM_UP_REQUESTS], bodies[WARM_UP_REQUESTS:]
    event_json = json.dumps(body, ensure_ascii=False).encode()

    measured = run_part("event pure", bench_event_pure, body, args.runs)
    households = run_part("household pure", bench_household_pure, bodies)
    http = [result for backend in ("sqlite", "postgresql") if backend == "sqlite" or args.pg
            if (result := run_part(f"http {backend}", bench_http, backend, bodies, warm_up, event_json))]

    print()
    print(context)
    print()
    print_pure(measured, households)
    if http:
        print()
        print_http(http, args.records)
    return finish(began)


if __name__ == "__main__":
    sys.exit(main())
