"""The sourced rules of event neutralisation, as data (DESIGN.md §11; ../shared/reference/domain-facts.md §3).

- What counts as a large event: Shanghai 沪环气候〔2025〕112号 — shows and matches ≥ 5,000 people on site,
  conferences (and forums) ≥ 400, exhibitions ≥ 10,000 visitors or ≥ 5,000 m². Shown, never enforced: MEE's
  guideline (公告2019年第19号) is voluntary and applies to any event.
- The offset deadline: Guangdong DB44/T 2639-2025, one year after the event ends (not in the MEE text).
- The figure to offset: the final account, rounded up to the kilogram (never less than what was emitted).
"""

from __future__ import annotations

from datetime import date

RULES_VERSION = "events-2026-12"
LARGE_BY_PEOPLE = {"show": 5_000, "match": 5_000, "conference": 400, "forum": 400, "exhibition": 10_000}
LARGE_EXHIBITION_AREA_M2 = 5_000
LARGE_SOURCE = "上海市生态环境局 沪环气候〔2025〕112号"
DEADLINE_SOURCE = "广东省地方标准 DB44/T 2639-2025（活动结束后一年内完成抵销）"
KG = 1_000


def is_large(kind: str, expected_participants: int, area_m2: int | None) -> bool | None:
    """Large by the Shanghai thresholds; None for a kind they do not cover."""
    threshold = LARGE_BY_PEOPLE.get(kind)
    if threshold is None:
        return None
    if kind == "exhibition" and area_m2 is not None and area_m2 >= LARGE_EXHIBITION_AREA_M2:
        return True
    return expected_participants >= threshold


def offset_deadline(ends_on: date) -> date:
    """One year after the event ends (29 February → 28 February)."""
    try:
        return ends_on.replace(year=ends_on.year + 1)
    except ValueError:
        return ends_on.replace(year=ends_on.year + 1, day=28)


def to_offset(total_g: int) -> int:
    return -(-total_g // KG) * KG
