"""The background-job queue, delivered at least once: a worker that dies mid-job loses nothing (another runs the job
again once the dead one's lease lapses, and the handler's effect happens once), a failing job is retried with
backoff and then kept as a dead letter for an operator, and nothing a line holds stops a worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from backend import jobs
from backend.cache import get_redis, get_redis_bytes, key
from backend.settings import SPEC

REPO = Path(__file__).resolve().parent.parent
EMPTY = {"queued": 0, "running": 0, "workers": 0, "later": 0, "dead": 0}


@pytest.fixture
def handler():
    """Register test handlers for one test, and forget them after it."""
    names = []

    def register(name, function):
        jobs.job(name)(function)
        names.append(name)
        return function

    yield register
    for name in names:
        jobs.HANDLERS.pop(name, None)


def status(app) -> dict:
    with app.app_context():
        return jobs.status()


def awarded(app) -> dict:
    with app.app_context():
        return get_redis().hgetall(key("test", "awarded"))


def award_badges(handler):
    """A handler whose effect is keyed by what it is about (HSETNX), so a second run of the same job adds nothing;
    its runs are counted apart from its effect."""
    runs = []

    def award(badge: str) -> None:
        runs.append(badge)
        get_redis().hsetnx(key("test", "awarded"), badge, len(runs))
    handler("test.award", award)
    return runs


# --- a worker dies mid-job -----------------------------------------------------------------------------------------

def test_a_worker_killed_mid_job_leaves_its_job_to_another_and_the_effect_happens_once(app, handler):
    runs = award_badges(handler)
    app.config["JOB_LEASE_SECONDS"] = 2
    with app.app_context():
        assert jobs.enqueue(("test.award", {"badge": "植树先锋"}), ("test.award", {"badge": "碳中和达人"}))

    # A worker takes both jobs; it awards the first badge, then is killed before it can settle either: its
    # heartbeat stops (this one never had any), so its lease lapses.
    doomed = jobs.Worker(app)
    first, second = doomed.take(), doomed.take()
    with app.app_context():
        jobs.HANDLERS["test.award"](**jobs.parse(first).args)
    assert runs == ["植树先锋"] and status(app)["running"] == 2

    # While its lease holds, no one takes its jobs from it.
    assert jobs.drain(app) == 0 and status(app)["running"] == 2

    # Once it lapses, the reaper hands both on as their second attempt, and another worker runs them.
    time.sleep(2.2)
    assert jobs.drain(app) == 2
    assert sorted(runs) == ["植树先锋", "植树先锋", "碳中和达人"]  # the first one ran twice ...
    assert awarded(app) == {"植树先锋": "1", "碳中和达人": "3"}  # ... and was awarded once
    assert status(app) == EMPTY  # the dead worker is gone from the registry too

    # Had it only stalled, it would come back and finish its run: an overlapping second run, harmless in effect;
    # and its settling finds the job gone from its list, so nothing is queued or run again after it.
    doomed.run(second)
    assert runs.count("碳中和达人") == 2 and awarded(app) == {"植树先锋": "1", "碳中和达人": "3"}
    assert jobs.drain(app) == 0 and status(app) == EMPTY


def test_a_live_worker_keeps_its_job_however_long_it_runs(app, handler):
    """Its heartbeat renews the lease while the handler runs (here three leases long): no one runs it twice."""
    app.config["JOB_LEASE_SECONDS"] = 1
    running, finish, runs = threading.Event(), threading.Event(), []

    def slow() -> None:
        runs.append(1)
        running.set()
        assert finish.wait(10)
    handler("test.slow", slow)
    with app.app_context():
        jobs.enqueue(("test.slow", {}))

    def run_one() -> None:
        with jobs.Worker(app) as worker:
            worker.run_next()
    busy = threading.Thread(target=run_one)
    busy.start()
    try:
        assert running.wait(5)
        time.sleep(3)
        assert jobs.drain(app) == 0 and status(app)["running"] == 1
    finally:
        finish.set()
        busy.join(5)
    assert runs == [1] and status(app) == EMPTY


def test_a_job_whose_worker_is_lost_at_every_attempt_becomes_a_dead_letter(app, handler):
    """A job that kills its worker each time (out of memory, say) must not kill workers for ever."""
    award_badges(handler)
    with app.app_context():
        connection, queue = get_redis_bytes(), key("jobs")
        # a worker that died holding the job's last attempt: registered, holding it, no lease
        line = json.dumps({"id": "poison", "job": "test.award", "args": {"badge": "x"}, "attempt": jobs.MAX_ATTEMPTS})
        connection.sadd(f"{queue}:workers", "gone:1:ab")
        connection.lpush(f"{queue}:taken:gone:1:ab", line)
    assert jobs.drain(app) == 0
    with app.app_context():
        [letter] = jobs.dead_letters()
    assert (letter["id"], letter["job"], letter["attempt"]) == ("poison", "test.award", jobs.MAX_ATTEMPTS)
    assert letter["error"] == f"its worker was lost during attempt {jobs.MAX_ATTEMPTS} (gone:1:ab)"
    assert status(app) == {**EMPTY, "dead": 1} and awarded(app) == {}


@pytest.mark.services_only
def test_a_flask_jobs_work_process_killed_with_sigkill_mid_job_loses_nothing(app):
    """The real thing: `flask jobs work` in its own process, killed with SIGKILL while its handler blocks; another
    worker completes the job, and the job's effect happened once."""
    import tests.job_worker_app  # noqa: F401  the handler, registered here too

    environment = {name: value for name, value in os.environ.items() if name not in SPEC}
    environment.update(APP_ENV="test", DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"],
                       REDIS_KEY_PREFIX=app.config["REDIS_KEY_PREFIX"], SECRET_KEY=app.config["SECRET_KEY"],
                       CERT_SIGNING_KEY_FILE=app.config["CERT_SIGNING_KEY_FILE"], JOB_LEASE_SECONDS="1",
                       PYTHONPATH=str(REPO))
    with app.app_context():
        connection = get_redis()
        connection.set(key("test", "hold"), "1")
        assert jobs.enqueue(("test.effect_then_hold", {"badge": "first-tree"}))
    worker = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "--app", "tests.job_worker_app", "jobs",
                               "work"], cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with app.app_context():
            deadline = time.monotonic() + 60
            while not connection.exists(key("test", "started", "first-tree")):
                assert worker.poll() is None, worker.stderr.read().decode()
                assert time.monotonic() < deadline, "the worker process never started the job"
                time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stderr.close()
    assert status(app) == {**EMPTY, "running": 1, "workers": 1}  # the dead process still holds its job

    with app.app_context():
        connection.delete(key("test", "hold"))
    time.sleep(1.5)  # the dead process's lease lapses
    assert jobs.drain(app) == 1
    with app.app_context():
        assert connection.get(key("test", "runs", "first-tree")) == "2"  # delivered twice ...
        assert connection.hgetall(key("test", "awarded")) == {"first-tree": str(worker.pid)}  # ... effect once
    assert status(app) == EMPTY


# --- failures, retries and dead letters ----------------------------------------------------------------------------

def test_a_failing_job_is_retried_with_backoff_then_kept_as_a_dead_letter(app, runner, handler):
    attempts, mended = [], threading.Event()

    def flaky(n: int) -> None:
        attempts.append(n)
        if not mended.is_set():
            raise RuntimeError("WeChat said no")
    handler("test.flaky", flaky)
    with app.app_context():
        assert jobs.enqueue(("test.flaky", {"n": 7}))
        later = key("jobs", "later")

        with jobs.Worker(app) as worker:
            # Attempt 1 fails: the job waits 30 s, and is not run before then.
            assert worker.run_next() and attempts == [7]
            [(line, due)] = get_redis().zrange(later, 0, -1, withscores=True)
            assert json.loads(line)["attempt"] == 2 and due == pytest.approx(time.time() + 30, abs=5)
            worker.maintain()
            assert not worker.run_next() and attempts == [7]

            # Attempt 2 (brought forward) fails: now it waits four times as long.
            worker.maintain(everything=True)
            assert worker.run_next() and attempts == [7, 7]
            [(line, due)] = get_redis().zrange(later, 0, -1, withscores=True)
            assert json.loads(line)["attempt"] == 3 and due == pytest.approx(time.time() + 120, abs=5)

            # Attempt 3 is the last: the job is kept as a dead letter, not dropped.
            worker.maintain(everything=True)
            assert worker.run_next() and attempts == [7, 7, 7]
        [letter] = jobs.dead_letters()
    assert (letter["job"], letter["args"], letter["attempt"]) == ("test.flaky", {"n": 7}, 3)
    assert letter["error"] == "RuntimeError: WeChat said no"
    assert status(app) == {**EMPTY, "dead": 1}

    # The operator reads it, mends the cause, and runs it again from attempt 1.
    listed = runner.invoke(args=["jobs", "dead"]).output
    assert listed.startswith("1 dead letter(s)\n") and f'{letter["id"]}  ' in listed
    assert 'test.flaky {"n": 7} after attempt 3' in listed and "RuntimeError: WeChat said no" in listed
    assert "dead letters 1" in runner.invoke(args=["jobs", "status"]).output
    mended.set()
    retried = runner.invoke(args=["jobs", "retry", letter["id"]])
    assert retried.exit_code == 0 and retried.output.endswith("1 dead letter(s) queued again\n")
    assert status(app) == {**EMPTY, "queued": 1}
    assert runner.invoke(args=["jobs", "work", "--drain"]).output == "ran 1 job(s)\n"
    assert attempts == [7, 7, 7, 7] and status(app) == EMPTY


def test_lines_that_are_not_jobs_become_dead_letters_and_the_worker_carries_on(app, runner, handler):
    runs = award_badges(handler)
    with app.app_context():
        get_redis_bytes().lpush(key("jobs"), b"not json", b"\xff\xfe not even UTF-8", b"[1, 2]",
                                b'{"job": "test.award", "args": {}, "attempt": null}',
                                b'{"id": "newer", "job": "no.such.job", "args": {"a": 1}, "attempt": 1}')
        assert jobs.enqueue(("test.award", {"badge": "坚持者"}))
    assert jobs.drain(app) == 6
    assert runs == ["坚持者"]  # the good job after them ran

    with app.app_context():
        letters = jobs.dead_letters()
    assert len(letters) == 5 and status(app) == {**EMPTY, "dead": 5}
    unknown = next(letter for letter in letters if letter["id"] == "newer")
    assert unknown["error"] == "no handler named 'no.such.job' in this version"
    not_jobs = [letter for letter in letters if "job" not in letter]
    assert sorted(letter["line"] for letter in not_jobs) == sorted([
        "not json", "\ufffd\ufffd not even UTF-8", "[1, 2]", '{"job": "test.award", "args": {}, "attempt": null}'])

    # A line that never was a job cannot be retried; it can be dropped once read.
    refused = runner.invoke(args=["jobs", "retry", not_jobs[0]["id"]])
    assert refused.exit_code == 1 and "no such dead letter that is a job" in refused.output
    assert runner.invoke(args=["jobs", "retry"]).exit_code == 2  # neither ids nor --all
    dropped = runner.invoke(args=["jobs", "drop", *(letter["id"] for letter in not_jobs)])
    assert dropped.exit_code == 0 and dropped.output.endswith("4 dead letter(s) dropped\n")

    # The job whose handler this version lacked runs once a version that has it retries it.
    handler("no.such.job", lambda a: runs.append(a))
    assert runner.invoke(args=["jobs", "retry", "--all"]).output.endswith("1 dead letter(s) queued again\n")
    assert jobs.drain(app) == 1 and runs == ["坚持者", 1] and status(app) == EMPTY


def test_redis_down_while_enqueuing_is_logged_and_the_caller_told(app, handler, caplog):
    award_badges(handler)
    with app.app_context():
        app.extensions["redis_bytes"] = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                                    retry=Retry(NoBackoff(), 0))
        assert jobs.enqueue(("test.award", {"badge": "x"})) is False
    assert "jobs ['test.award'] not queued: Redis unavailable" in caplog.text
    with pytest.raises(KeyError):  # a job no handler knows is the caller's bug, Redis or not
        jobs.enqueue(("no.such.job", {}))


# --- the worker threads --------------------------------------------------------------------------------------------

def test_a_background_worker_runs_a_job_soon_after_it_is_queued_and_leaves_cleanly(app, handler):
    ran = threading.Event()
    handler("test.mark", lambda: ran.set())
    stop = threading.Event()
    worker = threading.Thread(target=jobs.work, args=(app, stop))
    worker.start()
    try:
        time.sleep(2.5)  # idle past the Redis client's 2 s socket timeout: an idle worker must keep waiting
        assert status(app)["workers"] == 1
        with app.app_context():
            jobs.enqueue(("test.mark", {}))
        assert ran.wait(2), "the worker did not run the job"
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive() and status(app) == EMPTY  # stopped between jobs: unregistered at once
