"""Worked examples: the console's audit page.

The operator registers seven methodologies through the JSON API on 植树节 (2026-03-12) and an eighth after midnight,
Beijing time. The auditor reads the chain newest first, narrows it by action, actor, object and Beijing day, pages
through it three events at a time with neither a repeat nor a gap, and exports what the filters select. The
verifiers' last results are shown there, with their buttons (the run is a job: admin/verifications.py): the chain
holds and the ledger checks out, until someone edits an event behind the chain's back.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from admin import exports
from backend import audit
from backend.audit.models import AuditEvent
from backend.db import atomic, read
from tests.admin.exporting import exported
from tests.admin.test_certificate_pages import signed_in
from tests.admin.verifying import run_verifier
from tests.staff.conftest import Page, People
from tests.tampering import tamper


@pytest.fixture
def people(app, password_hash) -> People:
    return People(app, password_hash)


def register_methodologies(operator, count: int) -> list[int]:
    made = []
    for _ in range(count):
        made.append(operator.ok(operator.post("/methodologies", {
            "code": f"M-{uuid.uuid4().hex[:8]}", "name": "森林经营碳汇项目方法学", "ecosystem": "forest",
            "version": "V01", "source_document": "AR-CM-003-V01"}))["id"])
    return made


def chain_seqs(app, *conditions) -> list[int]:
    """The sealed events the conditions select, newest first, as the database holds them."""
    with app.app_context():
        atomic(audit.seal)
        return read(lambda s: list(s.execute(select(AuditEvent.seq).where(AuditEvent.seq.is_not(None), *conditions)
                                             .order_by(AuditEvent.seq.desc())).scalars()))


def shown_seqs(page: Page) -> list[int]:
    return [int(seq) for seq in re.findall(r'<tr class="event" data-seq="(\d+)"', page.html)]


def every_page(browser, path: str) -> tuple[list[int], int]:
    """Follow the "next page" links from ``path``: the seqs shown, in order, and how many pages there were."""
    seen, pages = [], 0
    while path:
        page = browser.open(path)
        assert page.status == 200, (path, page.text("problem"))
        seen, pages = seen + shown_seqs(page), pages + 1
        following = re.search(r'<a href="([^"]+)" rel="next"', page.html)
        path = following.group(1).replace("&amp;", "&") if following else None
    return seen, pages


def test_the_auditor_filters_the_chain_and_pages_through_it_without_repeats_or_gaps(
        app, clock, operator, people, monkeypatch):
    methodologies = register_methodologies(operator, 7)
    auditor = signed_in(people, "auditor")

    # Newest first, what committed a moment ago included: the auditor's own sign-in.
    everything = auditor.open("/admin/audit")
    assert everything.status == 200
    assert shown_seqs(everything) == chain_seqs(app)[:50]
    assert "staff.sign_in" in everything.html.split('<tr class="event"')[1]

    # By action, three a page: seven events over three pages, each once, in the chain's order.
    created = chain_seqs(app, AuditEvent.action == "methodology.create")
    assert len(created) == 7
    seen, pages = every_page(auditor, "/admin/audit?action=methodology.create&size=3")
    assert (seen, pages) == (created, 3)
    oldest_first, _ = every_page(auditor, "/admin/audit?action=methodology.create&size=3&sort=seq&dir=asc")
    assert oldest_first == list(reversed(created))

    # By a part of the actor, any case: the operator's token.
    by_operator = chain_seqs(app, AuditEvent.actor.contains("operator token"))
    assert len(by_operator) >= 7
    seen, _ = every_page(auditor, "/admin/audit?actor=OPERATOR+TOKEN&size=4")
    assert seen == by_operator

    # A family of actions, an object, a type of object.
    staff_family, _ = every_page(auditor, "/admin/audit?action=staff.")
    assert staff_family == chain_seqs(app, AuditEvent.action.startswith("staff."))
    one = auditor.open(f"/admin/audit?object=methodology:{methodologies[2]}")
    assert shown_seqs(one) == [created[-3]]
    assert len(shown_seqs(auditor.open("/admin/audit?object=methodology"))) == 7

    # The CSV holds every event the filters select, whatever the page size, written in chunks of two.
    monkeypatch.setattr(exports, "CHUNK", 2)
    _, lines = exported(app, auditor, "/admin/audit?action=methodology.create&size=3", "audit")
    assert [int(line["seq"]) for line in lines] == created
    assert {line["action"] for line in lines} == {"methodology.create"}
    assert lines[0]["at_beijing"] == "2026-03-12 17:00:00" and lines[0]["at_utc"] == "2026-03-12T09:00:00.000000Z"

    # By Beijing day: one more at 01:00 the next day (still 03-12 in UTC).
    clock.advance(hours=8)
    [latest] = register_methodologies(operator, 1)
    next_day = auditor.open("/admin/audit?action=methodology.create&since=2026-03-13")
    assert len(shown_seqs(next_day)) == 1 and f"methodology:{latest}" in next_day.text("events")
    first_day = auditor.open("/admin/audit?action=methodology.create&since=2026-03-12&until=2026-03-12")
    assert shown_seqs(first_day) == created


def test_bad_filters_and_forged_cursors_are_refused_naming_the_field(app, operator, people):
    register_methodologies(operator, 2)
    auditor = signed_in(people, "auditor")
    for query, field in (("after=eyJub3QiOiJhIGN1cnNvciJ9", "after"), ("after=WyJ4IiwgMV0", "after"),
                         ("since=2026-02-30", "since"), ("since=2026-03-12&until=2026-03-11", "until"),
                         ("action=Methodology+Create", "action"), ("object=a+b", "object"), ("size=501", "size"),
                         ("dir=sideways", "dir"), ("colour=green", "colour")):
        refused = auditor.open(f"/admin/audit?{query}")
        assert refused.status == 400, query
        assert refused.text("problem").startswith(f"{field}:"), (query, refused.text("problem"))

    # Who reads the chain is who reads it through the JSON API: the auditor (and admin), not finance or reviewers.
    for role in ("finance", "reviewer"):
        assert signed_in(people, role).get("/admin/audit").status_code == 403


def test_finance_runs_the_ledger_check_and_the_auditor_sees_when_and_by_whom(app, operator, people):
    register_methodologies(operator, 1)
    finance = signed_in(people, "finance")  # who may not read the audit page: from the verifiers' own page
    ran = run_verifier(app, finance, "/admin/verifications", "ledger")
    assert ran.text("outcome") == "通过：账本检查通过：所有不变量成立 (ledger check passed: every invariant holds)"

    auditor = signed_in(people, "auditor")
    page = auditor.open("/admin/audit")
    result = page.text("verifier-ledger")
    assert "ledger check passed" in result and "finance-1" in result and "2026-03-12 17:00" in result
    assert "flask ledger check" in result
    assert "尚未运行" in page.text("verifier-audit") and page.text("verifier-log") is None  # the log: on its page
    assert page.form("run-audit").action == "/admin/verifications/audit"


@pytest.mark.tampers
def test_audit_verify_reports_an_event_edited_behind_the_chains_back(app, operator, people):
    register_methodologies(operator, 3)
    auditor = signed_in(people, "auditor")
    ran = run_verifier(app, auditor, "/admin/audit", "audit")
    assert ran.text("outcome").startswith("通过：审计链完整") and "audit chain intact" in ran.text("outcome")

    [forged] = chain_seqs(app, AuditEvent.action == "methodology.create")[1:2]
    tamper(app.extensions["db_engine"], "UPDATE audit_event SET actor = 'someone-else' WHERE seq = :seq", seq=forged)
    ran = run_verifier(app, auditor, "/admin/audit", "audit")
    assert f"audit chain BROKEN at event {forged}" in ran.text("outcome")
    assert "content does not match its hash" in ran.text("problems")
    result = auditor.open("/admin/audit").text("verifier-audit")
    assert "未通过" in result and f"audit chain BROKEN at event {forged}" in result
    assert "content does not match its hash" in result
