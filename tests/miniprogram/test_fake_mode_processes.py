"""Fake mode in several processes: one process per database runs the fake WeChat, the others are refused.

A second fake would have its own keys and no orders: its app would refuse the first fake's notifications (401),
and its sweeper would ask a WeChat that never heard of orders paid through the first. These run real processes
against the test's own database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.envelope import refused
from tests.miniprogram.conftest import Citizen

ROOT = Path(__file__).resolve().parents[2]
HOLD_THE_FAKE = """
import sys, time
from backend.wechat.fake_lock import FakeWeChatLock
lock = FakeWeChatLock(sys.argv[1])  # kept: the lock lasts as long as its open file
lock.acquire("a development server in another terminal")
print("holding", flush=True)
time.sleep(120)
"""


def environment(app, tmp_path) -> dict[str, str]:
    """What another process needs to run on this test's database and Redis."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("WECHAT", "REDIS", "DATABASE"))}
    env.update(PYTHONPATH=str(ROOT), APP_ENV="test", DATABASE_URL=app.config["DATABASE_URL"],
               REDIS_KEY_PREFIX=app.config["REDIS_KEY_PREFIX"], SECRET_KEY="another-process",
               CERT_SIGNING_KEY_FILE=str(tmp_path / "other-process-signing.pem"))
    if app.config["REDIS_URL"]:
        env["REDIS_URL"] = app.config["REDIS_URL"]
    return env


def test_orders_sweep_in_its_own_process_is_refused_while_the_server_runs_the_fake(app, runner, tmp_path, shop,
                                                                                 citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)  # this process runs the fake WeChat, which took it
    fake_wechat.pay(order["order_no"], deliver=False)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", "orders", "sweep"], cwd=ROOT,
                            env=environment(app, tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the fake WeChat for this database already runs in process" in result.stderr
    assert f"process {os.getpid()}" in result.stderr and "Traceback" not in result.stderr
    # Nothing was swept by a WeChat that knows no orders; this process's own sweep finds the payment.
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "fulfilled"


def test_a_second_process_is_refused_until_the_first_dies_even_by_kill_9(app, client, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_FAKE, app.config["DATABASE_URL"]], cwd=ROOT,
                              env=environment(app, tmp_path), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        # This app's first WeChat call would start a second fake: refused, saying where the fake runs.
        error = refused(client.post("/api/mp/v1/auth/login", json={"code": "any"}), 503, "fake_wechat_elsewhere")
        assert f"process {holder.pid} (a development server in another terminal)" in error["message"]
        assert error["details"]["held_by"].startswith(f"process {holder.pid}")
    finally:
        holder.send_signal(signal.SIGKILL)  # no chance to clean up: the kernel drops its lock all the same
        holder.wait(timeout=30)
    assert Citizen(client).get("/me").status_code == 200  # this process runs the fake now


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_lock_sits_beside_a_sqlite_file_or_in_the_temp_directory(kind, tmp_path):
    from backend.wechat.fake_lock import lock_path

    if kind == "sqlite":
        assert lock_path(f"sqlite:///{tmp_path}/tanhui.db") == tmp_path / "tanhui.db.fake-wechat.lock"
    else:
        first, second = (lock_path(f"postgresql+psycopg://tanhui@db:5432/{name}") for name in ("a", "b"))
        assert first != second and first.name.startswith("tanhui-fake-wechat-")
