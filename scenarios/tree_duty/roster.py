"""An organisation's staff list (职工名单) for the year's tree-planting duty: read the uploaded file, check it line by
line, store what was accepted, and quote it.

The file is CSV (UTF-8 with or without a BOM, or GB18030 as Excel saves it on a Chinese Windows) or XLSX, with
the columns 姓名/name, 出生年份/birth_year, 性别/sex and 工号/staff_no in any order. Line numbers are the file's
own (the header is line 1), so that the report points at the row a clerk sees in Excel.

The report keeps every problem: bad rows (named by line and field), duplicates (within the file, or already on
another list of the organisation for the year) and people outside duty age. An upload whose every row is bad is
stored all the same — the report is what the clerk needs — but a list that pays for nobody cannot be ordered.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from backend import audit
from backend.clock import beijing_date
from backend.errors import Conflict, InvalidInput, NotFound
from backend.ledger.holders import mask_name
from backend.orders import service
from backend.orders.models import Order
from backend.orgs.service import acting_of_kind
from backend.registry.models import ORGANISATION_KINDS, Organisation
from backend.shop import service as shop
from scenarios.tree_duty import rules
from scenarios.tree_duty.models import DutyPayment, DutyRoster, DutyRosterEntry, DutyRule

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_PROBLEMS = 1_000  # a file of 20,000 bad rows gets the first thousand named, and the count of all
NAME_CHARS = 50  # DutyRosterEntry.name
STAFF_NO_CHARS = 40  # DutyRosterEntry.staff_no
PAYER_KINDS = ORGANISATION_KINDS  # every kind of organisation has staff who owe the duty
COUNTED_STATES = ("checked", "paid", "issued")  # a person on one of these lists is not listed again

COLUMNS = {  # the header as people write it → the field
    "name": "name", "姓名": "name",
    "birth_year": "birth_year", "出生年份": "birth_year", "出生年": "birth_year",
    "sex": "sex", "性别": "sex",
    "staff_no": "staff_no", "工号": "staff_no", "职工编号": "staff_no",
}
FIELDS = ("name", "birth_year", "sex", "staff_no")
FIELD_LABELS = {"name": "姓名 name", "birth_year": "出生年份 birth_year", "sex": "性别 sex", "staff_no": "工号 staff_no"}
SEXES = {"male": "male", "female": "female", "男": "male", "女": "female", "m": "male", "f": "female"}


# --- reading the file ----------------------------------------------------------------------------------------------

def _text(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (a BOM or not), else GB18030 (Excel's "CSV" on a Chinese Windows)."""
    with suppress(UnicodeDecodeError):
        return data.decode("utf-8-sig")
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput("file", "无法识别文件编码，请另存为 UTF-8 的 CSV 或 XLSX (neither UTF-8 nor GB18030: save "
                                   "it as UTF-8 CSV or as XLSX)") from None


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    text = _text(data)
    if "\x00" in text:
        raise InvalidInput("file", "文件含 NUL 字符，不是 CSV (not a CSV file)")
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as error:
        raise InvalidInput("file", f"CSV 格式错误 (malformed CSV): {error}") from None


def _xlsx_rows(data: bytes) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook  # only an XLSX upload pays for importing it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise InvalidInput("file", f"不是有效的 XLSX 文件 (not a valid XLSX file): {error.__class__.__name__}") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise InvalidInput("file", "XLSX 文件没有工作表 (the workbook has no sheet)")
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


def _cell(value: Any) -> str:
    """A cell as text: Excel keeps 1990 and 00123 as numbers (1990.0), which read back as the digits."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class Row:
    line: int
    name: str
    birth_year: int
    sex: str
    staff_no: str


@dataclass
class Reading:
    """What the file says, row by row: the good rows, and the problems of the others."""

    rows: int = 0
    good: list[Row] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


def read_rows(data: bytes, filename: str, this_year: int) -> Reading:
    """Read and check every row of the file. The whole file is refused (400 naming ``file``) only when it cannot
    be read as a staff list at all: too large, not CSV or XLSX, no header with the four columns, too many rows."""
    if len(data) > MAX_BYTES:
        raise InvalidInput("file", f"文件不能超过 {MAX_BYTES // 1024 // 1024} MB (larger than 5 MB)")
    if not data.strip():
        raise InvalidInput("file", "文件为空 (the file is empty)")
    is_xlsx = data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx")
    lines = _xlsx_rows(data) if is_xlsx else _csv_rows(data)
    header, positions = None, {}
    reading = Reading()
    for number, cells in enumerate(lines, start=1):
        values = [_cell(value) for value in cells]
        if not any(values):
            continue  # blank lines (and Excel's trailing empty rows) are no one
        if header is None:
            header = values
            positions = _columns(values)
            continue
        reading.rows += 1
        if reading.rows > MAX_ROWS:
            raise InvalidInput("file", f"名单至多 {MAX_ROWS:,} 行，请分批上传 (at most {MAX_ROWS:,} rows: split the "
                                       "list)")
        row = _checked(number, {name: values[index] if index < len(values) else ""
                                for name, index in positions.items()}, this_year, reading)
        if row is not None:
            reading.good.append(row)
    if header is None:
        raise InvalidInput("file", "文件没有表头和数据 (no header row and no data)")
    return reading


def _columns(header: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        name = COLUMNS.get(title.strip().lower().replace(" ", "_"))
        if name is not None and name not in positions:
            positions[name] = index
    missing = [FIELD_LABELS[name] for name in FIELDS if name not in positions]
    if missing:
        raise InvalidInput("file", f"表头缺少列 (the header lacks): {'、'.join(missing)}；第一行应为 姓名,出生年份,性别,工号 "
                                   "(name,birth_year,sex,staff_no)")
    return positions


def _checked(line: int, given: dict[str, str], this_year: int, reading: Reading) -> Row | None:
    found: list[tuple[str, str]] = []
    name, staff_no = given["name"], given["staff_no"]
    if not name:
        found.append(("name", "缺少姓名 (name missing)"))
    elif len(name) > NAME_CHARS:
        found.append(("name", f"姓名过长，至多 {NAME_CHARS} 字 (name longer than {NAME_CHARS} characters)"))
    birth_year = None
    try:
        birth_year = int(given["birth_year"])
    except ValueError:
        found.append(("birth_year", f"出生年份不是数字：{given['birth_year'][:20] or '（空）'} (not a number)"))
    else:
        if not 1900 <= birth_year <= this_year:
            found.append(("birth_year", f"出生年份应在 1900–{this_year} 之间 (out of 1900..{this_year})"))
    sex = SEXES.get(given["sex"].lower())
    if sex is None:
        found.append(("sex", f"性别应为 男/女 或 male/female：{given['sex'][:20] or '（空）'} (unknown sex)"))
    if not staff_no:
        found.append(("staff_no", "缺少工号 (staff number missing)"))
    elif len(staff_no) > STAFF_NO_CHARS:
        found.append(("staff_no", f"工号过长，至多 {STAFF_NO_CHARS} 字符 (longer than {STAFF_NO_CHARS} characters)"))
    elif "\x00" in staff_no or "\x00" in name:
        found.append(("staff_no" if "\x00" in staff_no else "name", "不能包含 NUL 字符 (contains U+0000)"))
    for field_name, message in found:
        reading.problems.append({"line": line, "field": field_name, "message": message})
    if found:
        return None
    return Row(line, name, birth_year, sex, staff_no)


# --- checking against the organisation's year, and storing ---------------------------------------------------------

def _listed_already(session: Session, org_id: int, year: int, staff_nos: set[str]) -> dict[str, int]:
    """Staff numbers already paid for on another list of the organisation for the year → that list."""
    found: dict[str, int] = {}
    numbers = sorted(staff_nos)
    for start in range(0, len(numbers), 500):  # IN lists of bounded length, for SQLite's and PostgreSQL's sake
        for staff_no, roster_id in session.execute(
                select(DutyRosterEntry.staff_no, DutyRoster.id)
                .join(DutyRoster, DutyRoster.id == DutyRosterEntry.roster_id)
                .where(DutyRoster.org_id == org_id, DutyRoster.year == year,
                       DutyRoster.status.in_(COUNTED_STATES), DutyRosterEntry.paid_for.is_(True),
                       DutyRosterEntry.staff_no.in_(numbers[start:start + 500]))):
            found.setdefault(staff_no, roster_id)
    return found


def upload(session: Session, now: datetime, *, org_id: int, actor: str, data: bytes, filename: str,
           region: str | None, include_outside_age: bool) -> DutyRoster:
    """Check the staff list and store it with its report (status ``checked``): the accepted lines as entries,
    those it pays for marked. The organisation's row is locked, so that two uploads of one organisation are
    checked for duplicates one after the other."""
    session.execute(select(Organisation.id).where(Organisation.id == org_id).with_for_update())
    organisation = acting_of_kind(session, org_id, PAYER_KINDS)
    region = region or organisation.adcode
    if region is None:
        raise InvalidInput("region", "机构未登记所在地区，请给出 region (the organisation has no region: give one)")
    today = beijing_date(now)
    rule = rules.rule_for(session, now, region, today, field="region")
    reading = read_rows(data, filename, today.year)
    elsewhere = _listed_already(session, org_id, today.year, {row.staff_no for row in reading.good})
    first_line: dict[str, int] = {}
    duplicates: list[dict[str, Any]] = []
    outside: list[dict[str, Any]] = []
    entries: list[DutyRosterEntry] = []
    for row in reading.good:
        if row.staff_no in first_line:
            duplicates.append({"line": row.line, "staff_no": row.staff_no, "first_line": first_line[row.staff_no]})
            continue
        first_line[row.staff_no] = row.line
        if row.staff_no in elsewhere:
            duplicates.append({"line": row.line, "staff_no": row.staff_no, "roster_id": elsewhere[row.staff_no]})
            continue
        of_age = rules.of_duty_age(rule, today.year, row.birth_year, row.sex)
        if not of_age:
            outside.append({"line": row.line, "name": mask_name(row.name),
                            "age": rules.age_in(today.year, row.birth_year)})
        entries.append(DutyRosterEntry(line=row.line, name=row.name, birth_year=row.birth_year, sex=row.sex,
                                       staff_no=row.staff_no, of_duty_age=of_age,
                                       paid_for=of_age or include_outside_age))
    persons = sum(entry.paid_for for entry in entries)
    report = {"rows": reading.rows, "accepted": len(entries), "persons": persons,
              "problem_count": len(reading.problems), "problems": reading.problems[:MAX_PROBLEMS],
              "duplicates": duplicates[:MAX_PROBLEMS], "duplicate_count": len(duplicates),
              "outside_age": outside[:MAX_PROBLEMS], "outside_age_count": len(outside)}
    roster = DutyRoster(org_id=org_id, year=today.year, region=region, rule_id=rule.id, filename=filename[:200],
                        include_outside_age=include_outside_age, report=report, persons=persons,
                        amount_fen=persons * rule.duty_fen, uploaded_by=actor, uploaded_at=now)
    session.add(roster)
    session.flush()
    for entry in entries:
        entry.roster_id = roster.id
    session.add_all(entries)
    session.flush()
    return roster


def _open_orders(session: Session, roster_id: int, *, channel: str,
                 unexpired_at: datetime | None = None) -> list[tuple[str, int]]:
    query = (select(Order.order_no, Order.org_id).join(DutyPayment, DutyPayment.order_id == Order.id)
             .where(DutyPayment.person == f"roster:{roster_id}", Order.status == "reserved", Order.channel == channel))
    if unexpired_at is not None:
        query = query.where(Order.expires_at > unexpired_at)
    return [tuple(row) for row in session.execute(query.order_by(Order.id))]


def withdraw(session: Session, now: datetime, roster_id: int, *, actor: str) -> DutyRoster:
    """Take back a wrong list before it is paid (then upload the right one: its people are no longer listed). Its
    unpaid offline order is withdrawn with it, and the credits it held go back on sale; an unpaid WeChat Pay Native
    order may still be paid (409 until it is paid or expires). The orders are locked before the list, as a payment
    locks them (order, then list): one lock order."""
    for order_no, org_id in _open_orders(session, roster_id, channel="offline"):  # numbers only: each is read
        service.cancel_unpaid(session, now, order_no, org_id=org_id, actor=actor)  # afresh under its lock
    found = get_roster(session, roster_id, lock=True)
    if found.status == "withdrawn":
        return found
    if found.status != "checked":
        raise Conflict("该名单已付款，不能撤回 (this staff list is paid: it cannot be withdrawn)", code="roster_paid")
    pending = _open_orders(session, roster_id, channel="native", unexpired_at=now)
    if pending:
        raise Conflict(f"订单 {pending[0][0]} 正在扫码支付，付款或过期后再撤回 (a WeChat Pay order is open: "
                       "withdraw once it is paid or has expired)", code="tree_duty_order_pending",
                       details={"order_no": pending[0][0]})
    found.status = "withdrawn"
    session.add(found)
    audit.append(session, now, actor=actor, action="tree_duty.roster.withdraw", object_type="tree_duty_roster",
                 object_id=roster_id, after={"persons": found.persons})
    return found


# --- reading it back -----------------------------------------------------------------------------------------------

def get_roster(session: Session, roster_id: int, *, lock: bool = False) -> DutyRoster:
    query = select(DutyRoster).where(DutyRoster.id == roster_id)
    if lock:  # read afresh under the lock, even if this session read the row before (its status may have moved)
        query = query.with_for_update().execution_options(populate_existing=True)
    roster = session.execute(query).scalar_one_or_none()
    if roster is None:
        raise NotFound("名单不存在 (unknown staff list)")
    return roster


def rosters_of(session: Session, org_ids: list[int] | None, *, limit: int = 200) -> list[DutyRoster]:
    query = select(DutyRoster).order_by(DutyRoster.id.desc()).limit(limit)
    if org_ids is not None:
        query = query.where(DutyRoster.org_id.in_(org_ids))
    return list(session.execute(query).scalars())


def orders_of(session: Session, roster_id: int) -> list[Order]:
    return list(session.execute(select(Order).join(DutyPayment, DutyPayment.order_id == Order.id)
                                .where(DutyPayment.person == f"roster:{roster_id}").order_by(Order.id)).scalars())


def is_its_order(session: Session, roster_id: int, order_no: str) -> bool:
    return session.execute(select(func.count()).select_from(Order)
                           .join(DutyPayment, DutyPayment.order_id == Order.id)
                           .where(Order.order_no == order_no, DutyPayment.person == f"roster:{roster_id}")
                           ).scalar_one() == 1


def quote(session: Session, roster: DutyRoster, listing_id: int) -> dict[str, Any]:
    """What paying the list from a listing costs and retires: the rule's duty per person, and the grams it buys,
    rounded down to the gram per person (shop.grams_for). A list that pays for nobody has no quote."""
    if roster.persons == 0:
        raise InvalidInput("listing_id", "名单中没有需要尽责的人员，无需报价 (the list pays for nobody)",
                           code="roster_empty")
    priced = shop.quote_amount(session, listing_id=listing_id, amount_fen=roster.amount_fen, shares=roster.persons)
    return {"listing_id": priced["listing_id"], "amount_fen": roster.amount_fen, "persons": roster.persons,
            "grams": priced["quantity_g"], "grams_per_person": priced["quantity_g"] // roster.persons,
            "price_fen_per_t": priced["price_fen_per_t"], "available_g": priced["available_g"],
            "enough": priced["enough"]}


def roster_view(session: Session, roster: DutyRoster, *, quote_for: int | None = None) -> dict[str, Any]:
    rule = session.get(DutyRule, roster.rule_id)
    return {"id": roster.id, "org_id": roster.org_id, "year": roster.year, "region": roster.region,
            "filename": roster.filename, "status": roster.status, "include_outside_age": roster.include_outside_age,
            "persons": roster.persons, "amount_fen": roster.amount_fen, "rule": rules.rule_view(rule),
            "report": roster.report, "uploaded_by": roster.uploaded_by,
            "uploaded_at": roster.uploaded_at.isoformat(), "payable": roster.status == "checked" and roster.persons > 0,
            "progress": {"issued": roster.issued, "persons": roster.persons},
            "issued_at": roster.issued_at.isoformat() if roster.issued_at else None,
            "archive": {"status": roster.archive_status, "done": roster.archive_done, "total": roster.issued,
                        "ready_at": roster.archive_ready_at.isoformat() if roster.archive_ready_at else None},
            "orders": [{"order_no": order.order_no, "status": order.status, "channel": order.channel,
                        "amount_fen": order.amount_fen, "quantity_g": order.quantity_g}
                       for order in orders_of(session, roster.id)],
            "quote": quote(session, roster, quote_for) if quote_for is not None and roster.persons else None}
