"""GB/T 2260 administrative division codes: validation and the province abbreviations used in batch ids."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

# GB/T 2260 two-letter province codes, keyed by the first two digits of the adcode.
PROVINCE_LETTERS = {
    "11": "BJ", "12": "TJ", "13": "HE", "14": "SX", "15": "NM", "21": "LN", "22": "JL", "23": "HL",
    "31": "SH", "32": "JS", "33": "ZJ", "34": "AH", "35": "FJ", "36": "JX", "37": "SD", "41": "HA",
    "42": "HB", "43": "HN", "44": "GD", "45": "GX", "46": "HI", "50": "CQ", "51": "SC", "52": "GZ",
    "53": "YN", "54": "XZ", "61": "SN", "62": "GS", "63": "QH", "64": "NX", "65": "XJ", "71": "TW",
    "81": "HK", "82": "MO",
}


@lru_cache(maxsize=1)
def divisions() -> dict[str, str]:
    """adcode → name, for every province, prefecture and county in the shipped table."""
    text = resources.files("backend.registry").joinpath("data/gb2260.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {row["adcode"]: row["name"] for row in rows}


def _has_children(code: str) -> bool:
    prefix = code[:4]
    return any(other.startswith(prefix) and other != code for other in divisions())


def is_county(code: str) -> bool:
    """A county-level division: a county or district, or a prefecture-level city with no counties (东莞市)."""
    if code not in divisions() or code.endswith("0000"):
        return False
    return not code.endswith("00") or not _has_children(code)


def full_name(code: str) -> str:
    """省 + 市 + 县, skipping levels the table lacks (municipalities have no prefecture row)."""
    names = divisions()
    parts = [names.get(code[:2] + "0000"), names.get(code[:4] + "00"), names.get(code)]
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return "".join(seen)
