"""The audit chain: every state change appends one event whose hash covers its content and the previous hash.

The story: an operator's account gets its role and token, the operator registers a project, issues a batch, moves and retires credits; the chain then holds one
event per change, in order, and verifies. Tampering with the stored rows — editing an event, deleting one in the
middle, deleting the last — makes ``audit.verify`` name the first event that no longer holds, and
``flask audit verify`` exit non-zero saying so. (Tampering tests are marked ``tampers``: the ``app`` fixture does
not verify after them.)
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlmodel import Session

from backend import sequencer
from backend.audit import verify
from backend.audit.log import event_hash
from backend.audit.models import GENESIS_HASH, AuditEvent
from tests import tampering

TONNE = 1_000_000

SETUP_ACTIONS = ["staff.create", "staff.grant", "staff.token_create"]  # the operator fixture's account and token
STORY_ACTIONS = SETUP_ACTIONS + ["methodology.create", "organisation.create", "project.create", "project.submit",
                                 "project.register", "batch.create", "ledger.issue", "ledger.transfer",
                                 "ledger.retire"]
REGISTER = STORY_ACTIONS.index("project.register") + 1  # its seq


def tell_the_story(operator) -> dict:
    """Register, issue 10 t, transfer 2 t to user 7, who retires 1 t for 张三丰: nine state changes; then the
    sequencer seals them, as it would within a second."""
    made = operator.registered_project(quantity_g=10 * TONNE)
    batch = made["batch"]
    operator.ok(operator.post("/ledger/transfers", {"batch_id": batch["id"], "from_holder": "platform",
                                                    "to_holder": "user:7", "amount_g": 2 * TONNE}, key="t-1"), 201)
    operator.ok(operator.post("/ledger/retirements", {"batch_id": batch["id"], "holder": "user:7",
                                                      "amount_g": TONNE, "purpose": "personal",
                                                      "beneficiary_name": "张三丰"}, key="r-1"), 201)
    sequencer.run_once(operator.client.application)
    return made


def events(app) -> list[AuditEvent]:
    with Session(app.extensions["db_engine"]) as session:
        return list(session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def chain(app, **kw):
    with Session(app.extensions["db_engine"]) as session:
        return verify(session, **kw)


def tamper(app, sql: str, **params) -> None:
    tampering.tamper(app.extensions["db_engine"], sql, **params)


# --- an honest chain ---------------------------------------------------------------------------------------------

def test_every_state_change_of_the_story_is_one_linked_event(app, operator):
    made = tell_the_story(operator)
    stored = events(app)
    assert [e.action for e in stored] == STORY_ACTIONS
    assert [e.seq for e in stored] == list(range(1, len(STORY_ACTIONS) + 1))
    assert {e.actor for e in stored[len(SETUP_ACTIONS):]} == {operator.actor}
    # Each event points at the hash of the one before it, and its own hash is its content's.
    previous = GENESIS_HASH
    for event in stored:
        assert event.prev_hash == previous
        assert event.hash == event_hash(seq=event.seq, at=event.at, actor=event.actor, action=event.action,
                                        object_type=event.object_type, object_id=event.object_id,
                                        before=event.before, after=event.after, prev_hash=event.prev_hash)
        previous = event.hash

    register = stored[REGISTER - 1]
    assert (register.object_type, register.object_id) == ("project", str(made["project"]["id"]))
    assert register.before == {"state": "submitted"} and register.after["state"] == "registered"
    issue = stored[STORY_ACTIONS.index("ledger.issue")]
    assert issue.after["batch_code"] == made["batch"]["code"] and issue.after["ranges"] == [[1, 10 * TONNE]]
    retire = stored[STORY_ACTIONS.index("ledger.retire")]
    assert retire.after["beneficiary_masked"] == "张**" and retire.after["ranges"] == [[1, TONNE]]
    assert "张三丰" not in json.dumps([e.after for e in stored], ensure_ascii=False)

    report = chain(app)
    assert report.ok and report.length == len(STORY_ACTIONS) and report.broken_at is None


def test_refusals_and_replays_append_nothing(app, operator):
    made = tell_the_story(operator)
    batch_id = made["batch"]["id"]
    operator.post("/ledger/transfers", {"batch_id": batch_id, "from_holder": "platform", "to_holder": "user:7",
                                        "amount_g": 2 * TONNE}, key="t-1")                      # replay
    operator.post("/ledger/transfers", {"batch_id": batch_id, "from_holder": "platform", "to_holder": "user:8",
                                        "amount_g": 100 * TONNE}, key="t-2")                    # insufficient
    operator.post(f"/projects/{made['project']['id']}/register")                                # invalid state
    operator.post("/projects", {"name": "x"})                                                   # bad input
    assert [e.action for e in events(app)] == STORY_ACTIONS
    assert chain(app).ok


@pytest.mark.parametrize("page", [1, 2, 4, 12, 13])
def test_verification_gives_the_same_answer_whatever_the_page_size(app, operator, page):
    tell_the_story(operator)
    assert chain(app, page=page) == chain(app)


def test_an_empty_chain_verifies(app):
    report = chain(app)
    assert report.ok and report.length == 0


def test_timestamps_with_microseconds_survive_the_round_trip(app, operator, clock):
    """The hash covers the time to the microsecond; both stores must hand back exactly what was hashed."""
    clock.now = clock.now.replace(microsecond=123_457)
    tell_the_story(operator)
    assert chain(app).ok


# --- tampering ---------------------------------------------------------------------------------------------------

@pytest.mark.tampers
def test_editing_an_events_content_is_caught_at_that_event(app, operator, runner):
    tell_the_story(operator)
    tamper(app, """UPDATE audit_event SET "after" = '{"state": "registered", "reason": "forged"}' WHERE seq = :seq""",
           seq=REGISTER)
    report = chain(app)
    assert not report.ok
    assert report.broken_at == REGISTER and report.length == REGISTER - 1
    assert f"event {REGISTER} (project.register project 1)" in report.problem
    assert "content does not match its hash" in report.problem

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert f"audit chain BROKEN at event {REGISTER}" in result.output


@pytest.mark.tampers
@pytest.mark.parametrize("column, value", [("actor", "'operator:someone-else'"), ("action", "'project.reject'"),
                                           ("object_id", "'2'"), ("before", "NULL")])
def test_editing_any_hashed_column_is_caught(app, operator, column, value):
    tell_the_story(operator)
    tamper(app, f'UPDATE audit_event SET "{column}" = {value} WHERE seq = {REGISTER}')
    report = chain(app)
    assert report.broken_at == REGISTER, report


@pytest.mark.tampers
def test_a_forger_who_rehashes_an_event_breaks_the_next_link(app, operator):
    """Recomputing the edited event's own hash is not enough: the next event still names the old hash."""
    tell_the_story(operator)
    register = events(app)[REGISTER - 1]
    forged_after = {"state": "registered", "reason": "forged"}
    forged_hash = event_hash(seq=REGISTER, at=register.at, actor=register.actor, action=register.action,
                             object_type=register.object_type, object_id=register.object_id,
                             before=register.before, after=forged_after, prev_hash=register.prev_hash)
    tamper(app, """UPDATE audit_event SET "after" = '{"state": "registered", "reason": "forged"}', hash = :h
                   WHERE seq = :seq""", h=forged_hash, seq=REGISTER)
    report = chain(app)
    assert report.broken_at == REGISTER + 1 and report.length == REGISTER
    assert f"prev_hash does not match the hash of event {REGISTER}" in report.problem


@pytest.mark.tampers
def test_deleting_an_event_in_the_middle_is_caught_where_it_was(app, operator, runner):
    tell_the_story(operator)
    tamper(app, "DELETE FROM audit_event WHERE seq = 4")
    report = chain(app)
    assert report.broken_at == 4 and report.length == 3
    assert report.problem == "event 4 is missing (next is 5)"

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "audit chain BROKEN at event 4: event 4 is missing (next is 5)" in result.output


@pytest.mark.tampers
def test_deleting_the_first_event_is_caught(app, operator):
    tell_the_story(operator)
    tamper(app, "DELETE FROM audit_event WHERE seq = 1")
    assert chain(app).broken_at == 1


@pytest.mark.tampers
def test_deleting_the_last_event_is_caught_by_the_head(app, operator, runner):
    """Every remaining link holds, but audit_head still remembers the last event."""
    tell_the_story(operator)
    last = len(STORY_ACTIONS)
    tamper(app, "DELETE FROM audit_event WHERE seq = :seq", seq=last)
    report = chain(app)
    assert report.broken_at == last and report.length == last - 1
    assert "audit_head does not point at the last event" in report.problem

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"audit chain BROKEN at event {last}" in result.output


@pytest.mark.tampers
def test_moving_the_head_back_is_caught(app, operator):
    tell_the_story(operator)
    fourth = events(app)[3]
    tamper(app, "UPDATE audit_head SET seq = 4, hash = :h WHERE id = 1", h=fourth.hash)
    report = chain(app)
    assert not report.ok and "audit_head does not point at the last event" in report.problem


def test_the_cli_says_the_chain_is_intact(app, operator, runner):
    tell_the_story(operator)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"audit chain intact: {len(STORY_ACTIONS)} event(s)"
