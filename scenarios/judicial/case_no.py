"""案号: case numbers as courts and procuratorates write them, in one stored spelling.

A court's (最高人民法院《关于人民法院案件案号的若干规定》): ``(收案年度)法院代字类型代字案件编号号`` —
``(2024)川0129刑初123号``, ``(2022)最高法民终12号``, ``(2024)川71刑初3号``. A procuratorate's document number:
``<机关代字><文书代字>〔年度〕编号号`` — ``川成检刑诉〔2024〕12号``.

People type them with full-width or half-width brackets and digits, and with spaces; ``normalise`` makes one
spelling of each (ASCII ``()`` for a court's, ``〔〕`` for a procuratorate's) so that the same case is stored once.
The public sees a case masked to court and year (``mask``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from backend.errors import InvalidInput

FIELD = "case_no"
FIRST_YEAR = 1990
MAX_INPUT = 120  # characters as typed, spaces included; the longest well-formed number is 26
CHINA = ZoneInfo("Asia/Shanghai")

# GB/T 2260 province codes by the one-character abbreviation courts use. 兵 (新疆生产建设兵团) has courts but no
# province code of its own.
PROVINCE_CODES = {
    "京": "11", "津": "12", "冀": "13", "晋": "14", "蒙": "15", "辽": "21", "吉": "22", "黑": "23", "沪": "31",
    "苏": "32", "浙": "33", "皖": "34", "闽": "35", "赣": "36", "鲁": "37", "豫": "41", "鄂": "42", "湘": "43",
    "粤": "44", "桂": "45", "琼": "46", "渝": "50", "川": "51", "贵": "52", "云": "53", "藏": "54", "陕": "61",
    "甘": "62", "青": "63", "宁": "64", "新": "65",
}
COURT_PREFIXES = "".join(PROVINCE_CODES) + "兵"
CASE_TYPE_FIRST = "刑民行执赔司破强认"

_OPEN, _CLOSE = "(（〔[［【", ")）〕]］】"
_CJK = r"\u4e00-\u9fff"
_YEAR = rf"[{re.escape(_OPEN)}](?P<year>\d{{4}})[{re.escape(_CLOSE)}]"
_SEQUENCE = r"(?P<sequence>[1-9]\d{0,6})号"
_COURT = re.compile(
    rf"{_YEAR}(?P<court>最高法|[{COURT_PREFIXES}](?:\d{{4}}|\d{{2}})?)"
    rf"(?P<type>[{CASE_TYPE_FIRST}](?:(?!号)[{_CJK}]){{0,3}}){_SEQUENCE}")
_PROCURATORATE = re.compile(rf"(?P<organ>(?:(?!号)[{_CJK}]){{2,12}}){_YEAR}{_SEQUENCE}")
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")

MALFORMED = ("案号格式不正确，应如 (2024)川0129刑初123号 或 川成检刑诉〔2024〕12号 "
             "(malformed case number)")


@dataclass(frozen=True)
class CaseNumber:
    """One case number, taken apart. For a procuratorate's, ``court_code`` is the 机关代字 up to and including
    检 (川成检) and ``case_type`` the 文书代字 after it (刑诉)."""

    year: int
    court_code: str
    case_type: str
    sequence: int
    kind: Literal["court", "procuratorate"]
    text: str
    """The normalised spelling, as stored."""


def normalise(text: str, today: date | None = None) -> str:
    """The stored spelling of a case number; InvalidInput (field ``case_no``) when it is not one.

    ``today`` bounds the year (1990 to next year); None means today in China."""
    return parse(text, today).text


def parse(text: str, today: date | None = None) -> CaseNumber:
    """Normalise and take apart a case number, refusing a year before 1990 or after next year."""
    case = _take_apart(text)
    today = today or datetime.now(CHINA).date()
    if not FIRST_YEAR <= case.year <= today.year + 1:
        raise InvalidInput(FIELD, f"案号年度应在 {FIRST_YEAR}–{today.year + 1} 之间 "
                                  f"(the year must be within {FIRST_YEAR}–{today.year + 1})")
    return case


def mask(case_no: str) -> str:
    """The public form: court and year, the sequence number hidden — (2024)川0129刑初***号, 川成检刑诉〔2024〕***号.

    Takes a stored or a typed number (not checking its year: a stored one was checked when it was stored)."""
    case = _take_apart(case_no)
    if case.kind == "court":
        return f"({case.year}){case.court_code}{case.case_type}***号"
    return f"{case.court_code}{case.case_type}〔{case.year}〕***号"


def court_region(case: CaseNumber) -> str | None:
    """The GB/T 2260 code a basic court's 4-digit code names (川0129 → 510129); None for any other court, for a
    procuratorate, for 兵团 courts (no province code) and for special courts (7x, 8x: railway, maritime, …).
    A hint for pages, not a check: the code need not be a division that exists today."""
    if case.kind != "court" or len(case.court_code) != 5:
        return None
    province, digits = case.court_code[0], case.court_code[1:]
    if province not in PROVINCE_CODES or digits[:1] in "78":
        return None
    return PROVINCE_CODES[province] + digits


def _take_apart(text: str) -> CaseNumber:
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        raise InvalidInput(FIELD, MALFORMED)
    compact = re.sub(r"\s+", "", text).translate(_FULL_WIDTH_DIGITS)
    if match := _COURT.fullmatch(compact):
        year, court, case_type = match["year"], match["court"], match["type"]
        sequence = int(match["sequence"])
        return CaseNumber(int(year), court, case_type, sequence, "court", f"({year}){court}{case_type}{sequence}号")
    if (match := _PROCURATORATE.fullmatch(compact)) and "检" in match["organ"]:
        organ, year, sequence = match["organ"], match["year"], int(match["sequence"])
        cut = organ.index("检") + 1
        return CaseNumber(int(year), organ[:cut], organ[cut:], sequence, "procuratorate",
                          f"{organ}〔{year}〕{sequence}号")
    raise InvalidInput(FIELD, MALFORMED)
