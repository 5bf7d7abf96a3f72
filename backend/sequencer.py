"""The sequencer: seals committed audit events into the chain and appends signed certificates to the transparency
log, in batches, shortly after the transactions that wrote them commit (issue 17).

Both used to be appended inside every ledger transaction, each under a single locked head row, so all purchases of
all processes queued on two rows and adding workers made the product slower. Now those transactions only insert
(an unsealed event, a queued certificate) and this loop, in each app process, every SEQUENCER_INTERVAL_MS, takes
each head with FOR UPDATE SKIP LOCKED: one process does the work, the others find the head taken and skip. A
batch is one short transaction: thousands of events or certificates cost one head update and one tree head.

The delay this adds is stated and checked: ``flask audit verify``, ``flask log verify`` and ``flask ledger check``
fail when an event has waited longer than SEAL_DELAY_SECONDS (the sequencer is not running); the verify page says
"inclusion pending" until a certificate is in the log. ``flask seal`` runs one pass by hand (or from cron when
SEQUENCER_INTERVAL_MS is 0); tests call ``run_once``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Flask

from backend import audit, certificates
from backend.certificates.keys import KeyFileError
from backend.db import atomic
from backend.transparency import log as transparency_log

log = logging.getLogger(__name__)
MAX_BACKOFF = 64  # after failures, wait up to this many intervals (32 s at 500 ms) between passes


@dataclass(frozen=True)
class Pass:
    events: int
    certificates: int

    def __str__(self) -> str:
        return f"sealed {self.events} audit event(s), appended {self.certificates} certificate(s) to the log"


def run_once(app: Flask) -> Pass:
    """Seal and merge until nothing committed is left over (or another process holds a head)."""
    return Pass(seal_events(app), merge_certificates(app))


def seal_events(app: Flask) -> int:
    with app.app_context():
        events = 0
        while sealed := atomic(audit.seal):
            events += sealed
            if sealed < audit.log.SEAL_BATCH:
                break
        return events


def merge_certificates(app: Flask) -> int:
    with app.app_context():
        try:
            ring = certificates.key_ring()
        except KeyFileError:  # production started without its key (/healthz says so): no certificate to log either
            return 0
        clock, merged = app.config["CLOCK"], 0
        while appended := atomic(lambda session: transparency_log.merge(session, clock(), ring)):
            merged += appended
            if appended < transparency_log.MERGE_BATCH:
                break
        return merged


def init_app(app: Flask) -> None:
    interval = app.config["SEQUENCER_INTERVAL_MS"] / 1000
    started = threading.Event()
    starting = threading.Lock()
    stop = threading.Event()
    app.extensions["sequencer_stop"] = stop

    def loop() -> None:
        failures = 0
        while not stop.wait(interval * min(2 ** failures, MAX_BACKOFF)):  # a broken database: fewer, not 2 a second
            failed = False
            for step in (seal_events, merge_certificates):  # one failing must not hold up the other
                try:
                    step(app)
                except Exception:  # nor end the thread: the next pass tries again
                    failed = True
                    log.exception("sequencer: %s failed", step.__name__)
            failures = failures + 1 if failed else 0

    @app.before_request
    def start_sequencer() -> None:
        if not interval or app.testing or started.is_set():
            return
        with starting:  # after gunicorn has forked: each process its own thread
            if started.is_set():
                return
            started.set()
            threading.Thread(target=loop, name="sequencer", daemon=True).start()
