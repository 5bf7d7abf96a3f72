"""Exporting a console list as a person and the job workers do it between them."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlsplit

from backend import jobs
from tests.staff.conftest import Browser


def exported(app, browser: Browser, page: str, kind: str) -> tuple[str, list[dict[str, str]]]:
    """Press the list's export button on ``page`` (its filters go with it): the export's page shows it queued; the
    workers write it (``jobs.drain``); what comes back is the downloaded file's text and its lines."""
    form = browser.open(page).form(f"export-{kind}")
    query = form.field("query").get("value", "")
    assert query == urlsplit(page).query, (query, page)
    asked = browser.submit(page, form.action, {"query": query})
    assert asked.status_code == 302 and re.fullmatch(r"/admin/exports/\d+", asked.location), asked.location
    assert "排队中" in browser.open(asked.location).text("export")
    jobs.drain(app)
    done = browser.get(f"{asked.location}/file")
    assert done.status_code == 200 and done.mimetype == "text/csv"
    text = done.get_data(as_text=True).lstrip("\ufeff")
    return text, list(csv.DictReader(io.StringIO(text)))
