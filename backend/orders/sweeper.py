"""The order sweeper as a background job: every ORDER_SWEEP_INTERVAL_SECONDS, in one process of the deployment.

Each app process starts its sweeper thread on its first request (after gunicorn has forked it). Before each run
the thread claims the interval in Redis (SET NX with an expiry), so however many processes there are, one sweeps
per interval; if that process dies the next interval is claimed by another. ``flask orders sweep`` runs the same
``workflow.sweep`` by hand or from cron.
"""

from __future__ import annotations

import logging
import threading

import redis
from flask import Flask

from backend import certificates, wechat
from backend.cache import get_redis, key
from backend.orders import workflow
from backend.wechat.errors import WeChatUnavailable

log = logging.getLogger(__name__)


def run_once(app: Flask) -> workflow.SweepReport | None:
    """Sweep if this process wins the current interval; None if another process has it (or Redis is down)."""
    interval = app.config["ORDER_SWEEP_INTERVAL_SECONDS"]
    with app.app_context():
        try:  # before claiming the interval: a process that cannot reach WeChat must leave it to one that can
            pay = wechat.pay()
        except WeChatUnavailable as error:  # fake mode: another process runs the fake WeChat (and sweeps)
            log.warning("order sweeper skipped: %s", error.message)
            return None
        now = app.config["CLOCK"]().timestamp()
        try:
            won = get_redis().set(key("sweep", "orders", str(int(now // interval))), "1", nx=True, ex=interval * 2)
        except redis.RedisError as error:
            log.warning("order sweeper skipped: Redis unavailable: %s", error)
            return None
        if not won:
            return None
        report = workflow.sweep(pay, app.config["CLOCK"], certificates.certify())
        if (report.expired or report.settled or report.refunds_sent or report.failed or report.for_operator
                or report.waiting):
            log.info("order sweeper: %s", report)
        return report


def init_app(app: Flask) -> None:
    interval = app.config["ORDER_SWEEP_INTERVAL_SECONDS"]
    started = threading.Event()
    stop = threading.Event()
    app.extensions["order_sweeper_stop"] = stop

    def loop() -> None:
        while not stop.wait(interval):
            try:
                run_once(app)
            except Exception:  # a failed run must not end the thread; the next interval tries again
                log.exception("order sweeper run failed")

    @app.before_request
    def start_sweeper() -> None:
        if interval and not app.testing and not started.is_set():
            started.set()
            threading.Thread(target=loop, name="order-sweeper", daemon=True).start()
