"""The console's footprint-factor section, /admin/factors: every factor set (the library's data files' exact text,
numbered in loading order), one set's factors with their sources and status, what changed from one set to another,
each stored file as it was loaded, and a reviewer loading the next set.

A loaded set is what start-up makes of changed shipped files: the same loader parses and checks it
(``backend.footprint.library.parse``), the same code stores it (``store.load_files``: the next number, unless a set
with this text exists), and from then on it is the current set — calculators use the newest set
(``service.current_set``); a calculation keeps the number of the set it was made with and reproduces against it.
The reviewer uploads only the files that change; the others are the current set's, which the form names (``base``)
so that two reviewers cannot overwrite each other's set unseen.

Who may open or press what: backend/access/policy.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from flask import current_app, flash, make_response, redirect, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlmodel import Session

from admin.listing import ListPage, Sorts, filters_of, page_of, wants_csv
from backend.access.identity import staff_principal
from backend.audit.models import AuditEvent
from backend.clock import beijing_text
from backend.csvfile import csv_response
from backend.db import atomic, read
from backend.errors import DomainError, InvalidInput, NotFound
from backend.footprint import compare, service, store
from backend.footprint.library import DATA_FILES, RETIRED_FILES, STATUS_ZH, STATUSES, Factor, FactorSet
from backend.footprint.models import FactorSetRecord
from backend.http import refuse_nul
from backend.staff.web import field_errors, page, page_blueprint

bp = page_blueprint("admin_factors", __name__)
FILE_MAX_BYTES = 2 * 1024 * 1024  # the shipped files are 2–90 kB
UPLOAD_MAX_BYTES = len(DATA_FILES) * FILE_MAX_BYTES + 64 * 1024
NOTE_MAX = 500
LOAD_ACTION = "footprint.factor_set_load"
DIFF_ROWS_SHOWN = 300  # per table on the page; the CSV has every change
TABLE_LABELS = {"factors": "排放因子 (factors.csv)", "species": "树种缺省参数 (species.csv)",
                "grid_regions": "区域电网划分 (grid_regions.csv)", "places": "行政区坐标 (places.csv)",
                "airports": "机场 (airports.csv)"}
CHANGE_LABELS = {"added": "新增", "removed": "删除", "changed": "修改"}
FIELD_LABELS = {"name": "名称", "value": "数值", "unit": "单位", "status": "状态", "valid_from": "生效",
                "source": "来源", "publisher": "发布者", "note": "备注", "year": "年份", "geography": "地域"}
SUMMARY_LABELS = {"factors": "因子", "species": "树种", "airports": "机场", "places": "行政区"}


def _refuse_large_uploads() -> None:
    """Before the CSRF check reads the form: an upload larger than five files' cap is not parsed at all."""
    if request.method == "POST" and (request.content_length or 0) > UPLOAD_MAX_BYTES:
        raise InvalidInput("files", f"上传内容过大，每个文件不能超过 {FILE_MAX_BYTES // 1024 // 1024} MB "
                                    "(too large: at most 2 MB a file)")


bp.before_request_funcs.setdefault(None, []).insert(0, _refuse_large_uploads)


# --- query arguments ---------------------------------------------------------------------------------------------

class NoFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FactorFilters(BaseModel):
    """The factor list's filter form; a filter left empty is no filter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    q: str | None = Field(default=None, max_length=100)
    """Any part of the key, name, unit, geography, source, publisher or note, any case."""
    status: Literal[STATUSES] | None = None
    size: int = Field(default=100, ge=1, le=500)


class DiffArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    against: int | None = Field(default=None, ge=1, le=2**31 - 1)




# --- who loaded each set -----------------------------------------------------------------------------------------

def _loads(session: Session, numbers: list[int]) -> dict[int, dict[str, Any]]:
    """number → who loaded the set on the console, when, on which set, with which note (from the audit trail).
    A set without such an event was stored from the shipped files (start-up or ``flask footprint load``)."""
    if not numbers:
        return {}
    events = session.execute(select(AuditEvent).where(
        AuditEvent.object_type == "factor_set", AuditEvent.action == LOAD_ACTION,
        AuditEvent.object_id.in_([str(n) for n in numbers]))).scalars()
    return {int(e.object_id): {"actor": e.actor, "at": e.at, **(e.after or {})} for e in events}


def _record(session: Session, number: int) -> FactorSetRecord:
    found = session.execute(select(FactorSetRecord).options(defer(FactorSetRecord.files))
                            .where(FactorSetRecord.number == number)).scalar()
    if found is None:
        raise NotFound(f"没有第 {number} 号排放因子集 (no factor set {number})")
    return found


# --- every set, and loading the next ---------------------------------------------------------------------------

SET_SORTS = Sorts({"number": FactorSetRecord.number, "loaded": FactorSetRecord.loaded_at}, default="number",
                  unique=FactorSetRecord.number, labels={"number": "编号", "loaded": "载入时间"})
SET_COLUMNS = ("number", "current", "sha256", "loaded_at_beijing", "loaded_by", "factors", "species", "airports",
               "places", "note")


def sets(status: int = 200, **context: Any):
    filters_of(NoFilters)
    service.current_set()  # as at start-up: the shipped files are stored as a set if their text is new
    if wants_csv():
        def every(session: Session):
            records = session.execute(select(FactorSetRecord).options(defer(FactorSetRecord.files))
                                      .order_by(FactorSetRecord.number.desc())).scalars().all()
            return records, _loads(session, [r.number for r in records]), store.newest_number(session)
        records, loads, newest = read(every)
        return csv_response(SET_COLUMNS, ([r.number, "yes" if r.number == newest else "", r.sha256,
                                           beijing_text(r.loaded_at), loads.get(r.number, {}).get("actor", "shipped"),
                                           *(r.summary.get(k) for k in ("factors", "species", "airports", "places")),
                                           loads.get(r.number, {}).get("note", "")] for r in records),
                            "factor-sets.csv")

    def look(session: Session):
        listed = page_of(session, select(FactorSetRecord).options(defer(FactorSetRecord.files)), SET_SORTS)
        records = [row[0] for row in listed.rows]
        return listed, records, _loads(session, [r.number for r in records]), store.newest_number(session)

    listed, records, loads, newest = read(look)
    context.setdefault("errors", {})
    return page("admin/factors/sets.html", status, listed=listed, records=records, loads=loads, newest=newest,
                sorts=SET_SORTS, data_files=DATA_FILES, summary_labels=SUMMARY_LABELS,
                note_max=NOTE_MAX, **context)


def _uploaded() -> dict[str, str]:
    """The data files chosen in the form: file name → text. A file input left empty is a file not uploaded. The
    text is the file's UTF-8 as the library reads its own files; a byte-order mark and Windows line ends (what a
    spreadsheet adds on saving) are taken off, so that the same rows make the same set."""
    for name in request.files:
        if name not in DATA_FILES:
            raise InvalidInput(name, "不是因子库的数据文件 (not a file of the factor library)")
    found = {}
    for name in DATA_FILES:
        given = request.files.get(name)
        if given is None or not given.filename:
            continue
        data = given.stream.read(FILE_MAX_BYTES + 1)
        if len(data) > FILE_MAX_BYTES:
            raise InvalidInput(name, "文件不能超过 2 MB (larger than 2 MB)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[:error.start].count(b"\n") + 1
            raise InvalidInput(name, f"第 {line} 行：不是 UTF-8 编码的文本 (not UTF-8 text)") from None
        if "\x00" in text:
            raise InvalidInput(name, "含有空字符 (contains a NUL character)")
        text = text.removeprefix("\ufeff").replace("\r\n", "\n")
        if not text.strip():
            raise InvalidInput(name, "文件为空 (an empty file)")
        found[name] = text
    if not found:
        raise InvalidInput("files", "请至少选择一个数据文件 (choose at least one data file)")
    return found


def _base() -> int:
    given = request.form.get("base", "").strip()
    if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= 2**31 - 1:
        raise InvalidInput("base", "应为当前因子集的编号 (the current set's number)")
    return int(given)


def load():
    """A reviewer's files as the next set (``store.load_reviewed``); the same text again stores nothing."""
    principal = staff_principal()
    now = current_app.config["CLOCK"]()
    try:
        base = _base()
        note = " ".join(request.form.get("note", "").split())
        if len(note) > NOTE_MAX:
            raise InvalidInput("note", f"不能超过 {NOTE_MAX} 字 (at most {NOTE_MAX} characters)")
        refuse_nul({"note": note})
        uploaded = _uploaded()
        loaded, new = atomic(lambda s: store.load_reviewed(s, now, base=base, uploaded=uploaded,
                                                           actor=principal.actor, note=note))
    except DomainError as error:
        return sets(error.status, error=error, errors=field_errors(error), typed=request.form)
    if not new:
        again = "当前的" if loaded.number == base else "已有的"
        flash(f"这些文件与{again}第 {loaded.number} 号因子集内容完全相同，未新建因子集 (the same text as set "
              f"{loaded.number}: nothing stored)"
              + ("" if loaded.number == base else "。如需重新启用其数据，请在文件中加一行 # 注释写明原因后再载入"))
        return redirect(f"/admin/factors/{loaded.number}")
    service.forget_current_set()  # this process calculates with it at once; the others within seconds
    flash(f"已载入第 {loaded.number} 号排放因子集，新的计算将使用它；此前的计算仍按各自的因子集复算 "
          f"(loaded as set {loaded.number})")
    return redirect(f"/admin/factors/{loaded.number}/diff?against={base}")


# --- one set -----------------------------------------------------------------------------------------------------

FACTOR_SORTS: dict[str, tuple[str, Callable[[Factor], Any]]] = {
    "line": ("文件顺序", lambda f: 0),
    "key": ("键", lambda f: (f.key, f.geography, f.year)),
    "year": ("年份", lambda f: f.year),
    "status": ("状态", lambda f: STATUSES.index(f.status)),
    "geography": ("地域", lambda f: f.geography),
}
FACTOR_COLUMNS = ("key", "name", "value", "unit", "geography", "where", "year", "status", "valid_from", "source",
                  "publisher", "note", "citation")


def _matches(factor: Factor, filters: FactorFilters) -> bool:
    if filters.status and factor.status != filters.status:
        return False
    if filters.q:
        needle = filters.q.casefold()
        return any(needle in text.casefold() for text in (factor.key, factor.name, factor.unit, factor.geography,
                                                           factor.where, factor.source, factor.publisher,
                                                           factor.note))
    return True


def _sort() -> tuple[str, bool]:
    name = request.args.get("sort") or "line"
    if name not in FACTOR_SORTS:
        raise InvalidInput("sort", f"应为 {' / '.join(FACTOR_SORTS)} 之一 (one of {', '.join(FACTOR_SORTS)})")
    direction = request.args.get("dir") or "asc"
    if direction not in ("asc", "desc"):
        raise InvalidInput("dir", "应为 asc 或 desc (asc or desc)")
    return name, direction == "desc"


def _sorted(factors: FactorSet, filters: FactorFilters) -> tuple[list[tuple[int, Factor]], str, bool]:
    """The set's factors that the filters select, as (line order, factor), in the order asked; ties in file
    order. A set never changes, so a factor's place in its file is its identity for paging."""
    name, descending = _sort()
    chosen = [(place, f) for place, f in enumerate(factors.factors) if _matches(f, filters)]
    by = FACTOR_SORTS[name][1]
    chosen.sort(key=lambda item: (by(item[1]), item[0]), reverse=descending)
    return chosen, name, descending


def _page(chosen: list[tuple[int, Factor]], size: int, name: str, descending: bool) -> ListPage:
    """One page after the row named by ``after`` (its place in the file): keyset paging over the immutable set."""
    start = 0
    if cursor := request.args.get("after"):
        places = [place for place, _ in chosen]
        if not (cursor.isascii() and cursor.isdigit()) or int(cursor) not in places:
            raise InvalidInput("after", "翻页位置无效，请从第一页重新开始 (an invalid page cursor)")
        start = places.index(int(cursor)) + 1
    rows = chosen[start:start + size]
    more = start + size < len(chosen)
    return ListPage(rows, name, descending, str(rows[-1][0]) if more and rows else None)


def _file_facts(files: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": name, "bytes": len(files[name].encode()), "lines": len(files[name].splitlines()),
             "sha256": hashlib.sha256(files[name].encode()).hexdigest(), "retired": name in RETIRED_FILES}
            for name in (*DATA_FILES, *RETIRED_FILES) if name in files]


def factor_set(number: int):
    filters = filters_of(FactorFilters)

    def look(session: Session):
        record = _record(session, number)
        return (record, store.get_set(session, number), store.files_of(session, number),
                _loads(session, [number]).get(number), store.newest_number(session))

    record, factors, files, loaded, newest = read(look)
    chosen, name, descending = _sorted(factors, filters)
    if wants_csv():
        return csv_response(FACTOR_COLUMNS, ([row[column] for column in FACTOR_COLUMNS]
                                             for row in (_factor_row(place, f) for place, f in chosen)),
                            f"factor-set-{number}.csv")
    listed = _page(chosen, filters.size, name, descending)
    return page("admin/factors/set.html", record=record, listed=listed, filters=filters,
                rows=[_factor_row(place, f) for place, f in listed.rows], matched=len(chosen),
                species=[s.to_json() for s in factors.species.values()], loaded=loaded, current=number == newest,
                newest=newest, files=_file_facts(files), statuses=STATUS_ZH,
                status_counts=Counter(f.status for f in factors.factors), sorts=FACTOR_SORTS,
                summary_labels=SUMMARY_LABELS)


def _factor_row(place: int, factor: Factor) -> dict[str, Any]:
    return {**factor.to_json(), "where": factor.where, "citation": factor.citation(), "place": place}


def data_file(number: int, name: str):
    """A stored file exactly as it was loaded: the starting point for the next set's files."""
    if name not in (*DATA_FILES, *RETIRED_FILES):
        raise NotFound("没有这个数据文件 (no such data file)")

    def look(session: Session) -> str | None:
        _record(session, number)
        return store.files_of(session, number).get(name)

    text = read(look)
    if text is None:
        raise NotFound(f"第 {number} 号因子集没有 {name} (set {number} has no {name})")
    response = make_response(text)
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- what changed ------------------------------------------------------------------------------------------------

DIFF_COLUMNS = ("table", "change", "identity", "field", "old", "new")


def _diff_rows(changes: dict[str, list[compare.Change]]):
    for table, found in changes.items():
        for change in found:
            identity = " / ".join(str(part) for part in change.identity)
            if change.kind == "changed":
                for field in change.fields:
                    yield table, change.kind, identity, field, change.old[field], change.new[field]
            else:
                entry = {k: v for k, v in change.entry.items() if k not in compare.IDENTITY[table]}
                old, new = (entry, "") if change.kind == "removed" else ("", entry)
                yield table, change.kind, identity, "", _entry_text(old), _entry_text(new)


def _entry_text(entry: dict[str, Any] | str) -> str:
    return entry if isinstance(entry, str) else "; ".join(f"{k}={v}" for k, v in entry.items())


def diff(number: int):
    args = filters_of(DiffArgs)
    against = args.against if args.against is not None else number - 1

    def look(session: Session) -> dict[str, Any]:
        shown: dict[str, Any] = {"record": _record(session, number), "loads": _loads(session, [number]),
                                 "newest": store.newest_number(session), "old_record": None}
        if against < 1:  # the first set: nothing before it
            return shown
        before = store.files_of(session, against, field="against")  # no such set: a 400 naming ``against``
        shown["old_record"] = _record(session, against)
        shown["changes"] = compare.compare(store.get_set(session, against), store.get_set(session, number))
        after = store.files_of(session, number)
        shown["file_changes"] = [
            {"name": name, "state": ("added" if name not in before else "removed" if name not in after
                                     else "changed" if before[name] != after[name] else "same")}
            for name in (*DATA_FILES, *RETIRED_FILES) if name in before or name in after]
        return shown

    shown = read(look)
    if wants_csv():
        if shown["old_record"] is None:
            raise InvalidInput("against", "第 1 号因子集之前没有可比较的集 (set 1 has no set before it)")
        return csv_response(DIFF_COLUMNS, _diff_rows(shown["changes"]), f"factor-set-{against}-to-{number}.csv")
    return page("admin/factors/diff.html", **shown, tables=TABLE_LABELS, change_labels=CHANGE_LABELS,
                field_labels=FIELD_LABELS, statuses=STATUS_ZH, limit=DIFF_ROWS_SHOWN, identity=compare.IDENTITY)


bp.add_url_rule("/admin/factors", endpoint="sets", view_func=sets, methods=["GET"])
bp.add_url_rule("/admin/factors", endpoint="load", view_func=load, methods=["POST"])
bp.add_url_rule("/admin/factors/<int:number>", endpoint="factor_set", view_func=factor_set, methods=["GET"])
bp.add_url_rule("/admin/factors/<int:number>/diff", endpoint="diff", view_func=diff, methods=["GET"])
bp.add_url_rule("/admin/factors/<int:number>/files/<name>", endpoint="data_file", view_func=data_file,
                methods=["GET"])
