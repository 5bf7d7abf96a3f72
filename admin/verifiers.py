"""The console's verifiers — ``flask audit verify``, ``flask ledger check``, ``flask log verify`` — each run as its
command runs it (the same domain function on one snapshot, with the same sealing delay), and the last result of each
kept for the pages to show: whether it passed, what it found, when it ran and who ran it.

Each verifier is one small function of no arguments returning an ``Outcome``, so that a later step can run them as
scheduled jobs (backend/jobs.py) with a progress bar instead of inside the request. The last results live in Redis:
a verdict is made again by running the verifier, so losing one costs a rerun, nothing more (DESIGN.md §7).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

import redis
from flask import current_app

from backend import audit, certificates
from backend.cache import get_redis, key
from backend.clock import CHINA, isoformat_utc
from backend.db import snapshot
from backend.ledger.invariants import check
from backend.transparency.verify import check_log

log = logging.getLogger(__name__)
SHOWN_PROBLEMS = 50  # a tampered table can give thousands of problems; the command line has them all


@dataclass(frozen=True)
class Outcome:
    ok: bool
    summary: str
    problems: list[str] = field(default_factory=list)


def _clock_and_delay():
    return current_app.config["CLOCK"](), current_app.config["SEAL_DELAY_SECONDS"]


def audit_chain() -> Outcome:
    """``flask audit verify``: the hash chain from its first event, and no event left unsealed too long."""
    now, delay = _clock_and_delay()
    with snapshot() as session:
        report = audit.verify(session, now=now, delay_seconds=delay)
    if report.broken_at is not None:
        return Outcome(False, f"审计链在第 {report.broken_at} 条事件处断开 (audit chain BROKEN at event "
                              f"{report.broken_at})", [report.problem])
    if report.overdue:
        return Outcome(False, "审计链完整，但有事件超时未封存 (intact but NOT SEALED IN TIME)", [report.overdue])
    waiting = report.unsealed
    return Outcome(True, f"审计链完整：{report.length} 条事件 (audit chain intact: {report.length} event(s))"
                         + (f"；另有 {waiting.count} 条等待封存 ({waiting.count} more waiting for the sealer)"
                            if waiting.count else ""))


def ledger() -> Outcome:
    """``flask ledger check``: every invariant of the ledger, the certificates and the scenarios."""
    now, delay = _clock_and_delay()
    with snapshot() as session:
        violations = check(session, now=now, delay_seconds=delay)
    if violations:
        return Outcome(False, f"账本检查未通过：{len(violations)} 项违反 (ledger check FAILED: {len(violations)} "
                              "violation(s))", [str(v) for v in violations])
    return Outcome(True, "账本检查通过：所有不变量成立 (ledger check passed: every invariant holds)")


def transparency_log() -> Outcome:
    """``flask log verify``: the log rebuilt from the certificates; every leaf, node and signed tree head checked
    against this app's published keys."""
    now, delay = _clock_and_delay()
    jwks = certificates.key_ring().jwks()
    with snapshot() as session:
        violations = check_log(session, jwks, now=now, delay_seconds=delay)
    if violations:
        return Outcome(False, f"透明日志校验未通过：{len(violations)} 处问题 (log verify FAILED: {len(violations)} "
                              "problem(s))", [str(v) for v in violations])
    return Outcome(True, "透明日志校验通过：每个叶子、节点和签名树头都相符 (transparency log verified: every leaf, "
                         "node and signed tree head matches)")


@dataclass(frozen=True)
class Verifier:
    name: str
    label: str
    command: str
    run: Callable[[], Outcome]


VERIFIERS = {verifier.name: verifier for verifier in (
    Verifier("audit_verify", "审计链校验", "flask audit verify", audit_chain),
    Verifier("ledger_check", "账本不变量检查", "flask ledger check", ledger),
    Verifier("log_verify", "透明日志校验", "flask log verify", transparency_log),
)}


@dataclass(frozen=True)
class Result:
    """One run of a verifier, as the pages show it."""

    name: str
    ok: bool
    summary: str
    problems: list[str]
    """The first SHOWN_PROBLEMS of them."""
    problem_count: int
    ran_at: str
    """When it ran (UTC, ISO 8601)."""
    ran_by: str
    seconds: float

    @property
    def verifier(self) -> Verifier:
        return VERIFIERS[self.name]

    @property
    def ran_at_beijing(self) -> str:
        return datetime.fromisoformat(self.ran_at.replace("Z", "+00:00")).astimezone(CHINA).strftime(
            "%Y-%m-%d %H:%M:%S")


def _key(name: str) -> str:
    return key("console", "verifier", name)


def run(name: str, *, actor: str) -> Result:
    """Run the verifier now and keep its result as the last one."""
    started, at = time.monotonic(), current_app.config["CLOCK"]()
    outcome = VERIFIERS[name].run()
    result = Result(name, outcome.ok, outcome.summary, outcome.problems[:SHOWN_PROBLEMS], len(outcome.problems),
                    isoformat_utc(at), actor, round(time.monotonic() - started, 3))
    try:
        get_redis().set(_key(name), json.dumps(asdict(result), ensure_ascii=False))
    except redis.RedisError as error:
        log.warning("verifier result not kept, Redis unavailable: %s", error)
    return result


def last(name: str) -> Result | None:
    """The verifier's last result, or None if it has not run (or Redis lost it)."""
    try:
        kept = get_redis().get(_key(name))
    except redis.RedisError as error:
        log.warning("verifier result unavailable, Redis unavailable: %s", error)
        return None
    return None if kept is None else Result(**json.loads(kept))
