"""Money as people read and type it: integer fen shown as yuan, and yuan typed into a form read back as fen —
exactly, never through a float."""

from __future__ import annotations

import re

from backend.errors import InvalidInput

YUAN = re.compile(r"(-?)([0-9]{1,3}(?:,[0-9]{3}){1,3}|[0-9]{1,10})(?:\.([0-9]{1,2}))?")


def yuan(fen: int) -> str:
    """Fen as yuan, exactly: 123456 → "1,234.56"."""
    return f"{'-' if fen < 0 else ''}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def fen_from_yuan(text: str, field: str, *, signed: bool = False) -> int:
    """"1,234.5" → 123450. Commas (full-width too) only between thousands — "95,50" is refused, not read as 9,550
    yuan; at most two decimals (a fen) and ten digits before them; a minus sign only where ``signed``."""
    found = YUAN.fullmatch((text or "").strip().replace("，", ","))
    if found is None or (found[1] and not signed):
        raise InvalidInput(field, "应为以元计的金额，最多两位小数 (an amount in yuan, at most two decimals)")
    fen = int(found[2].replace(",", "")) * 100 + int((found[3] or "0").ljust(2, "0"))
    return -fen if found[1] else fen
