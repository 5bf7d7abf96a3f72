"""Background jobs on a Redis list (DESIGN.md §7): work that must never hold up a request or a payment — a
subscribe message, a leaderboard score.

Jobs are best effort by design: the database holds everything that matters, and what a job derives from it is
either repaired elsewhere (boards are rebuilt) or harmless to lose (a message). So a job is a JSON line pushed after
the unit of work committed; a failing job is retried ``MAX_ATTEMPTS`` times, then dropped with an error in the log;
a job taken by a process that dies is lost.

Each app process runs ``JOB_WORKER_THREADS`` worker threads, started on its first request (after gunicorn has
forked it); ``flask jobs work`` runs a worker on its own; tests call ``drain``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask

from backend.cache import get_redis, key

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
HANDLERS: dict[str, Callable[..., None]] = {}


def job(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a handler under ``name``; it runs in an app context with the job's JSON arguments."""
    def register(handler: Callable[..., None]) -> Callable[..., None]:
        HANDLERS[name] = handler
        return handler
    return register


def _queue() -> str:
    return key("jobs")


def enqueue(name: str, **args: Any) -> bool:
    """Queue a job (call it after the commit it follows); False, logged, if Redis is down."""
    if name not in HANDLERS:
        raise KeyError(f"no job handler named {name!r}")
    try:
        get_redis().rpush(_queue(), json.dumps({"job": name, "args": args, "attempt": 1}))
    except redis.RedisError as error:
        log.warning("job %s not queued: Redis unavailable: %s", name, error)
        return False
    return True


def _run(line: str) -> None:
    try:
        item = json.loads(line)
        handler, args, attempt = HANDLERS[item["job"]], item["args"], item["attempt"]
    except (ValueError, KeyError, TypeError):
        log.error("job dropped: not a job this code knows: %.200s", line)
        return
    try:
        handler(**args)
    except Exception:  # a job's failure is retried, then logged; it never reaches a request
        if attempt < MAX_ATTEMPTS:
            log.warning("job %s failed (attempt %d of %d); queued again", item["job"], attempt, MAX_ATTEMPTS,
                        exc_info=True)
            get_redis().rpush(_queue(), json.dumps({**item, "attempt": attempt + 1}))
        else:
            log.exception("job %s failed %d times; dropped: %.200s", item["job"], attempt, line)


def run_next(app: Flask, *, block_seconds: float = 0) -> bool:
    """Take one job and run it; False when none was waiting (within ``block_seconds``, if blocking)."""
    with app.app_context():
        connection = get_redis()
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
    """Run queued jobs until none is left (what a worker would do); how many ran."""
    count = 0
    while run_next(app):
        count += 1
    return count


def work(app: Flask, stop: threading.Event, *, block_seconds: float = 5) -> None:
    """A worker's loop: run jobs as they come until ``stop`` is set."""
    while not stop.is_set():
        try:
            run_next(app, block_seconds=block_seconds)
        except redis.RedisError as error:  # Redis away: wait, then try again
            log.warning("job worker: Redis unavailable: %s", error)
            stop.wait(block_seconds)


def init_app(app: Flask) -> None:
    threads = app.config["JOB_WORKER_THREADS"]
    started = threading.Event()
    stop = threading.Event()
    app.extensions["job_worker_stop"] = stop

    @app.before_request
    def start_workers() -> None:
        if threads and not app.testing and not started.is_set():
            started.set()
            for number in range(threads):
                threading.Thread(target=work, args=(app, stop), name=f"job-worker-{number}", daemon=True).start()
