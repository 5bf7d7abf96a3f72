"""Background jobs on Redis lists, delivered at least once (DESIGN.md §7): work that must never hold up a request or
a payment — a subscribe message, a leaderboard score, and next the console's verifiers, exports and vouchers.

Why a reliable list of our own rather than a queue library (issue 13)
-------------------------------------------------------------------
- RQ: its ``Worker`` forks a work horse per job, ``work()`` installs signal handlers and job timeouts use SIGALRM;
  Python allows signal handlers only in the main thread. Our workers are threads of the app process — of the one
  ``flask serve`` process in the embedded set-up, of each gunicorn worker in production — so RQ would add a third
  command to the README's two (``rq worker``), or a subclass of its worker that skips the signals. A job whose
  worker died is found by RQ's StartedJobRegistry cleanup and run again only if it was queued with a ``Retry``.
- Dramatiq: its workers are threads and its Redis broker has what we need (heartbeats, a dead worker's messages
  re-queued, dead letters), but that broker is Lua scripts, which the in-process stand-in runs only with ``lupa``
  (a second new native dependency); actors bind to one global broker at import, whereas our app factory makes a
  Redis per app (the tests make two per run); and its dead letters are deleted after a week (``dead_message_ttl``).
- The reliable-queue pattern Redis documents (an atomic move from the queue onto a worker's own processing list,
  plus a lease) needs only list, set, sorted-set and WATCH/MULTI commands that the stand-in implements. It adds no
  dependency and no process, keeps ``flask jobs`` and the JSON lines, and fits in this module.

How it works
------------
Keys, under ``REDIS_KEY_PREFIX`` (``th:jobs`` below; all job keys would need one hash tag on Redis Cluster)::

    th:jobs                  list    waiting lines: enqueue pushes on the left, workers take from the right
    th:jobs:taken:<worker>   list    what worker <worker> holds: the one job it is running
    th:jobs:lease:<worker>   string  exists while <worker> lives: set for JOB_LEASE_SECONDS, renewed every third
    th:jobs:workers          set     every worker that may hold a job: where reapers look (no SCAN)
    th:jobs:later            zset    retries, scored by when they are due
    th:jobs:dead             list    dead letters: the job, its attempts, the last error (`flask jobs dead`)

A worker renews its lease from a heartbeat thread and takes a job with BRPOPLPUSH, which moves it from the queue
onto its own list in one step: from then until it is settled the job is in Redis under the worker's name. Settling
is one MULTI: off the worker's list, and — for a failure — into ``later`` (retried after RETRY_SECONDS ×
4^(attempt − 1)) or, at the MAX_ATTEMPTS-th, onto ``dead``, where it stays until an operator retries or drops it. A
line that is not a job, or names a handler this code lacks, goes to ``dead`` at once, and the worker carries on.

Every worker is also a reaper (every JOB_LEASE_SECONDS, and at each step of ``drain``): a registered worker whose
lease has lapsed was killed (or stalled past its lease), and each job on its list is put back at the front of the
queue as its next attempt (a job that loses its worker MAX_ATTEMPTS times is a dead letter). WATCH on the lease
makes a worker that comes back in time win over its reaper.

BRPOPLPUSH is BLMOVE … RIGHT LEFT under its pre-6.2 name (deprecated, still served by Redis 7 and 8): the stand-in
(fakeredis 2.41) answers BLMOVE on an empty list at once instead of waiting, and BRPOPLPUSH waits on both.

What a handler must be (the contract for the console's verifiers, exports and voucher jobs)
-------------------------------------------------------------------------------------------
1. **Idempotent in effect.** Delivery is at least once: a job runs again when its worker dies after the effect
   but before settling, or stalls past its lease (then two runs may even overlap). So a handler either derives its
   effect from the database and writes it with set semantics (the leaderboard: ZADD GT of the total the database
   holds), or records its effect in the database under a unique key made from its arguments, in the same
   transaction as the work (an export's file row keyed by the export, a voucher keyed by its order), so a second
   run finds it done; or, for an effect outside (a WeChat message, a mail), claims it with ``claim_once`` before
   and ``release_once`` only when the other side said it did not happen: at most once.
2. **Small arguments naming database rows**, never the data itself. Redis is never the only copy of what matters:
   the queue is in Redis, which may lose it. A job whose work must happen has a database record saying it is owed
   (an export "requested", a verification "pending"), written in the transaction that asks for it; the job is the
   prompt to do it, and a sweep queues again what is still owed.
3. **Every wait bounded** (HTTP timeouts): a handler that hangs keeps its lease and its job for ever.
4. **Raise to be retried.** After MAX_ATTEMPTS the job is a dead letter, not lost.

Each app process runs ``JOB_WORKER_THREADS`` worker threads, started on its first request (after gunicorn has
forked it); ``flask jobs work`` runs a worker on its own; tests call ``drain``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import redis
import sqlalchemy.event
from flask import Flask
from sqlalchemy.orm import Session

from backend.cache import get_redis, get_redis_bytes, key

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
RETRY_SECONDS = 30
# A worker's blocking wait must end before the Redis client's socket timeout (2 s, backend/cache.py), or every idle
# wait would look like an outage.
BLOCK_SECONDS = 1
PROMOTE_BATCH = 100
# How long a claim_once marker outlives its effect: longer than any redelivery (retries take minutes) and than an
# operator's look at the dead letters.
ONCE_SECONDS = 30 * 86400
ERROR_CHARS = 500
HANDLERS: dict[str, Callable[..., None]] = {}
PERIODIC: dict[str, str] = {}
"""Jobs queued on a schedule: handler name → the setting that says every how many seconds."""


def job(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a handler under ``name``; it runs in an app context with the job's JSON arguments, and must keep
    the contract in this module's docstring (idempotent in effect)."""
    def register(handler: Callable[..., None]) -> Callable[..., None]:
        HANDLERS[name] = handler
        return handler
    return register


def periodic(name: str, every_setting: str) -> None:
    """Queue the handler ``name`` once every ``app.config[every_setting]`` seconds (0: never), whichever worker is
    first in that slot of time (a Redis SET NX per slot); its argument ``slot`` numbers the slot. Redis may forget
    a slot, so a periodic handler's record says when it last ran (the console shows one gone quiet)."""
    if name not in HANDLERS:
        raise KeyError(f"no job handler named {name!r}")
    PERIODIC[name] = every_setting


# --- lines and keys ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Keys:
    """This deployment's job keys, resolved once in an app context so that heartbeat threads need none."""

    queue: str
    later: str
    dead: str
    workers: str

    @classmethod
    def here(cls) -> Keys:
        queue = key("jobs")
        return cls(queue=queue, later=f"{queue}:later", dead=f"{queue}:dead", workers=f"{queue}:workers")

    def taken(self, worker: str) -> str:
        return f"{self.queue}:taken:{worker}"

    def lease(self, worker: str) -> str:
        return f"{self.queue}:lease:{worker}"


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    args: dict[str, Any]
    attempt: int

    def line(self, attempt: int | None = None) -> bytes:
        return json.dumps({"id": self.id, "job": self.name, "args": self.args,
                           "attempt": attempt or self.attempt}).encode()


class Malformed(ValueError):
    """A line that is not a job at all."""


def _id_of(line: bytes) -> str:
    """A stable id for a line that carries none (malformed, or queued before jobs had ids)."""
    return hashlib.sha256(line).hexdigest()[:16]


def parse(line: bytes) -> Job:
    try:
        item = json.loads(line)  # bytes: UTF-8 or not, a bad line is a ValueError here
        name, args, attempt = item["job"], item["args"], item["attempt"]
    except (ValueError, KeyError, TypeError) as error:
        raise Malformed(f"not a job line ({error.__class__.__name__})") from None
    if not isinstance(name, str) or not isinstance(args, dict) or type(attempt) is not int or attempt < 1:
        raise Malformed("not a job line (job, args or attempt of the wrong type)")
    job_id = item.get("id")
    return Job(job_id if isinstance(job_id, str) else _id_of(line), name, args, attempt)


def retry_delay(attempt: int) -> int:
    """Seconds before the attempt after ``attempt``: 30 s, then 2 min (a busy WeChat has time to recover)."""
    return RETRY_SECONDS * 4 ** (attempt - 1)


def _dead_letter(line: bytes, error: str, worker: str, job: Job | None) -> bytes:
    letter: dict[str, Any] = {"error": error[:ERROR_CHARS], "worker": worker,
                              "died_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if job is None:  # kept as text, so an operator can read what was queued
        letter.update(id=_id_of(line), line=line.decode("utf-8", "replace")[:2000])
    else:
        letter.update(id=job.id, job=job.name, args=job.args, attempt=job.attempt)
    return json.dumps(letter, ensure_ascii=False).encode()


def _error_text(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}"


# --- queueing ------------------------------------------------------------------------------------------------------

def enqueue(*jobs: tuple[str, dict[str, Any]]) -> bool:
    """Queue jobs ``(name, args)`` in one round trip (call it after the commit they follow); False, logged, if
    Redis is down."""
    for name, _ in jobs:
        if name not in HANDLERS:
            raise KeyError(f"no job handler named {name!r}")
    lines = [Job(secrets.token_hex(8), name, args, 1).line() for name, args in jobs]
    try:
        get_redis_bytes().lpush(Keys.here().queue, *lines)
    except redis.RedisError as error:
        log.warning("jobs %s not queued: Redis unavailable: %s", [name for name, _ in jobs], error)
        return False
    return True


def enqueue_after_commit(session: Session, *jobs: tuple[str, dict[str, Any]]) -> None:
    """Queue jobs once ``session``'s transaction commits, never if it rolls back: for work a transaction decides
    (a paid staff list's vouchers) that must not start before what it reads is there. Queued inside a savepoint
    (``begin_nested``), they go if that savepoint is rolled back, and otherwise wait for the outermost commit:
    releasing a savepoint commits nothing. If Redis is down then, the record stays owed and its sweep queues it
    again (handler contract 2)."""
    for name, _ in jobs:
        if name not in HANDLERS:
            raise KeyError(f"no job handler named {name!r}")
    within = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_AFTER_COMMIT, []).extend((within, job) for job in jobs)


_AFTER_COMMIT = "jobs_after_commit"


def _inside(transaction: Any, ended: Any) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@sqlalchemy.event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: its jobs wait for the transaction's commit
        return
    owed = session.info.pop(_AFTER_COMMIT, None)
    if owed:
        enqueue(*(job for _, job in owed))


@sqlalchemy.event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: Any) -> None:
    """The jobs queued within what was rolled back (a savepoint, or the whole transaction) go; the others stay."""
    owed = session.info.get(_AFTER_COMMIT)
    if owed:
        session.info[_AFTER_COMMIT] = [(within, job) for within, job in owed
                                       if previous_transaction.parent is not None
                                       and not _inside(within, previous_transaction)]


@sqlalchemy.event.listens_for(Session, "after_transaction_end")
def _forget_unfinished(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # closed without a commit (a commit has taken its jobs already)
        session.info.pop(_AFTER_COMMIT, None)


# --- a worker ------------------------------------------------------------------------------------------------------

Outcome = tuple[str, Any]  # ("done", None) | ("later", (line, due_at)) | ("dead", letter)


class Worker:
    """One worker: its own list in Redis, and a lease its heartbeat thread renews while the process lives.

    Use it as a context manager (the heartbeat runs inside); ``run_next`` takes and runs one job.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        with app.app_context():
            self.redis = get_redis_bytes()  # bytes: a line that is not UTF-8 must not break the worker
            self.keys = Keys.here()
        self.lease_seconds = app.config["JOB_LEASE_SECONDS"]
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.taken = self.keys.taken(self.name)
        self.lease = self.keys.lease(self.name)
        self._stopping = threading.Event()
        self._heart: threading.Thread | None = None
        self._beaten_at = float("-inf")
        self._reap_at = 0.0
        self._unsettled: tuple[bytes, Outcome] | None = None
        self._unsure = False  # a Redis error mid-step: what this worker holds must be checked before the next job

    # lease and registration

    def __enter__(self) -> Worker:
        self._heart = threading.Thread(target=self._heartbeat, name=f"job-heartbeat-{self.name}", daemon=True)
        self._heart.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        if self._heart is not None:
            self._heart.join(5)
        with suppress(redis.RedisError):
            self._leave()

    def beat(self) -> None:
        """Renew the lease, and be (again) where reapers look: one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.lease, b"1", px=int(self.lease_seconds * 1000))
            pipe.sadd(self.keys.workers, self.name)
            pipe.execute()
        self._beaten_at = time.monotonic()

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.lease_seconds / 3):
            try:
                self.beat()
            except redis.RedisError as error:  # the lease may lapse: then a reaper hands our job on (at least once)
                log.warning("job worker %s: lease not renewed: Redis unavailable: %s", self.name, error)

    def _leave(self) -> None:
        """Unregister; but a job still held keeps it registered, so that when the lease lapses it is handed on."""
        with self.redis.pipeline() as pipe:
            pipe.watch(self.taken)
            if pipe.llen(self.taken):
                return
            pipe.multi()
            pipe.delete(self.lease)
            pipe.srem(self.keys.workers, self.name)
            pipe.execute()

    # taking, running and settling a job

    def take(self, block_seconds: float = 0) -> bytes | None:
        """Move the next job from the queue onto this worker's own list, atomically; None when none came."""
        if time.monotonic() - self._beaten_at > self.lease_seconds / 3:
            self.beat()  # registered with a fresh lease before holding anything a reaper must be able to find
        if block_seconds:
            return self.redis.brpoplpush(self.keys.queue, self.taken, timeout=block_seconds)
        return self.redis.lmove(self.keys.queue, self.taken, "RIGHT", "LEFT")

    def run(self, line: bytes) -> None:
        """Run a line this worker took, then settle it."""
        outcome = self._outcome(line)
        self._unsettled = (line, outcome)
        self._settle(line, outcome)
        self._unsettled = None

    def run_next(self, block_seconds: float = 0) -> bool:
        """Take one job and run it; False when none was waiting (within ``block_seconds``, if blocking)."""
        try:
            if self._unsure:
                self._recover()
            line = self.take(block_seconds)
            if line is None:
                return False
            self.run(line)
            return True
        except redis.RedisError:
            self._unsure = True
            raise

    def _outcome(self, line: bytes) -> Outcome:
        try:
            job = parse(line)
        except Malformed as error:
            log.error("job line kept as a dead letter: %s: %.200r", error, line)
            return "dead", _dead_letter(line, str(error), self.name, None)
        handler = HANDLERS.get(job.name)
        if handler is None:  # e.g. queued by a newer version during a rolling deploy: `flask jobs retry` it later
            log.error("job %s %s kept as a dead letter: no handler of that name here", job.name, job.id)
            return "dead", _dead_letter(line, f"no handler named {job.name!r} in this version", self.name, job)
        try:
            with self.app.app_context():
                handler(**job.args)
        except Exception as error:  # a job's failure is retried later, then kept; it never reaches a request
            return self._failed(line, job, error)
        return "done", None

    def _failed(self, line: bytes, job: Job, error: Exception) -> Outcome:
        if job.attempt < MAX_ATTEMPTS:
            delay = retry_delay(job.attempt)
            log.warning("job %s %s failed (attempt %d of %d); retried in %d s", job.name, job.id, job.attempt,
                        MAX_ATTEMPTS, delay, exc_info=error)
            return "later", (job.line(job.attempt + 1), time.time() + delay)
        log.error("job %s %s failed %d times; kept as a dead letter (flask jobs dead)", job.name, job.id,
                  job.attempt, exc_info=error)
        return "dead", _dead_letter(line, _error_text(error), self.name, job)

    def _settle(self, line: bytes, outcome: Outcome) -> None:
        """Off this worker's list and, for a failure, into the retries or the dead letters: all or nothing. Only
        while the worker still holds the job: if its lease lapsed and the reaper handed the job on, the other
        worker's run is the one that counts, and a retry queued from here as well would make two of it."""
        self._settle_again(line, outcome)

    def _settling(self, pipe, line: bytes, outcome: Outcome) -> None:
        kind, value = outcome
        pipe.lrem(self.taken, 1, line)
        if kind == "later":
            retry, due_at = value
            pipe.zadd(self.keys.later, {retry: due_at})
        elif kind == "dead":
            pipe.rpush(self.keys.dead, value)

    def _settle_again(self, line: bytes, outcome: Outcome) -> None:
        """Settle if this worker still holds the job (not if a first try did, its reply lost with the connection,
        nor if the reaper took it back): no retry or dead letter twice."""
        def settle(pipe) -> None:
            held = pipe.lpos(self.taken, line) is not None
            pipe.multi()
            if held:
                self._settling(pipe, line, outcome)
        self.redis.transaction(settle, self.taken)

    def _recover(self) -> None:
        """After a Redis error mid-step: settle what ran, and put back at the front what was taken but not run
        (a reply lost after the move). Without this a live worker would hold such a job for ever."""
        if self._unsettled is not None:
            self._settle_again(*self._unsettled)
            self._unsettled = None
        moved = True
        while moved:  # every job taken and not run, back to the front of the queue
            moved = self.redis.lmove(self.taken, self.keys.queue, "RIGHT", "RIGHT") is not None
        self._unsure = False

    # upkeep: due retries, and jobs of workers that died

    def maintain(self, *, everything: bool = False, scheduling: bool = False) -> None:
        """Queue the retries that are due (all of them if ``everything``), and reap every JOB_LEASE_SECONDS; with
        ``scheduling`` (a worker's loop, not ``drain``), queue the periodic jobs whose slot has come then too."""
        self._promote("+inf" if everything else time.time())
        if everything or time.monotonic() >= self._reap_at:
            self._reap_at = time.monotonic() + self.lease_seconds
            self.reap()
            if scheduling:
                self.schedule(time.time())

    def schedule(self, now: float) -> list[str]:
        """Queue each periodic job whose current slot no worker has queued yet; the names queued."""
        queued = []
        for name, setting in PERIODIC.items():
            every = self.app.config[setting]
            if not every:  # off
                continue
            slot = int(now // every)
            claim = f"{self.keys.queue}:periodic:{name}:{slot}"
            if self.redis.set(claim, b"1", nx=True, ex=int(every) * 2):
                line = Job(secrets.token_hex(8), name, {"slot": slot}, 1).line()
                self.redis.lpush(self.keys.queue, line)
                queued.append(name)
        return queued

    def _promote(self, due_by: float | str) -> int:
        later = self.keys.later
        if not self.redis.zrangebyscore(later, "-inf", due_by, start=0, num=1):
            return 0  # the common case, in one round trip
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(later)  # two workers promoting at once: one wins, the other retries next time
                due = pipe.zrangebyscore(later, "-inf", due_by, start=0, num=PROMOTE_BATCH)
                if not due:
                    return 0
                pipe.multi()
                pipe.zrem(later, *due)
                pipe.lpush(self.keys.queue, *due)
                pipe.execute()
            except redis.WatchError:
                return 0
        return len(due)

    def reap(self) -> int:
        """Hand on the jobs of every worker whose lease lapsed; how many jobs."""
        others = [member.decode() for member in self.redis.smembers(self.keys.workers)
                  if member.decode() != self.name]
        if not others:
            return 0
        with self.redis.pipeline(transaction=False) as pipe:
            for name in others:
                pipe.exists(self.keys.lease(name))
            alive = pipe.execute()
        return sum(self._reap(name) for name, living in zip(others, alive) if not living)

    def _reap(self, name: str) -> int:
        lease, taken = self.keys.lease(name), self.keys.taken(name)
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(lease, taken)  # a worker that renews its lease now wins: nothing is handed on
                if pipe.exists(lease):
                    return 0
                held = pipe.lrange(taken, 0, -1)
                decisions = [self._hand_on(line, name) for line in held]
                pipe.multi()
                for target, line in decisions:
                    pipe.rpush(target, line)  # the queue's front (its right end): it has waited long enough
                pipe.delete(taken)
                pipe.srem(self.keys.workers, name)
                pipe.execute()
            except redis.WatchError:
                return 0
        for target, line in decisions:
            log.warning("job worker %s lost (killed, or stalled past its lease) holding %.200r: %s", name, line,
                        "kept as a dead letter" if target == self.keys.dead else "queued again")
        return len(held)

    def _hand_on(self, line: bytes, lost: str) -> tuple[str, bytes]:
        """Where a job of a lost worker goes: the queue as its next attempt, or the dead letters after the last."""
        try:
            job = parse(line)
        except Malformed as error:
            return self.keys.dead, _dead_letter(line, str(error), lost, None)
        if job.attempt < MAX_ATTEMPTS:
            return self.keys.queue, job.line(job.attempt + 1)
        return self.keys.dead, _dead_letter(line, f"its worker was lost during attempt {job.attempt} ({lost})",
                                            lost, job)


def drain(app: Flask) -> int:
    """Run every queued job, retries included however far off they are, and the jobs of workers whose lease has
    lapsed, until none is left; how many lines were taken."""
    count = 0
    with Worker(app) as worker:
        while True:
            worker.maintain(everything=True)
            if not worker.run_next():
                return count
            count += 1


def work(app: Flask, stop: threading.Event, *, block_seconds: float = BLOCK_SECONDS) -> None:
    """A worker's loop: run jobs as they come until ``stop`` is set. Nothing that goes wrong ends it."""
    with Worker(app) as worker:
        while not stop.is_set():
            try:
                worker.maintain(scheduling=True)
                worker.run_next(block_seconds)
            except redis.RedisError as error:  # Redis away: wait, then try again
                log.warning("job worker: Redis unavailable: %s", error)
                stop.wait(5)
            except Exception:
                log.exception("job worker: unexpected error; carrying on")
                stop.wait(1)


# --- at most once, for effects outside ----------------------------------------------------------------------------

def claim_once(*parts: str, keep_seconds: int = ONCE_SECONDS) -> bool:
    """Claim an effect named by ``parts`` (SET NX): True for the first claim only. For effects outside this
    system that a second run must not repeat (a message); release_once when the other side said no."""
    return bool(get_redis().set(key("jobs", "once", *parts), "1", nx=True, ex=keep_seconds))


def release_once(*parts: str) -> None:
    get_redis().delete(key("jobs", "once", *parts))


# --- for operators: status and dead letters ------------------------------------------------------------------------

def status() -> dict[str, int]:
    connection, keys = get_redis_bytes(), Keys.here()
    workers = [member.decode() for member in connection.smembers(keys.workers)]
    with connection.pipeline(transaction=False) as pipe:
        pipe.llen(keys.queue)
        pipe.zcard(keys.later)
        pipe.llen(keys.dead)
        for name in workers:
            pipe.llen(keys.taken(name))
        queued, later, dead, *held = pipe.execute()
    return {"queued": queued, "running": sum(held), "workers": len(workers), "later": later, "dead": dead}


def _letter(raw: bytes) -> dict[str, Any]:
    try:
        letter = json.loads(raw)
        if not isinstance(letter, dict) or not isinstance(letter.get("id"), str):
            raise ValueError
    except ValueError:  # pushed there by hand, say: still listed, so it can be dropped
        letter = {"id": _id_of(raw), "line": raw.decode("utf-8", "replace"), "error": "unreadable dead letter"}
    return {**letter, "raw": raw}


def dead_letters() -> list[dict[str, Any]]:
    """The dead letters, oldest first; each with ``raw``, its stored form."""
    keys = Keys.here()
    return [_letter(raw) for raw in get_redis_bytes().lrange(keys.dead, 0, -1)]


def _take_dead(ids: Iterable[str] | None, *, runnable_only: bool) -> list[dict[str, Any]]:
    """Remove the chosen dead letters (all when ``ids`` is None) and, if ``runnable_only``, queue each again at
    attempt 1 — in one transaction, so that a letter is never both gone and not queued. The letters acted on."""
    connection, keys = get_redis_bytes(), Keys.here()
    wanted = None if ids is None else set(ids)
    chosen: list[dict[str, Any]] = []

    def move(pipe) -> None:
        letters = [_letter(raw) for raw in pipe.lrange(keys.dead, 0, -1)]
        chosen[:] = [letter for letter in letters if (wanted is None or letter["id"] in wanted)
                     and (not runnable_only or _runnable(letter))]
        pipe.multi()
        for letter in chosen:
            pipe.lrem(keys.dead, 1, letter["raw"])
            if runnable_only:
                pipe.lpush(keys.queue, Job(letter["id"], letter["job"], letter["args"], 1).line())

    connection.transaction(move, keys.dead)
    return chosen


def _runnable(letter: dict[str, Any]) -> bool:
    return isinstance(letter.get("job"), str) and isinstance(letter.get("args"), dict)


def retry_dead(ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Queue the chosen dead letters again (all when ``ids`` is None), from attempt 1; lines that were never jobs
    stay (drop them). The letters queued."""
    return _take_dead(ids, runnable_only=True)


def drop_dead(ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Forget the chosen dead letters (all when ``ids`` is None). The letters dropped."""
    return _take_dead(ids, runnable_only=False)


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
