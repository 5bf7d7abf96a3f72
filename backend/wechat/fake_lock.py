"""One process per database runs the fake WeChat; any other process that would start a second one is refused.

Why: the fake holds WeChat's side in memory — the merchant keys it made at start, the orders it was asked to
prepay, which of them were paid. A second process (another gunicorn worker, ``flask orders sweep`` run by hand)
would start a second fake with other keys and no orders: its app refuses the first fake's notifications as
forged (401), and its sweeper, asking a WeChat that never heard of the orders, would release orders that were
paid. Sharing that state between processes would mean a shared fake server outliving any one of them — far more
machinery than a development stand-in deserves — so the first process owns the fake and the others say why not.

The lock is ``flock`` on a file: the kernel drops it when its holder exits however it exits (kill -9 included),
so there is no stale lock to clean up and no timeout to tune; the next process to ask takes it over. The file
sits beside the SQLite database it guards (pytest's temporary directories take it away with the database), or, for
a server database, in the temp directory under a hash of the URL. The file stays after release: deleting a lock
file races with a process that has just opened it. POSIX only, like the rest of the fake-mode tooling.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from backend.wechat.errors import WeChatUnavailable


class FakeWeChatElsewhere(WeChatUnavailable):
    """Another process runs the fake WeChat for this database."""

    code = "fake_wechat_elsewhere"


def lock_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".fake-wechat.lock")
    digest = hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"tanhui-fake-wechat-{digest}.lock"


class FakeWeChatLock:
    """Held by the process whose fake WeChat serves ``database_url``, from ``acquire`` until ``release`` or exit."""

    def __init__(self, database_url: str) -> None:
        self.path = lock_path(database_url)
        self._file: IO[str] | None = None

    def acquire(self, holder: str) -> None:
        """Take the lock, recording ``holder`` (pid, where the fake listens) for whoever is refused next."""
        if self._file is not None:
            return
        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for as long as the lock is
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: someone alive holds it
            file.seek(0)
            other = file.read().strip() or "another process"
            file.close()
            raise FakeWeChatElsewhere(
                f"模拟微信已在另一进程中运行 (the fake WeChat for this database already runs in {other}); "
                "fake mode serves from one process: run `flask --app backend serve` or `gunicorn --workers 1 "
                "--threads N` and let its own sweeper run, or use WECHAT_MODE=live",
                details={"lock": str(self.path), "held_by": other}) from None
        file.seek(0)
        file.truncate()
        file.write(f"process {os.getpid()} ({holder})")
        file.flush()
        self._file = file

    def release(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.truncate(0)
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
            file.close()
