"""Background jobs on a Redis list (DESIGN.md §7): work that must never hold up a request or a payment — a
subscribe message, a leaderboard score.

Jobs are best effort by design: the database holds everything that matters, and what a job derives from it is
either repaired elsewhere (boards are rebuilt) or harmless to lose (a message). So a job is a JSON line pushed after
the unit of work committed. A failing job waits in a sorted set (score: when it is due) and is retried after
``RETRY_SECONDS`` × 4^(attempt − 1), at most ``MAX_ATTEMPTS`` times in all, then dropped with an error in the log;
a job taken by a process that dies is lost.

Each app process runs ``JOB_WORKER_THREADS`` worker threads, started on its first request (after gunicorn has
forked it); ``flask jobs work`` runs a worker on its own; tests call ``drain``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask

from backend.cache import get_redis, key

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
RETRY_SECONDS = 30
# A worker's blocking wait must end before the Redis client's socket timeout (2 s, backend/cache.py), or every idle
# wait would look like an outage.
BLOCK_SECONDS = 1
HANDLERS: dict[str, Callable[..., None]] = {}


def job(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a handler under ``name``; it runs in an app context with the job's JSON arguments."""
    def register(handler: Callable[..., None]) -> Callable[..., None]:
        HANDLERS[name] = handler
        return handler
    return register


def _queue() -> str:
    return key("jobs")


def _later() -> str:
    return key("jobs", "later")


def enqueue(*jobs: tuple[str, dict[str, Any]]) -> bool:
    """Queue jobs ``(name, args)`` in one round trip (call it after the commit they follow); False, logged, if
    Redis is down."""
    for name, _ in jobs:
        if name not in HANDLERS:
            raise KeyError(f"no job handler named {name!r}")
    try:
        get_redis().rpush(_queue(), *(json.dumps({"job": name, "args": args, "attempt": 1}) for name, args in jobs))
    except redis.RedisError as error:
        log.warning("jobs %s not queued: Redis unavailable: %s", [name for name, _ in jobs], error)
        return False
    return True


def _parse(line: str) -> tuple[str, dict[str, Any], int] | None:
    try:
        item = json.loads(line)
        name, args, attempt = item["job"], item["args"], item["attempt"]
    except (ValueError, KeyError, TypeError):
        return None
    if name not in HANDLERS or not isinstance(args, dict) or type(attempt) is not int:
        return None
    return name, args, attempt


def _run(line: str) -> None:
    parsed = _parse(line)
    if parsed is None:
        log.error("job dropped: not a job this code knows: %.200s", line)
        return
    name, args, attempt = parsed
    try:
        HANDLERS[name](**args)
    except Exception:  # a job's failure is retried later, then logged; it never reaches a request
        if attempt < MAX_ATTEMPTS:
            delay = RETRY_SECONDS * 4 ** (attempt - 1)
            log.warning("job %s failed (attempt %d of %d); retried in %d s", name, attempt, MAX_ATTEMPTS, delay,
                        exc_info=True)
            again = json.dumps({"job": name, "args": args, "attempt": attempt + 1})
            get_redis().zadd(_later(), {again: time.time() + delay})
        else:
            log.exception("job %s failed %d times; dropped: %.200s", name, attempt, line)


def _promote(due_by: float) -> None:
    """Move retries due by ``due_by`` back onto the queue; ZREM decides which worker moves each one."""
    connection = get_redis()
    for line in connection.zrangebyscore(_later(), "-inf", due_by, start=0, num=100):
        if connection.zrem(_later(), line):
            connection.rpush(_queue(), line)


def run_next(app: Flask, *, block_seconds: float = 0) -> bool:
    """Take one job and run it; False when none was waiting (within ``block_seconds``, if blocking)."""
    with app.app_context():
        connection = get_redis()
        _promote(time.time())
        if block_seconds:
            taken = connection.blpop([_queue()], timeout=block_seconds)
            line = taken[1] if taken else None
        else:
            line = connection.lpop(_queue())
        if line is None:
            return False
        _run(line)
        return True


def drain(app: Flask) -> int:
    """Run every queued job, retries included however far off they are, until none is left; how many ran."""
    count = 0
    while True:
        with app.app_context():
            _promote(float("inf"))
        if not run_next(app):
            return count
        count += 1


def work(app: Flask, stop: threading.Event, *, block_seconds: float = BLOCK_SECONDS) -> None:
    """A worker's loop: run jobs as they come until ``stop`` is set. Nothing that goes wrong ends it."""
    while not stop.is_set():
        try:
            run_next(app, block_seconds=block_seconds)
        except redis.RedisError as error:  # Redis away: wait, then try again
            log.warning("job worker: Redis unavailable: %s", error)
            stop.wait(5)
        except Exception:
            log.exception("job worker: unexpected error; carrying on")
            stop.wait(1)


def init_app(app: Flask) -> None:
    threads = app.config["JOB_WORKER_THREADS"]
    started = threading.Event()
    starting = threading.Lock()
    stop = threading.Event()
    app.extensions["job_worker_stop"] = stop

    @app.before_request
    def start_workers() -> None:
        if not threads or app.testing or started.is_set():
            return
        with starting:  # two first requests at once start one set of workers
            if started.is_set():
                return
            started.set()
            for number in range(threads):
                threading.Thread(target=work, args=(app, stop), name=f"job-worker-{number}", daemon=True).start()
