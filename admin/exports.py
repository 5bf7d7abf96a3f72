"""CSV exports of the console's big lists (orders, the audit chain, certificates) as jobs with a progress bar.

Ten thousand rows stream well enough inside a request; 10^5 do not belong there (a proxy's timeout, a worker held
for a minute). So the list's "export" button records an export — which list, the filters as the page had them
(its query string), who asked — and queues a job; the job counts the rows, writes the file a thousand at a time under
FILES_DIR, reading by keyset on the list's unique key (newest first), and notes its progress after each thousand;
the export's page shows the bar and, when it is done, the file. The record is what is owed (backend/jobs.py): a job
delivered twice writes the same file again or finds it done.

A list takes part by registering an ``Exportable``: its columns, how its filters make a statement (the same code
its page uses, so the file holds what the page showed), and how a chunk of rows reads as lines. Who may export it
is who may read it.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from flask import current_app
from sqlalchemy import Select, func, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from admin.models import CsvExport
from backend import jobs
from backend.access import allowed
from backend.csvfile import cell
from backend.db import atomic, read
from backend.errors import Forbidden, InvalidInput, NotFound

CHUNK = 1000
MAX_QUERY = 2000


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
    if len(query) > MAX_QUERY:
        raise InvalidInput("query", f"筛选条件过长 (at most {MAX_QUERY} characters)")
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
    """Write the export's file; one already written (a job delivered twice) is left as it is."""
    clock = current_app.config["CLOCK"]
    export = read(lambda s: s.get(CsvExport, export_id))
    if export is None or export.finished_at is not None:
        return
    exportable = EXPORTABLE[export.kind]
    statement = exportable.statement(_filters(export.query))
    total = read(lambda s: s.execute(select(func.count()).select_from(statement.subquery())).scalar_one())
    _progress(export_id, started_at=clock(), rows=0, total=total)
    target = path_of(export)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_suffix(f".{os.getpid()}.part")
    written, last = 0, None
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
            _progress(export_id, rows=written, total=max(total, written))
            if len(rows) < CHUNK:
                break
            last = getattr(rows[-1][0], exportable.unique.key)
    os.replace(scratch, target)  # whole or not at all: a reader never sees half a file
    _progress(export_id, finished_at=clock(), rows=written, total=max(total, written))


def get(session: Session, export_id: int) -> CsvExport:
    export = session.get(CsvExport, export_id)
    if export is None:
        raise NotFound(f"导出 {export_id} 不存在 (unknown export)")
    if not allowed(_exportable(export.kind).list_endpoint):
        raise Forbidden("你的角色无权查看此列表 (your roles do not allow this list)")
    return export
