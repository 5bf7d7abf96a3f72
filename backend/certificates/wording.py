"""How a certificate's facts read to people: quantities in kg or t, purposes and times in Chinese.

Shared by the verify page, the share card and the PDF, so all three say the same thing the same way.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
GRAMS_PER_KG, GRAMS_PER_T = 1_000, 1_000_000

PURPOSES = {
    "personal": "个人碳中和 (personal neutralisation)",
    "tree_duty": "义务植树 (compulsory tree-planting duty)",
    "event": "大型活动碳中和 (event neutralisation)",
    "judicial": "生态司法替代性修复 (judicial substitutive restoration)",
    "tourism": "旅游碳中和 (tourism neutralisation)",
    "other": "其他 (other)",
}


def is_document(payload: dict[str, Any]) -> bool:
    """A scenario's document (witness certificate, neutrality certificate …) rather than one retirement's
    certificate: only documents carry ``kind`` in their payload (service.issue_document)."""
    return "kind" in payload


def dated(payload: dict[str, Any]) -> str:
    """The moment a certificate speaks of (UTC, ISO 8601): a retirement's, or the day a document was issued."""
    return payload["issued_at"] if is_document(payload) else payload["retired_at"]


def quantity_text(grams: int) -> str:
    """Exact, in tonnes from 1 t up and in kilograms below: 12500000 → "12.5 吨", 850000 → "850 千克"."""
    unit, per = ("吨", GRAMS_PER_T) if grams >= GRAMS_PER_T else ("千克", GRAMS_PER_KG)
    value = format(Decimal(grams) / per, "f")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    whole, dot, fraction = value.partition(".")
    return f"{int(whole):,}{dot}{fraction} {unit}"


def purpose_text(purpose: str) -> str:
    return PURPOSES.get(purpose, purpose)


def purpose_chinese(purpose: str) -> str:
    return purpose_text(purpose).split(" (")[0]


def beijing_date(iso_utc: str) -> str:
    """2026-03-12T02:00:00.000000Z → 2026年3月12日 (the date in Beijing)."""
    moment = datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).astimezone(CHINA)
    return f"{moment.year}年{moment.month}月{moment.day}日"


def beijing_time(iso_utc: str) -> str:
    moment = datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).astimezone(CHINA)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M} (北京时间)"


def serials_text(serials: list[list[int]]) -> str:
    return "；".join(f"{first:,}–{last:,}" if first != last else f"{first:,}" for first, last in serials)
