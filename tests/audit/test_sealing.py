"""The sequencer: events and certificates are written without a global lock and sealed into the chain and the log
shortly after commit (issue 17).

A transaction writes its audit event unsealed and queues its certificate for the log; the sequencer (every app
process, every SEQUENCER_INTERVAL_MS, one at a time) chains what has committed and appends what is queued under one
signed tree head per batch. What is sealed is as tamper-evident as before; what is left waiting longer than
SEAL_DELAY_SECONDS is reported by the verifiers.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend import audit, sequencer
from backend.audit.models import AuditEvent
from backend.db import atomic
from backend.transparency.models import LogPending, TreeHead
from tests.audit.test_chain import STORY_ACTIONS, tell_the_story
from tests.certificates.test_certificates import retire
from tests.envelope import refused
from tests.ledger.test_concurrency import all_at_once
from tests.tampering import tamper

TONNE = 1_000_000


def engine_of(app):
    return app.extensions["db_engine"]


def stored_events(app) -> list[AuditEvent]:
    with Session(engine_of(app)) as session:
        return list(session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())


def chain(app, **kw):
    with Session(engine_of(app)) as session:
        return audit.verify(session, **kw)


@pytest.fixture
def batch(operator):
    return operator.registered_project(quantity_g=100 * TONNE)["batch"]


# --- sealing ------------------------------------------------------------------------------------------------------

def test_an_event_is_written_with_its_change_and_chained_by_the_sequencer(app, operator, batch):
    sequencer.run_once(app)
    sealed = chain(app).length
    retire(operator, batch, "unsealed-1")
    waiting = [event for event in stored_events(app) if event.seq is None]
    assert [event.action for event in waiting] == ["ledger.retire"]
    assert waiting[0].hash is None and waiting[0].prev_hash is None
    report = chain(app)  # the sealed part verifies; the rest is counted, not judged
    assert report.ok and report.length == sealed and report.unsealed.count == 1

    assert sequencer.run_once(app).events == 1
    report = chain(app)
    assert report.ok and report.length == sealed + 1 and report.unsealed.count == 0
    assert sequencer.run_once(app).events == 0  # nothing twice


def test_a_change_is_recorded_field_by_field_and_no_change_not_at_all(app, clock):
    before = {"name": "南门", "stock": 10, "active": True}
    with app.app_context():
        recorded = atomic(lambda s: [
            audit.append_changes(s, clock(), actor="staff:1", action="test.change", object_type="thing",
                                 object_id=1, before=before, after={**before, "stock": 20}),
            audit.append_changes(s, clock(), actor="staff:1", action="test.change", object_type="thing",
                                 object_id=1, before=before, after=dict(before))])
    assert recorded == [True, False]
    [event] = [event for event in stored_events(app) if event.action == "test.change"]
    assert (event.before, event.after) == ({"stock": 10}, {"stock": 20})


@pytest.mark.tampers
def test_an_event_edited_after_sealing_is_caught(app, operator):
    """tell_the_story ends with the sequencer's pass: every event is sealed before the edit."""
    tell_the_story(operator)
    retire_event = STORY_ACTIONS.index("ledger.retire") + 1
    tamper(engine_of(app), """UPDATE audit_event SET "after" = '{"amount_g": 1}' WHERE seq = :seq""",
           seq=retire_event)
    report = chain(app)
    assert report.broken_at == retire_event and "content does not match its hash" in report.problem


def test_an_event_left_unsealed_longer_than_the_delay_is_reported(app, operator, batch, clock, runner):
    sequencer.run_once(app)
    retire(operator, batch, "late-1")
    clock.advance(seconds=app.config["SEAL_DELAY_SECONDS"] - 1)
    within = runner.invoke(args=["audit", "verify"])
    assert within.exit_code == 0 and "1 more waiting for the sealer" in within.output, within.output

    clock.advance(seconds=2)
    overdue = runner.invoke(args=["audit", "verify"])
    assert overdue.exit_code == 1
    assert "NOT SEALED IN TIME: 1 event(s) unsealed" in overdue.output
    assert f"longer than the sealing delay of {app.config['SEAL_DELAY_SECONDS']} s" in overdue.output
    logged = runner.invoke(args=["log", "verify"])
    assert logged.exit_code == 1 and "1 certificate(s) wait for the log" in logged.output, logged.output

    assert runner.invoke(args=["seal"]).output.strip() == (
        "sealed 1 audit event(s), appended 1 certificate(s) to the log")
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert runner.invoke(args=["log", "verify"]).exit_code == 0


@pytest.mark.services_only
def test_postgresql_lets_an_event_be_sealed_once_and_changed_never(app, operator, batch):
    sequencer.run_once(app)
    retire(operator, batch, "trigger-1")
    (event,) = [event for event in stored_events(app) if event.seq is None]
    for forbidden in (f"""UPDATE audit_event SET "after" = '{{}}' WHERE id = {event.id}""",
                      f"UPDATE audit_event SET seq = 999, prev_hash = 'x', hash = 'y', actor = 'someone' "
                      f"WHERE id = {event.id}",
                      f"DELETE FROM audit_event WHERE id = {event.id}"):
        with pytest.raises(IntegrityError, match="append-only"), engine_of(app).begin() as connection:
            connection.execute(text(forbidden))
    sequencer.run_once(app)
    with pytest.raises(IntegrityError, match="append-only"), engine_of(app).begin() as connection:
        connection.execute(text(f"UPDATE audit_event SET seq = seq + 1000 WHERE id = {event.id}"))
    assert chain(app).ok


@pytest.mark.services_only
def test_writers_and_racing_sealers_make_one_gapless_chain(app):
    """8 writers × 25 events while two sequencers race each other: every event sealed once, seqs 1…N, no wait."""
    stop = threading.Event()
    passes: list[int] = []

    def sealer() -> None:
        while not stop.is_set():
            passes.append(atomic(audit.seal, engine=engine_of(app)))

    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    for thread in sealers:
        thread.start()

    def write(worker: int) -> None:
        for number in range(25):
            atomic(lambda session: audit.append(session, app.config["CLOCK"](), actor=f"test:{worker}",
                                                action="test.write", object_type="test",
                                                object_id=f"{worker}-{number}"), engine=engine_of(app))

    try:
        outcomes = all_at_once(8, write)
    finally:
        stop.set()
        for thread in sealers:
            thread.join(timeout=60)
    assert all(outcome is None for outcome in outcomes), outcomes
    sequencer.run_once(app)
    events = stored_events(app)
    assert len(events) == 200 and sorted(event.seq for event in events) == list(range(1, 201))
    assert chain(app).ok and sum(passes) <= 200


# --- the transparency log -----------------------------------------------------------------------------------------

def test_certificates_queued_together_are_appended_under_one_tree_head(app, operator, batch, client):
    numbers = [retire(operator, batch, f"queued-{i}")["certificate_no"] for i in range(5)]
    assert client.get("/api/v1/log/sth").get_json()["tree_size"] == 0
    with Session(engine_of(app)) as session:
        assert len(session.execute(select(LogPending)).all()) == 5

    assert sequencer.run_once(app).certificates == 5
    sth = client.get("/api/v1/log/sth").get_json()
    assert sth["tree_size"] == 5
    with Session(engine_of(app)) as session:
        assert session.execute(select(TreeHead.tree_size)).scalars().all() == [5]  # one head for the batch
        assert session.execute(select(LogPending)).all() == []
    for index, number in enumerate(numbers):
        proof = client.get(f"/api/v1/certificates/{number}/proof").get_json()
        assert (proof["leaf_index"], proof["tree_size"]) == (index, 5)
    refused(client.get(f"/api/v1/certificates/{numbers[0]}/proof?tree_size=3"), 400, field="tree_size")


def test_asking_for_a_proof_appends_what_is_queued(app, operator, batch, client):
    """A phone scanning the QR a moment after paying gets the proof, not "pending": the reader appends at once."""
    number = retire(operator, batch, "scanned-at-once")["certificate_no"]
    page = client.get(f"/v/{number}")
    assert page.status_code == 200 and "已收录并验证" in page.get_data(as_text=True)
    assert client.get(f"/api/v1/certificates/{number}/proof").get_json()["tree_size"] == 1


@pytest.mark.services_only
def test_while_another_append_is_under_way_the_page_says_inclusion_pending(app, operator, batch, client):
    number = retire(operator, batch, "pending-1")["certificate_no"]
    with engine_of(app).connect() as holder:  # another process's sequencer, mid-append
        holder.execute(text("SELECT tree_size FROM log_head WHERE id = 1 FOR UPDATE"))
        page = client.get(f"/v/{number}").get_data(as_text=True)
        assert "收录中 (inclusion pending)" in page and "真实有效" in page  # valid meanwhile
        api = client.get(f"/api/v1/certificates/{number}").get_json()
        assert api["log_proof"]["status"] == "pending" and api["log_proof"]["verified"] is None  # not yet known
        assert api["status"] == "valid"
        refused(client.get(f"/api/v1/certificates/{number}/proof"), 409, code="inclusion_pending")
        holder.rollback()
    assert "已收录并验证" in client.get(f"/v/{number}").get_data(as_text=True)
    assert client.get(f"/api/v1/certificates/{number}").get_json()["log_proof"]["verified"] is True


@pytest.mark.tampers
def test_a_certificate_taken_off_the_queue_unlogged_is_reported_not_left_pending(app, operator, batch, client,
                                                                               runner):
    number = retire(operator, batch, "dropped")["certificate_no"]
    tamper(engine_of(app), "DELETE FROM log_pending")  # PostgreSQL refuses this without switching triggers off
    assert "未收录 (not in the log)" in client.get(f"/v/{number}").get_data(as_text=True)
    assert client.get(f"/api/v1/certificates/{number}").get_json()["log_proof"] == {"status": "missing",
                                                                                     "verified": False}
    refused(client.get(f"/api/v1/certificates/{number}/proof"), 503, code="log_damaged")
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1 and f"certificate {number} is not in the log, nor queued for it" in result.output


@pytest.mark.services_only
def test_postgresql_lets_a_certificate_leave_the_queue_only_into_the_log(app, operator, batch):
    retire(operator, batch, "queued")
    with pytest.raises(IntegrityError, match="leaves the queue only once it is in the log"), \
            engine_of(app).begin() as connection:
        connection.execute(text("DELETE FROM log_pending"))
    assert sequencer.run_once(app).certificates == 1  # the sequencer's own dequeue, after appending, goes through


@pytest.mark.tampers
def test_a_tree_head_removed_from_between_two_others_is_noticed(app, operator, batch, runner):
    for batch_size in (2, 1, 3):  # heads at sizes 2, 3 and 6
        for i in range(batch_size):
            retire(operator, batch, f"head-{batch_size}-{i}")
        sequencer.run_once(app)
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    tamper(engine_of(app), "DELETE FROM log_tree_head WHERE tree_size = 3")
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert "signed tree head 6 follows the head of size 3, which is not the head before it (2)" in result.output


def test_a_sequencer_on_a_broken_database_backs_off_instead_of_failing_twice_a_second(tmp_path, caplog):
    """An app process whose database is unusable (here: never migrated) keeps its sequencer thread, which waits
    twice as long after each failed pass (up to 64 intervals) rather than logging a traceback every interval."""
    from backend import create_app

    app = create_app({"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "REDIS_URL": None,
                      "SECRET_KEY": "backoff-test", "CERT_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
                      "SEQUENCER_INTERVAL_MS": 20})
    try:
        app.test_client().get("/healthz")  # the first request starts the thread
        threading.Event().wait(1.3)  # unbacked: ~65 passes; backed off: 20 + 40 + … + 640 ms ≈ 6
    finally:
        app.extensions["sequencer_stop"].set()
        app.extensions["db_engine"].dispose()
    failed = [r for r in caplog.records if r.getMessage() == "sequencer: seal_events failed"]
    assert 1 <= len(failed) <= 10, len(failed)
