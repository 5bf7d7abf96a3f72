"""What signing in and proving who you are cost: argon2id, a web sign-in, and a token-authenticated API request
compared with the single shared operator token it replaced.

argon2id: ``--hashes`` hashes and verifications with the parameters the app uses (argon2-cffi's defaults, RFC 9106's
second recommended set: t=3, 64 MiB, p=4): wall and CPU time each, and a verification for an unknown username
(the dummy hash), which must cost the same so that timing does not tell whether an account exists.

Sign-in (in-process, Flask's test client, one thread): GET /admin/login, then POST it with the CSRF token, the
right password and a fresh client each time (address limits raised so nothing is refused): milliseconds per
sign-in, and sign-ins a second for one thread and, from argon2's CPU time, the ceiling of the machine's cores.

API request (in-process, one thread): ``--requests`` GETs of /api/admin/v1/methodologies (a small handler reading
one short table) three ways on the same app and stores:
- personal token: the permission table, the token's SHA-256 looked up with the account and its roles in one
  query (its last use noted at most once a minute);
- shared token: today's baseline before this change, the same route guarded by a constant-time comparison with
  one configured token (the permission check swapped for that, in this process only);
- no check: the route made public, the floor.
Median and p99 per request and the SQL statements each sends. Then a page with a signed-in session cookie
(GET /admin/). On SQLite with the Redis stand-in and, with ``--pg``, PostgreSQL + the real Redis.

    .venv/bin/python bench/auth.py [--hashes N] [--signins N] [--requests N] [--pg]

Exit 1 if a request failed or a measurement broke.
"""

from __future__ import annotations

import argparse
import hmac
import re
import statistics
import sys
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from report import cpu_model, fail, finish, percentile, run_part  # bench/report.py, beside this script
from sqlalchemy import event
from stores import fresh_stores  # bench/stores.py

from backend import create_app
from backend.access import policy
from backend.access.rules import Public
from backend.db import atomic, get_engine
from backend.errors import Unauthorized
from backend.staff import passwords, service, tokens

PASSWORD = "bench-password-2026"
SHARED_TOKEN = "shared-operator-token-of-forty-characters-x"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def argon2_costs(count: int) -> None:
    hasher = PasswordHasher()
    print(f"\nargon2id (t={hasher.time_cost}, m={hasher.memory_cost // 1024} MiB, p={hasher.parallelism}), "
          f"{count} each:")
    made, walls, cpus = [], [], []
    for _ in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        made.append(passwords.hash_password(PASSWORD))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(f"  hash                       {ms(statistics.median(walls))} wall, {ms(statistics.median(cpus))} CPU")
    for label, stored, candidate, want in (("verify, right password", made[0], PASSWORD, True),
                                           ("verify, wrong password", made[0], "not-the-password", False),
                                           ("verify, unknown username", None, PASSWORD, False)):
        walls, cpus = [], []
        for _ in range(count):
            wall, cpu = time.perf_counter(), time.process_time()
            got = passwords.verify_password(stored, candidate)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            if got is not want:
                fail(f"argon2 {label}: got {got}")
        print(f"  {label:<26} {ms(statistics.median(walls))} wall, {ms(statistics.median(cpus))} CPU")


@dataclass
class Timed:
    samples: list[float]

    def line(self) -> str:
        return f"median {ms(statistics.median(self.samples))}, p99 {ms(percentile(self.samples, 0.99))}"


def count_statements(engine) -> list[int]:
    counter = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args, **_kwargs):
        counter[0] += 1
    return counter


def sign_ins(app, count: int) -> Timed:
    samples = []
    for _ in range(count):
        client = app.test_client()
        started = time.perf_counter()
        form = client.get("/admin/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = client.post("/admin/login", data={"username": "bench-admin", "password": PASSWORD,
                                                     "csrf_token": csrf})
        samples.append(time.perf_counter() - started)
        if response.status_code != 302 or response.headers["Location"] != "/admin/":
            fail(f"sign-in answered {response.status_code} {response.headers.get('Location')}")
            break
    return Timed(samples)


def timed_gets(client, path: str, headers: dict, count: int, counter: list[int]) -> tuple[Timed, float]:
    samples, before = [], counter[0]
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            fail(f"GET {path} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
            break
    return Timed(samples), (counter[0] - before) / max(1, len(samples))


@dataclass(frozen=True)
class SharedToken:
    """The check every operator route had before personal tokens: one configured token, compared in constant
    time."""

    def authorise(self) -> None:
        from flask import request

        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), SHARED_TOKEN.encode()):
            raise Unauthorized("operator token required")


def requests(kind: str, counts: argparse.Namespace) -> None:
    with fresh_stores(kind, "auth") as stores:
        app = create_app({"TESTING": True, "APP_ENV": "test", "SECRET_KEY": "bench-secret",
                          "SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE": 1_000_000, **stores})
        with app.app_context():
            password_hash = passwords.hash_password(PASSWORD)

            def make(session):
                account = service.create_account(session, app.config["CLOCK"](), username="bench-admin",
                                                 display_name="bench", password_hash=password_hash, actor="bench")
                service.grant(session, app.config["CLOCK"](), account=account, role="admin", organisation_id=None,
                              actor="bench")
                return tokens.issue(session, app.config["CLOCK"](), account=account, name="bench", days=30,
                                    actor="bench")[1]
            secret = atomic(make)
            counter = count_statements(get_engine())
        print(f"\n{kind}: {app.config['DATABASE_URL'].split('?')[0]}, Redis {app.config['REDIS_URL'] or 'stand-in'}")
        signed = sign_ins(app, counts.signins)
        per = statistics.median(signed.samples)
        print(f"  sign-in (form + POST)      {signed.line()}: {1 / per:.1f}/s on one thread")

        client, path, endpoint = app.test_client(), "/api/admin/v1/methodologies", "admin_api.list_methodologies"
        client.get(path, headers={"Authorization": f"Bearer {secret}"})  # warm: connections, caches
        rule = policy.POLICY[endpoint]
        results = {}
        try:
            results["personal token"] = timed_gets(client, path, {"Authorization": f"Bearer {secret}"},
                                                   counts.requests, counter)
            policy.POLICY[endpoint] = SharedToken()
            results["shared token (before)"] = timed_gets(client, path, {"Authorization": f"Bearer {SHARED_TOKEN}"},
                                                          counts.requests, counter)
            policy.POLICY[endpoint] = Public()
            results["no check (floor)"] = timed_gets(client, path, {}, counts.requests, counter)
        finally:
            policy.POLICY[endpoint] = rule
        floor = statistics.median(results["no check (floor)"][0].samples)
        for label, (timed, statements) in results.items():
            extra = statistics.median(timed.samples) - floor
            print(f"  GET {path} · {label:<22} {timed.line()}, {statements:.1f} SQL statements, "
                  f"+{extra * 1e6:.0f} µs over no check")
        page_client = app.test_client()
        form = page_client.get("/admin/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        page_client.post("/admin/login", data={"username": "bench-admin", "password": PASSWORD, "csrf_token": csrf})
        page, statements = timed_gets(page_client, "/admin/", {}, counts.requests, counter)
        print(f"  GET /admin/ (session cookie)  {page.line()}, {statements:.1f} SQL statements")
        get_engine_of(app).dispose()


def get_engine_of(app):
    return app.extensions["db_engine"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=20)
    parser.add_argument("--signins", type=int, default=30)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL + Redis")
    counts = parser.parse_args()
    began = time.perf_counter()
    print(f"bench/auth.py on {cpu_model()}, Python {sys.version.split()[0]}")
    run_part("argon2", argon2_costs, counts.hashes)
    run_part("sqlite", requests, "sqlite", counts)
    if counts.pg:
        run_part("postgresql", requests, "postgresql", counts)
    return finish(began)


if __name__ == "__main__":
    sys.exit(main())
