"""The app a real ``flask jobs work`` process runs in tests/test_jobs.py: backend's app, plus a job that records its
effect and then holds until the test lets go (so that the test can kill the process mid-job)."""

from __future__ import annotations

import os
import time

from backend import create_app as backend_app
from backend import jobs
from backend.cache import get_redis, key

HOLD_SECONDS = 60  # bounded, as every handler's wait must be: a forgotten hold must not hang the run


@jobs.job("test.effect_then_hold")
def effect_then_hold(badge: str) -> None:
    """Award ``badge`` once (HSETNX: the effect is keyed by what it is about, so a second run adds nothing), count
    the runs, then wait while the test holds."""
    connection = get_redis()
    connection.incr(key("test", "runs", badge))
    connection.hsetnx(key("test", "awarded"), badge, os.getpid())
    connection.set(key("test", "started", badge), os.getpid())
    deadline = time.monotonic() + HOLD_SECONDS
    while connection.exists(key("test", "hold")) and time.monotonic() < deadline:
        time.sleep(0.05)


def create_app():
    # Its worker runs the jobs the test queues, nothing of the console's schedule.
    return backend_app({"VERIFY_EVERY_SECONDS": 0, "EXPORT_SWEEP_SECONDS": 0})
