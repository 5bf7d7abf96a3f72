"""The verifiers the console runs as jobs: the audit chain (``audit verify``), the ledger's invariants (``ledger
check``) and the transparency log (``log verify``) — every VERIFY_EVERY_SECONDS on their own, and when a person asks.

A run is a row (admin.models.VerificationRun) written when it is asked for — owed from then, as the job contract
wants (backend/jobs.py) — and the job is only the prompt: a run asked for twice in one slot is one row (unique kind
and slot), a job delivered twice finds its run finished and does nothing, and each pass of the schedule queues
again what is still owed from earlier. Progress is written as the verifier goes, in its own short transactions, for
the progress bar. Its result is worded as its command words it, and keeps the first PROBLEMS_KEPT problems (the summary
says how many more, and which command lists them all). Each verifier's last result (``latest``) is shown on the
dashboard — red when it failed or, while the schedule is on, none has finished for two periods — on the verifiers'
page (admin/verification_pages.py, with the buttons), and beside what it checks: the audit page (audit, ledger) and
the certificates page (log).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from admin.models import VerificationRun
from backend import certificates, jobs
from backend.audit import log as audit_log
from backend.audit.models import AuditEvent
from backend.clock import as_utc
from backend.db import atomic, get_engine, read, snapshot
from backend.errors import InvalidInput
from backend.ledger.invariants import check
from backend.transparency.verify import check_log

log = logging.getLogger(__name__)
KINDS = {"audit": "审计链校验", "ledger": "账本不变量检查", "log": "透明日志校验"}
COMMANDS = {"audit": "flask audit verify", "ledger": "flask ledger check", "log": "flask log verify"}
PROBLEMS_KEPT = 50
OWED_AFTER = timedelta(minutes=10)  # asked for this long ago and never started: its job was lost, queue it again
STALLED_AFTER = timedelta(hours=1)  # started this long ago and not finished: its worker died mid-run, run it again


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput("kind", f"应为 {' / '.join(KINDS)} 之一 (one of {', '.join(KINDS)})")
    return kind


def ask(session: Session, now: datetime, kind: str, *, actor: str, slot: str | None = None) -> VerificationRun | None:
    """Record a run as owed; None if this kind's run of that slot was asked for already."""
    run = VerificationRun(kind=_kind(kind), slot=slot or f"by:{uuid.uuid4().hex}", requested_by=actor,
                          requested_at=now)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    jobs.enqueue_after_commit(session, ("console.verify", {"run_id": run.id}))
    return run


def ask_by_hand(kind: str, actor: str) -> VerificationRun:
    """A person's request; while a run of that kind is owed or under way, its page is the answer (pressing the
    button ten times starts one verification, not ten, each holding a snapshot)."""
    def work(session: Session) -> VerificationRun:
        waiting = session.execute(select(VerificationRun).where(
            VerificationRun.kind == _kind(kind), VerificationRun.finished_at.is_(None))
            .order_by(VerificationRun.id).limit(1)).scalar_one_or_none()
        return waiting or ask(session, current_app.config["CLOCK"](), kind, actor=actor)
    return atomic(work)


def _progress(run_id: int, done: int, total: int) -> None:
    atomic(lambda s: s.execute(update(VerificationRun).where(VerificationRun.id == run_id)
                               .values(done=done, total=total)))


def _reporter(run_id: int) -> Callable[[int, int], None]:
    """How a verifier reports progress as it goes. On SQLite its snapshot holds the database (one writer), so a
    progress write would wait for the verifier itself: there the bar moves only before and after."""
    if get_engine().dialect.name == "sqlite":
        return lambda done, total: None
    return lambda done, total: _progress(run_id, done, total)


def _audit(run_id: int) -> tuple[bool, str, list[str]]:
    clock, delay = current_app.config["CLOCK"], current_app.config["SEAL_DELAY_SECONDS"]
    total = read(lambda s: s.execute(select(func.coalesce(func.max(AuditEvent.seq), 0))).scalar_one())
    _progress(run_id, 0, total)
    report_progress = _reporter(run_id)
    with snapshot() as session:
        report = audit_log.verify(session, now=clock(), delay_seconds=delay,
                                  progress=lambda seq: report_progress(min(seq, total), total))
    _progress(run_id, total, total)
    if report.broken_at is not None:
        return False, (f"审计链在第 {report.broken_at} 条事件处断开 (audit chain BROKEN at event "
                       f"{report.broken_at})"), [report.problem or ""]
    if report.overdue:
        return False, "审计链完整，但有事件超时未封存 (intact but NOT SEALED IN TIME)", [report.overdue]
    waiting = report.unsealed.count
    return True, (f"审计链完整：{report.length} 条事件 (audit chain intact: {report.length} event(s))"
                  + (f"；另有 {waiting} 条等待封存 ({waiting} more waiting for the sealer)" if waiting else "")), []


def _ledger(run_id: int) -> tuple[bool, str, list[str]]:
    with snapshot() as session:
        violations = check(session, now=current_app.config["CLOCK"](),
                           delay_seconds=current_app.config["SEAL_DELAY_SECONDS"], progress=_reporter(run_id))
    _progress(run_id, 1, 1)
    if violations:
        return False, (f"账本检查未通过：{len(violations)} 项违反 (ledger check FAILED: {len(violations)} "
                       "violation(s))"), [str(v) for v in violations]
    return True, "账本检查通过：所有不变量成立 (ledger check passed: every invariant holds)", []


def _log(run_id: int) -> tuple[bool, str, list[str]]:
    with snapshot() as session:
        violations = check_log(session, certificates.key_ring().jwks(), now=current_app.config["CLOCK"](),
                               delay_seconds=current_app.config["SEAL_DELAY_SECONDS"])
    _progress(run_id, 1, 1)
    if violations:
        return False, (f"透明日志校验未通过：{len(violations)} 处问题 (log verify FAILED: {len(violations)} "
                       "problem(s))"), [str(v) for v in violations]
    return True, ("透明日志校验通过：每个叶子、节点和签名树头都相符 (transparency log verified: every leaf, node and "
                  "signed tree head matches)"), []


VERIFIERS = {"audit": _audit, "ledger": _ledger, "log": _log}


@jobs.job("console.verify")
def run(run_id: int) -> None:
    """Run an owed verification; one already finished (a job delivered twice) is left as it is."""
    now = current_app.config["CLOCK"]
    record = read(lambda s: s.get(VerificationRun, run_id))
    if record is None or record.finished_at is not None:
        return
    atomic(lambda s: s.execute(update(VerificationRun).where(VerificationRun.id == run_id)
                               .values(started_at=now(), done=0, total=0)))
    try:
        ok, summary, problems = VERIFIERS[record.kind](run_id)
    except Exception as error:  # noqa: BLE001 — a verifier that breaks on what it reads has found something
        log.exception("verification %s (%s) broke", run_id, record.kind)
        ok, summary, problems = False, f"校验程序出错，未能完成 (the verifier broke: {type(error).__name__})", [
            str(error)[:500]]
    if len(problems) > PROBLEMS_KEPT:
        more, command = len(problems) - PROBLEMS_KEPT, COMMANDS[record.kind]
        summary += f"；另有 {more} 项未列出，请在命令行运行 {command} 查看全部 ({more} more: run {command})"
    atomic(lambda s: s.execute(update(VerificationRun).where(VerificationRun.id == run_id).values(
        finished_at=now(), ok=ok, summary=summary[:500], problems=[p[:500] for p in problems[:PROBLEMS_KEPT]])))


@jobs.job("console.verify_all")
def every_period(slot: int) -> None:
    """The schedule's pass: one run of each verifier for this slot, and the runs still owed from before again."""
    def work(session: Session) -> None:
        now = current_app.config["CLOCK"]()
        for kind in KINDS:
            ask(session, now, kind, actor="schedule", slot=f"every:{slot}")
        owed = session.execute(select(VerificationRun.id).where(
            VerificationRun.finished_at.is_(None),
            or_(and_(VerificationRun.started_at.is_(None), VerificationRun.requested_at < now - OWED_AFTER),
                VerificationRun.started_at < now - STALLED_AFTER))).scalars()
        jobs.enqueue_after_commit(session, *[("console.verify", {"run_id": run_id}) for run_id in owed])
    atomic(work)


def latest(session: Session, now: datetime, kinds: tuple[str, ...] = tuple(KINDS)) -> list[dict[str, Any]]:
    """Each verifier's last finished run, how many are under way, and whether to show it red: it failed, or the
    schedule is on and none has finished for two periods (the schedule has stopped)."""
    every = timedelta(seconds=current_app.config["VERIFY_EVERY_SECONDS"])
    found = []
    for kind in kinds:
        last = session.execute(select(VerificationRun).where(VerificationRun.kind == kind,
                                                             VerificationRun.finished_at.is_not(None))
                               .order_by(VerificationRun.finished_at.desc(), VerificationRun.id.desc())
                               .limit(1)).scalar_one_or_none()
        running = session.execute(select(func.count()).select_from(VerificationRun).where(
            VerificationRun.kind == kind, VerificationRun.finished_at.is_(None))).scalar_one()
        stale = bool(every) and (last is None or as_utc(last.finished_at) < now - 2 * every)
        found.append({"kind": kind, "label": KINDS[kind], "command": COMMANDS[kind], "last": last, "running": running,
                      "alert": (last is not None and not last.ok) or stale, "stale": stale})
    return found


def recent(session: Session, *, limit: int = 30) -> list[VerificationRun]:
    return list(session.execute(select(VerificationRun).order_by(VerificationRun.id.desc()).limit(limit)).scalars())


def get(session: Session, run_id: int) -> VerificationRun | None:
    return session.get(VerificationRun, run_id)


def init_app(app) -> None:
    jobs.periodic("console.verify_all", "VERIFY_EVERY_SECONDS")
