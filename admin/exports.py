"""CSV exports of the console's big lists (orders, the audit chain, certificates) as jobs with a progress bar.

Ten thousand rows stream well enough inside a request; 10^5 do not belong there (a proxy's timeout, a worker held
for a minute). So the list's "export" button records an export — which list, the filters as the page had them
(its query string), who asked — and queues a job; the job counts the rows, writes the file a thousand at a time under
FILES_DIR, reading by keyset on the list's unique key (newest first), and notes its progress after each thousand;
the export's page shows the bar and, when it is done, the file. The record is what is owed (backend/jobs.py): a job
delivered twice finds it done or being written, a job Redis lost is queued again by a sweep every
EXPORT_SWEEP_SECONDS, and an export that cannot be written says why on its page.

A list takes part by registering an ``Exportable``: its columns, how its filters make a statement (the same code
its page uses, so the file holds what the page showed), and how a chunk of rows reads as lines. Who may export it
is who may read it.
"""

from __future__ import annotations

import csv
import logging
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from flask import current_app
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from admin.models import CsvExport
from backend import jobs
from backend.access import allowed
from backend.csvfile import cell
from backend.db import atomic, read
from backend.errors import Forbidden, InvalidInput, NotFound

log = logging.getLogger(__name__)
CHUNK = 1000
MAX_QUERY = 2000
OWED_AFTER = timedelta(minutes=5)  # asked for this long ago and never started: its job was lost
STALLED_AFTER = timedelta(hours=1)  # started this long ago and not finished: its worker died while writing


@dataclass(frozen=True)
class Exportable:
    label: str
    list_endpoint: str  # who may read the list may export it
    columns: Sequence[str]
    statement: Callable[[Mapping[str, str]], Select]  # the list's filters → its rows (InvalidInput naming a filter)
    lines: Callable[[Session, list[Any]], list[Sequence[Any]]]  # a chunk of rows → its CSV lines, in one read
    unique: ColumnElement  # pages through the rows, newest first; the statement selects its entity first


EXPORTABLE: dict[str, Exportable] = {}


def register(kind: str, exportable: Exportable) -> None:
    EXPORTABLE[kind] = exportable


def _exportable(kind: str) -> Exportable:
    if kind not in EXPORTABLE:
        raise NotFound(f"没有名为 {kind} 的导出 (no such export)")
    return EXPORTABLE[kind]


def ask(session: Session, now, kind: str, query: str, *, actor: str) -> CsvExport:
    """Record an export of the list ``kind`` as its filters ``query`` select it; refused at once when the filters
    are not the list's (the same 400 the page gives)."""
    exportable = _exportable(kind)
    if not allowed(exportable.list_endpoint):
        raise Forbidden("你的角色无权查看此列表 (your roles do not allow this list)")
    if len(query) > MAX_QUERY or "\x00" in query:
        raise InvalidInput("query", f"筛选条件无效或过长 (at most {MAX_QUERY} characters)")
    exportable.statement(_filters(query))  # refuse bad filters now, not in the job
    export = CsvExport(kind=kind, query=query, requested_by=actor, requested_at=now)
    session.add(export)
    session.flush()
    jobs.enqueue_after_commit(session, ("console.export", {"export_id": export.id}))
    return export


def _filters(query: str) -> dict[str, str]:
    return {name: value for name, value in parse_qsl(query, keep_blank_values=False)
            if name not in ("sort", "dir", "after", "format")}


def path_of(export: CsvExport) -> Path:
    return Path(current_app.config["FILES_DIR"]) / "exports" / f"{export.id}-{export.kind}.csv"


def _progress(export_id: int, **values: Any) -> None:
    atomic(lambda s: s.execute(update(CsvExport).where(CsvExport.id == export_id).values(**values)))


@jobs.job("console.export")
def write(export_id: int) -> None:
    """Write the export's file. One finished (a job delivered twice) is left as it is; one another worker is writing
    is left to it (claimed by ``started_at``, taken over only once it has stalled); one that cannot be written is
    finished with the reason, not retried for ever."""
    clock = current_app.config["CLOCK"]
    now = clock()
    claimed = atomic(lambda s: s.execute(update(CsvExport).where(
        CsvExport.id == export_id, CsvExport.finished_at.is_(None),
        or_(CsvExport.started_at.is_(None), CsvExport.started_at < now - STALLED_AFTER))
        .values(started_at=now, rows=0, total=0)).rowcount)
    if not claimed:
        return
    export = read(lambda s: s.get(CsvExport, export_id))
    try:
        written = _write_file(export)
    except Exception as error:  # noqa: BLE001 — recorded for the person waiting on the page, and logged
        log.exception("export %s (%s) failed", export_id, export.kind)
        _progress(export_id, finished_at=clock(), error=f"{type(error).__name__}: {error}"[:500])
        return
    _progress(export_id, finished_at=clock(), rows=written)


def _write_file(export: CsvExport) -> int:
    """The file, written under another name and moved into place whole; how many rows."""
    exportable = EXPORTABLE[export.kind]
    statement = exportable.statement(_filters(export.query))
    total = read(lambda s: s.execute(select(func.count()).select_from(statement.subquery())).scalar_one())
    _progress(export.id, total=total)
    target = path_of(export)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f"{target.name}.{secrets.token_hex(6)}.part")  # two writers never share one
    written, last = 0, None
    try:
        with open(scratch, "w", encoding="utf-8", newline="") as handle:
            handle.write("\ufeff")  # Excel reads the Chinese right
            writer = csv.writer(handle)
            writer.writerow(exportable.columns)
            while True:
                def chunk(session: Session, after=last):
                    query = statement.order_by(exportable.unique.desc()).limit(CHUNK)
                    rows = list(session.execute(query if after is None else query.where(exportable.unique < after)))
                    return rows, exportable.lines(session, rows)
                rows, lines = read(chunk)
                writer.writerows([cell(value) for value in line] for line in lines)
                written += len(rows)
                _progress(export.id, rows=written, total=max(total, written))
                if len(rows) < CHUNK:
                    break
                last = getattr(rows[-1][0], exportable.unique.key)
        os.replace(scratch, target)  # whole or not at all: a reader never sees half a file
    finally:
        with suppress(FileNotFoundError):
            scratch.unlink()
    return written


@jobs.job("console.exports_owed")
def queue_owed(slot: int) -> None:  # noqa: ARG001 (the periodic jobs' argument)
    """Queue again the exports whose job was lost (Redis forgot it) or whose worker died while writing."""
    now = current_app.config["CLOCK"]()
    owed = read(lambda s: list(s.execute(select(CsvExport.id).where(
        CsvExport.finished_at.is_(None),
        or_(and_(CsvExport.started_at.is_(None), CsvExport.requested_at < now - OWED_AFTER),
            CsvExport.started_at < now - STALLED_AFTER))).scalars()))
    if owed:
        jobs.enqueue(*[("console.export", {"export_id": export_id}) for export_id in owed])


def init_app(app) -> None:
    jobs.periodic("console.exports_owed", "EXPORT_SWEEP_SECONDS")


def get(session: Session, export_id: int) -> CsvExport:
    export = session.get(CsvExport, export_id)
    if export is None:
        raise NotFound(f"导出 {export_id} 不存在 (unknown export)")
    if not allowed(_exportable(export.kind).list_endpoint):
        raise Forbidden("你的角色无权查看此列表 (your roles do not allow this list)")
    return export
