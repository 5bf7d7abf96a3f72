"""Running a verifier from a console page, as a person and the job workers do it between them."""

from __future__ import annotations

import re

from backend import jobs
from tests.staff.conftest import Browser, Page


def run_verifier(app, browser: Browser, page: str, kind: str) -> Page:
    """Press the verifier's button on ``page``: it leads to the run's page, where the run waits for a worker; the
    workers run it (``jobs.drain``), and the run's page, finished, is what this returns."""
    form = browser.open(page).form(f"run-{kind}")
    asked = browser.submit(page, form.action)
    assert asked.status_code == 302 and re.fullmatch(r"/admin/verifications/\d+", asked.location), asked.location
    owed = browser.open(asked.location)
    assert "排队中" in owed.text("run") and owed.response.headers.get("Refresh")
    jobs.drain(app)
    done = browser.open(asked.location)
    assert done.status == 200 and "Refresh" not in done.response.headers
    return done
