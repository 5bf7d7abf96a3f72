"""What every console list shares: sorting by a named column, keyset paging and the link to the next page.

Keyset, not OFFSET: the next page starts after the last row shown — ``(sort value, id)`` below it — so page 5,000
costs what page 1 does, and a row written meanwhile neither repeats nor hides one. The cursor in the link is that
pair, base64url JSON; a forged or stale cursor is a 400 naming ``after``, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import request
from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, String, and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from backend.clock import as_utc
from backend.errors import InvalidInput
from backend.http import refuse_nul, validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)

PAGE_SIZE = 50
LIST_ARGS = ("sort", "dir", "after", "format")  # read by the sorting, the paging and the CSV switch, not filters
MAX_CURSOR = 1000  # a cursor names one row: far fewer characters than this


@dataclass(frozen=True)
class Sorts:
    """The columns a list may be sorted by (name → column), the default, and the unique column that breaks ties."""

    columns: dict[str, ColumnElement]
    default: str
    unique: ColumnElement
    labels: dict[str, str] | None = None


@dataclass(frozen=True)
class ListPage:
    rows: list[Any]
    sort: str
    descending: bool
    next_after: str | None  # the cursor of the page after this one; None on the last page

    def next_url(self) -> str | None:
        return None if self.next_after is None else with_args(after=self.next_after)


def filters_of(model: type[ModelT], args: Mapping[str, str] | None = None) -> ModelT:
    """A list's filters from a query string's arguments (the page's, or an export's; a filter left empty is no
    filter): a bad one is a 400 naming it, as is text PostgreSQL cannot hold (U+0000)."""
    given = {name: value for name, value in (request.args if args is None else args).items()
             if name not in LIST_ARGS and value.strip()}
    try:
        parsed = model.model_validate(given)
    except ValidationError as error:
        raise validation_error(error) from None
    refuse_nul(parsed.model_dump())
    return parsed


def wants_csv() -> bool:
    """Whether the page is asked for as CSV (``format=csv``; anything else there is a 400)."""
    wanted = request.args.get("format") or None
    if wanted not in (None, "csv"):
        raise InvalidInput("format", "应为 csv 或不填 (csv, or nothing for the page)")
    return wanted == "csv"


def with_args(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None removes one); paging restarts when anything but
    the cursor changes."""
    args = {name: value for name, value in request.args.items()}
    if "after" not in changes:
        args.pop("after", None)
    for name, value in changes.items():
        if value is None or value == "":
            args.pop(name, None)
        else:
            args[name] = str(value)
    return request.path + ("?" + urlencode(args) if args else "")


def sort_url(sorts: Sorts, name: str) -> str:
    """The link on a column heading: sort by it, flipping the direction when it is already the sort."""
    current, descending = _sort_of(sorts)
    return with_args(sort=name, dir="asc" if current == name and descending else "desc")


def _sort_of(sorts: Sorts) -> tuple[str, bool]:
    name = request.args.get("sort") or sorts.default
    if name not in sorts.columns:
        raise InvalidInput("sort", f"应为 {' / '.join(sorts.columns)} 之一 (one of {', '.join(sorts.columns)})")
    direction = request.args.get("dir") or "desc"
    if direction not in ("asc", "desc"):
        raise InvalidInput("dir", "应为 asc 或 desc (asc or desc)")
    return name, direction == "desc"


def _encode(value: Any, unique: Any) -> str:
    if isinstance(value, datetime):
        value = {"dt": as_utc(value).isoformat()}
    return base64.urlsafe_b64encode(json.dumps([value, unique], separators=(",", ":")).encode()).decode().rstrip("=")


def _refused() -> InvalidInput:
    return InvalidInput("after", "翻页位置无效，请从第一页重新开始 (an invalid page cursor)")


def _decode(cursor: str) -> tuple[Any, Any]:
    refused = _refused()
    if len(cursor) > MAX_CURSOR:
        raise refused
    try:
        value, unique = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["dt"])
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        raise refused from None
    if not all(v is None or _storable(v) for v in (value, unique)):
        raise refused
    return value, unique


def _storable(value: Any) -> bool:
    """A value a database can compare with a column: a 64-bit integer, text without NUL or lone surrogates, a time."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) < value < 2**63
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    return isinstance(value, datetime)


def _python_type(column: ColumnElement) -> type:
    if isinstance(column.type, String):
        return str
    try:
        return column.type.python_type
    except NotImplementedError:
        return object


def page_of(session: Session, statement: Select, sorts: Sorts, *, size: int | None = None,
            value_of=None) -> ListPage:
    """One page of ``statement`` (which selects rows whose ``value_of(row)`` gives ``(sort value, unique)``; by
    default the row's attributes named like the columns), in the order and from the cursor the request asks."""
    size = size or PAGE_SIZE
    name, descending = _sort_of(sorts)
    column, unique = sorts.columns[name], sorts.unique
    cursor = request.args.get("after")
    if cursor:
        value, last = _decode(cursor)
        if not all(v is None or isinstance(v, _python_type(c)) for v, c in ((value, column), (last, unique))):
            raise _refused()  # a value of another type than its column's: PostgreSQL would refuse the comparison
        beyond = (lambda c, v: c < v) if descending else (lambda c, v: c > v)
        statement = statement.where(or_(beyond(column, value), and_(column == value, beyond(unique, last))))
    order = (column.desc(), unique.desc()) if descending else (column.asc(), unique.asc())
    rows = list(session.execute(statement.order_by(*order).limit(size + 1)).all())
    more = len(rows) > size
    rows = rows[:size]
    next_after = None
    if more:
        value_of = value_of or (lambda row: (getattr(row[0], column.key), getattr(row[0], unique.key)))
        next_after = _encode(*value_of(rows[-1]))
    return ListPage(rows, name, descending, next_after)
