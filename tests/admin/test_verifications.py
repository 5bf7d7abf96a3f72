"""Worked examples: the console's verifiers, run as jobs (admin/verifications.py).

On 植树节 a reviewer asks for a ledger check: a run is recorded owed, its page waits (and reloads itself) until a job
worker has run it, then shows it passed with its progress bar full. Someone edits the audit trail behind the chain's
back: audit verify fails, and the dashboard shows it red. A job delivered twice leaves its finished run as it was.
With the schedule on, each slot of time is queued once however many workers look, and makes one run of each
verifier; a run whose job Redis lost is queued again by the next pass; a verifier that has not finished for two
periods shows red. The auditor, who changes nothing, may run them all; a kind that does not exist is not found.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from admin import verifications
from admin.models import VerificationRun
from backend import jobs
from backend.audit.models import AuditEvent
from backend.cache import get_redis_bytes
from backend.db import read
from tests.admin.test_audit_pages import chain_seqs, register_methodologies
from tests.admin.test_certificate_pages import signed_in
from tests.admin.verifying import run_verifier
from tests.staff.conftest import Browser, Page, People
from tests.tampering import tamper

HOUR = 3600


@pytest.fixture
def people(app, password_hash) -> People:
    return People(app, password_hash)


def runs(app) -> list[VerificationRun]:
    with app.app_context():
        return read(lambda s: list(s.execute(select(VerificationRun).order_by(VerificationRun.id)).scalars()))


def progress(page: Page) -> tuple[int, int]:
    done, total = re.search(r'<progress id="progress" value="(\d+)" max="(\d+)"', page.html).groups()
    return int(done), int(total)


def on_dashboard(page: Page, kind: str) -> str:
    """How the dashboard shows the verifier: "alert" (red) or "note"."""
    return re.search(rf'<li class="(\w+)" id="verifier-{kind}">', page.html).group(1)


def a_pass(app, worker: jobs.Worker, at: float) -> list[str]:
    """What a job worker's loop does when a slot comes: queue the schedule's pass if no worker has; then the
    workers run what is queued."""
    queued = worker.schedule(at)
    jobs.drain(app)
    return queued


def test_a_reviewer_asks_for_a_ledger_check_and_a_worker_runs_it(app, clock, operator, people):
    register_methodologies(operator, 2)
    reviewer = signed_in(people, "reviewer")
    asked = reviewer.submit("/admin/verifications", "/admin/verifications/ledger")
    assert asked.status_code == 302

    # Owed from the moment it is asked: a row, and a page that reloads itself while it waits.
    [run] = runs(app)
    assert asked.location == f"/admin/verifications/{run.id}"
    assert (run.kind, run.finished_at, run.requested_by.split(" ")[0]) == ("ledger", None, "staff:2:reviewer-1")
    waiting = reviewer.open(asked.location)
    assert waiting.response.headers["Refresh"] == "2"
    assert "排队中" in waiting.text("run") and waiting.text("outcome") is None and progress(waiting) == (0, 1)
    assert "排队或运行中 1 项" in reviewer.open("/admin/verifications").text("verifier-ledger")

    assert jobs.drain(app) >= 1
    done = reviewer.open(asked.location)
    assert "Refresh" not in done.response.headers
    assert done.text("outcome") == "通过：账本检查通过：所有不变量成立 (ledger check passed: every invariant holds)"
    assert progress(done) == (1, 1) and "flask ledger check" in done.text("run")
    [run] = runs(app)
    assert run.ok is True and run.finished_at is not None and run.problems == []

    # Audit verify before the sequencer has sealed what committed: the chain so far, and what waits for it.
    chain = run_verifier(app, reviewer, "/admin/verifications", "audit")
    assert re.fullmatch(r"通过：审计链完整：0 条事件 \(audit chain intact: 0 event\(s\)\)；另有 (\d+) 条等待封存 "
                        r"\(\1 more waiting for the sealer\)", chain.text("outcome")), chain.text("outcome")
    assert progress(chain) == (1, 1)  # nothing to walk yet, and done: the bar full all the same

    dashboard = reviewer.open("/admin/")
    assert on_dashboard(dashboard, "ledger") == "note"
    assert dashboard.text("verifier-ledger") == "账本不变量检查：通过（2026-03-12 17:00）"
    assert dashboard.text("verifier-log") == "透明日志校验：从未运行"  # the schedule is off in the tests: not red
    assert on_dashboard(dashboard, "log") == "note"


def test_the_run_page_reloads_itself_while_the_verifier_runs_and_not_after(app, people, monkeypatch):
    auditor = signed_in(people, "auditor")
    sealed = len(chain_seqs(app))  # the auditor's sign-in among them
    seen: list[Page] = []
    verify_chain = verifications.VERIFIERS["audit"]

    def watched(run_id: int):  # a look at the run's page while it is under way
        seen.append(auditor.open(f"/admin/verifications/{run_id}"))
        return verify_chain(run_id)

    monkeypatch.setitem(verifications.VERIFIERS, "audit", watched)
    done = run_verifier(app, auditor, "/admin/verifications", "audit")
    [running] = seen
    assert running.response.headers["Refresh"] == "2" and "运行中，页面自动刷新" in running.text("run")
    assert running.text("outcome") is None
    assert "Refresh" not in done.response.headers and "页面自动刷新" not in done.text("run")
    assert progress(done) == (sealed, sealed) and sealed >= 1
    assert done.text("outcome").startswith(f"通过：审计链完整：{sealed} 条事件")


@pytest.mark.tampers
def test_an_event_edited_behind_the_chains_back_fails_audit_verify_and_the_dashboard_shows_it_red(
        app, operator, people, monkeypatch):
    register_methodologies(operator, 3)
    auditor = signed_in(people, "auditor")
    assert run_verifier(app, auditor, "/admin/verifications", "audit").text("outcome").startswith("通过")
    assert on_dashboard(auditor.open("/admin/"), "audit") == "note"

    [forged] = chain_seqs(app, AuditEvent.action == "methodology.create")[:1]
    tamper(app.extensions["db_engine"], "UPDATE audit_event SET actor = 'someone-else' WHERE seq = :seq", seq=forged)
    failed = run_verifier(app, auditor, "/admin/verifications", "audit")
    assert failed.text("outcome") == (f"未通过：审计链在第 {forged} 条事件处断开 (audit chain BROKEN at event "
                                      f"{forged})")
    assert "content does not match its hash" in failed.text("problems")

    dashboard = auditor.open("/admin/")
    assert on_dashboard(dashboard, "audit") == "alert" and "未通过" in dashboard.text("verifier-audit")
    assert on_dashboard(dashboard, "ledger") == "note"
    assert '<tr id="verifier-audit" class="alert-row">' in auditor.open("/admin/verifications").html

    # Problems beyond the first PROBLEMS_KEPT are not kept: the outcome says how many, and where to read them all.
    monkeypatch.setattr(verifications, "PROBLEMS_KEPT", 0)
    failed = run_verifier(app, auditor, "/admin/verifications", "audit")
    assert failed.text("outcome").endswith("；另有 1 项未列出，请在命令行运行 flask audit verify 查看全部 "
                                           "(1 more: run flask audit verify)")
    assert failed.text("problems") is None


def test_a_job_delivered_twice_leaves_its_finished_run_as_it_was(app, clock, monkeypatch):
    ran = []
    check_ledger = verifications.VERIFIERS["ledger"]
    monkeypatch.setitem(verifications.VERIFIERS, "ledger", lambda run_id: ran.append(run_id) or check_ledger(run_id))
    with app.app_context():
        asked = verifications.ask_by_hand("ledger", "staff:9:someone")
        verifications.run(asked.id)
        [first] = runs(app)
        clock.advance(minutes=5)
        verifications.run(asked.id)  # delivered again
    jobs.drain(app)  # and the job queued when it was asked
    [again] = runs(app)
    assert ran == [asked.id]
    assert (again.started_at, again.finished_at, again.ok, again.summary, again.done, again.total) == (
        first.started_at, first.finished_at, True, first.summary, 1, 1)


def test_the_schedule_queues_each_slot_once_and_makes_one_run_of_each_verifier(app, clock):
    app.config["VERIFY_EVERY_SECONDS"] = HOUR
    slot = int(clock().timestamp() // HOUR)
    with jobs.Worker(app) as one, jobs.Worker(app) as other:
        assert one.schedule(slot * HOUR + 5) == ["console.verify_all"]
        assert other.schedule(slot * HOUR + 6) == [] and one.schedule(slot * HOUR + 3599) == []
        jobs.drain(app)
        made = runs(app)
        assert sorted((r.kind, r.slot, r.requested_by) for r in made) == [
            (kind, f"every:{slot}", "schedule") for kind in ("audit", "ledger", "log")]
        assert all(r.ok and r.finished_at for r in made)

        with app.app_context():
            verifications.every_period(slot)  # the pass delivered again: nothing more
        assert jobs.drain(app) == 0 and len(runs(app)) == 3

        assert a_pass(app, other, (slot + 1) * HOUR) == ["console.verify_all"]
    assert sorted(r.slot for r in runs(app)) == [f"every:{slot}"] * 3 + [f"every:{slot + 1}"] * 3


def test_a_run_whose_job_was_lost_is_queued_again_by_the_next_pass(app, clock):
    app.config["VERIFY_EVERY_SECONDS"] = HOUR
    with app.app_context():
        lost = verifications.ask_by_hand("log", "staff:9:someone")
        get_redis_bytes().delete(jobs.Keys.here().queue)  # Redis lost the job; the row says it is owed
    slot = int(clock().timestamp() // HOUR)
    with jobs.Worker(app) as worker:
        clock.advance(minutes=5)
        a_pass(app, worker, slot * HOUR)
        assert {r.id: r.finished_at is None for r in runs(app)}[lost.id]  # not yet: its job may be waiting still

        clock.advance(minutes=6)  # owed longer than OWED_AFTER
        a_pass(app, worker, (slot + 1) * HOUR)
    assert verifications.OWED_AFTER.total_seconds() == 600
    assert len(runs(app)) == 7 and all(r.finished_at is not None and r.ok for r in runs(app))


def test_a_verifier_that_has_not_finished_for_two_periods_shows_red(app, clock, people):
    app.config["VERIFY_EVERY_SECONDS"] = HOUR
    reader = signed_in(people, "finance")
    assert on_dashboard(reader.open("/admin/"), "log") == "alert"  # the schedule is on and has never run

    with jobs.Worker(app) as worker:
        a_pass(app, worker, clock().timestamp())
    assert {on_dashboard(reader.open("/admin/"), kind) for kind in verifications.KINDS} == {"note"}

    clock.advance(hours=2)
    assert on_dashboard(reader.open("/admin/"), "log") == "note"
    clock.advance(minutes=1)
    dashboard = reader.open("/admin/")
    assert {on_dashboard(dashboard, kind) for kind in verifications.KINDS} == {"alert"}
    assert dashboard.text("verifier-log") == "透明日志校验：通过（2026-03-12 17:00），已超过两个周期未运行"
    assert "已超过两个周期没有完成的校验" in reader.open("/admin/verifications").text("verifier-log")

    app.config["VERIFY_EVERY_SECONDS"] = 0  # the schedule switched off: nothing is overdue
    assert on_dashboard(reader.open("/admin/"), "log") == "note"


def test_the_auditor_runs_every_verifier_and_others_may_not(app, people):
    auditor = signed_in(people, "auditor")
    overview = auditor.open("/admin/verifications")
    assert [overview.form(f"run-{kind}").action for kind in verifications.KINDS] == [
        "/admin/verifications/audit", "/admin/verifications/ledger", "/admin/verifications/log"]
    assert {form.id for form in auditor.open("/admin/audit").forms} >= {"run-audit", "run-ledger"}
    assert auditor.open("/admin/certificates").form("run-log").action == "/admin/verifications/log"
    for kind in verifications.KINDS:
        assert run_verifier(app, auditor, "/admin/verifications", kind).text("outcome").startswith("通过")

    # A kind that does not exist, a run that does not exist: not found, nothing recorded.
    unknown = auditor.client.post("/admin/verifications/everything", data={"csrf_token": overview.csrf})
    assert unknown.status_code == 404
    assert auditor.get("/admin/verifications/999").status_code == 404
    assert len(runs(app)) == 3

    # Without a platform role, or without the page's CSRF token: refused, nothing recorded.
    people.make("nobody-1")
    nobody = Browser(app)
    nobody.sign_in("nobody-1")
    assert nobody.submit("/admin/account", "/admin/verifications/ledger").status_code == 403
    assert nobody.get("/admin/verifications").status_code == 403
    assert auditor.client.post("/admin/verifications/ledger").status_code == 400
    assert len(runs(app)) == 3
