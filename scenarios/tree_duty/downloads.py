"""What an organisation takes away of a staff list's vouchers: a CSV (streamed from the database as it is sent) and
a ZIP of one PDF per voucher.

A PDF takes about 0.15 s to draw with a font cut for the batch (0.5 s with the whole face), so a ZIP of thousands
is never built inside a request: asking for it records the request on the list (``archive_status`` requested) and
queues a job, which writes the file under the app's ``FILES_DIR``, counting its progress on the list, and marks it
ready. The record is what is owed; a lost
job is queued again by asking once more.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Response, current_app, send_file
from sqlalchemy import select
from sqlmodel import Session

from backend import jobs
from backend.certificates import render
from backend.certificates.images import verify_url
from backend.certificates.models import Certificate
from backend.certificates.service import public_view
from backend.csvfile import csv_stream, csv_text
from backend.db import atomic, read
from backend.errors import Conflict
from scenarios.tree_duty.models import DutyRoster, DutyRosterEntry, DutyVoucher
from scenarios.tree_duty.roster import get_roster

log = logging.getLogger(__name__)
ARCHIVE_JOB = "tree_duty.build_archive"
PAGE = 500  # entries read per query while streaming the CSV or filling the ZIP
PROGRESS_EVERY = 50  # PDFs between two progress writes
COLUMNS = ("姓名 name", "工号 staff_no", "尽责年度 year", "凭证类别 tier", "折合株数 trees", "金额(元) amount_yuan",
           "凭证编号 voucher_no", "核验地址 verify_url")
TIER_LABELS = {"duty": "尽责", "honour": "荣誉"}
UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


def _issued(roster_id: int) -> Iterator[tuple[DutyRosterEntry, DutyVoucher, Certificate]]:
    """The list's people with their voucher, in the order of its lines: a page of entries per unit of work, their
    vouchers found by person (indexed), so that memory and each query stay small whatever the list's length."""
    last = 0
    while True:
        def page(s):
            entries = list(s.execute(select(DutyRosterEntry).where(
                DutyRosterEntry.roster_id == roster_id, DutyRosterEntry.paid_for.is_(True),
                DutyRosterEntry.line > last).order_by(DutyRosterEntry.line).limit(PAGE)).scalars())
            found = {voucher.person: (voucher, certificate) for voucher, certificate in s.execute(
                select(DutyVoucher, Certificate).join(Certificate, Certificate.id == DutyVoucher.certificate_id)
                .where(DutyVoucher.person.in_([f"staff:{entry.id}" for entry in entries])))}
            return entries, found
        entries, found = read(page)
        for entry in entries:
            if (pair := found.get(f"staff:{entry.id}")) is not None:
                yield entry, *pair
        if len(entries) < PAGE:
            return
        last = entries[-1].line


def _csv_row(base: str, entry: DutyRosterEntry, voucher: DutyVoucher, certificate: Certificate) -> list[Any]:
    return [entry.name, entry.staff_no, voucher.year, TIER_LABELS[voucher.tier], voucher.trees,
            f"{voucher.amount_fen / 100:.2f}", certificate.number, f"{base}/v/{certificate.number}"]


def vouchers_csv(roster: DutyRoster) -> Response:
    """The list's vouchers as CSV (UTF-8 with BOM, for Excel): name, staff number, year, tier, trees, amount,
    voucher number, verify URL."""
    base = current_app.config["PUBLIC_BASE_URL"]
    rows = (_csv_row(base, *found) for found in _issued(roster.id))
    return csv_stream(COLUMNS, rows, f"tree-duty-{roster.year}-list-{roster.id}-vouchers.csv")


# --- the ZIP of PDFs -------------------------------------------------------------------------------------------------

def archive_path(roster_id: int) -> Path:
    return Path(current_app.config["FILES_DIR"]) / "tree-duty" / f"list-{roster_id}-vouchers.zip"


def request_archive(session: Session, now: datetime, roster_id: int) -> DutyRoster:
    """Ask for the ZIP: 409 until every voucher is issued; a ZIP already ready (and on disk) is not built again;
    otherwise the request is recorded and the job queued once this unit of work commits."""
    roster = get_roster(session, roster_id, lock=True)
    if roster.status != "issued":
        raise Conflict("凭证尚未全部出具，完成后再打包下载 (the vouchers are still being issued)",
                       code="roster_not_issued", details={"issued": roster.issued, "persons": roster.persons})
    if roster.archive_status == "ready" and archive_path(roster.id).exists():
        return roster
    roster.archive_status, roster.archive_done, roster.archive_requested_at = "requested", 0, now
    roster.archive_ready_at = None
    session.add(roster)
    jobs.enqueue_after_commit(session, (ARCHIVE_JOB, {"roster_id": roster.id}))
    return roster


def ready_archive(roster: DutyRoster) -> Path:
    """The ZIP's file, or 409 saying how far it is (or that nobody asked for it)."""
    path = archive_path(roster.id)
    if roster.archive_status != "ready" or not path.exists():
        raise Conflict("压缩包尚未生成，请先请求生成并等待完成 (the ZIP is not ready: request it, then wait)",
                       code="archive_not_ready",
                       details={"status": roster.archive_status, "done": roster.archive_done, "total": roster.issued})
    return path


def send_archive(roster: DutyRoster) -> Response:
    response = send_file(ready_archive(roster), mimetype="application/zip", as_attachment=True,
                         download_name=f"tree-duty-{roster.year}-list-{roster.id}-vouchers.zip", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _progress(roster_id: int, done: int) -> None:
    def record(s):
        roster = get_roster(s, roster_id, lock=True)
        if roster.archive_status == "requested":
            roster.archive_done = done
            s.add(roster)
    atomic(record)


@jobs.job(ARCHIVE_JOB)
def build_archive(roster_id: int) -> None:
    """Write the ZIP (one PDF per voucher, and the CSV as its index) into a file of its own, then move it into place
    and mark it ready: a run that dies leaves a partial file nobody serves, and the next run starts again."""
    roster = read(lambda s: get_roster(s, roster_id))
    if roster.archive_status != "requested":
        return  # ready already, or never asked for
    path = archive_path(roster_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    base, done, index = current_app.config["PUBLIC_BASE_URL"], 0, []
    # One pass for the characters the PDFs will draw, then a font cut to them: each PDF then parses a small face.
    cards = (read(lambda s, c=certificate: public_view(s, c)) for _, _, certificate in _issued(roster_id))
    font = render.font_for_many(cards, Path(current_app.config["FILES_DIR"]) / "fonts")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for entry, voucher, certificate in _issued(roster_id):
                card = read(lambda s, c=certificate: public_view(s, c))
                name = f"{entry.line:05d}_{UNSAFE.sub('_', entry.staff_no)}_{certificate.number}.pdf"
                archive.writestr(name, render.certificate_pdf(card, verify_url(card), font_path=font))
                index.append(_csv_row(base, entry, voucher, certificate))
                done += 1
                if done % PROGRESS_EVERY == 0:
                    _progress(roster_id, done)
            archive.writestr("vouchers.csv", csv_text(COLUMNS, index))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)

    def ready(s):
        found = get_roster(s, roster_id, lock=True)
        if found.archive_status == "requested":
            found.archive_status, found.archive_done = "ready", done
            found.archive_ready_at = current_app.config["CLOCK"]()
            s.add(found)
    atomic(ready)
