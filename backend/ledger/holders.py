"""Holder keys: who an account belongs to, as a short string the ledger needs no table for."""

from __future__ import annotations

import re

from backend.ledger.errors import InvalidInput

HOLDER_PATTERN = re.compile(r"^(platform|org:[1-9]\d{0,17}|user:[1-9]\d{0,17})$")


def check_holder(holder: str, field: str = "holder") -> str:
    """``platform`` (operator inventory), ``org:<id>`` or ``user:<id>``; ``registry`` is the ledger's own."""
    if not isinstance(holder, str) or not HOLDER_PATTERN.match(holder):
        raise InvalidInput(field, "应为 platform、org:<id> 或 user:<id> (must be platform, org:<id> or user:<id>)")
    return holder


_ORGANISATION_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "公司", "集团", "林场", "合作社", "协会",
                          "基金会", "研究院", "研究所", "大学", "学院", "学校", "中心", "委员会", "管理局", "局")


def mask_name(name: str) -> str:
    """The public form of a beneficiary: 张三 → 张*, 四川某林业有限公司 → 某某有限公司, Ada Lovelace → A** L*******."""
    name = " ".join(name.split())
    for suffix in _ORGANISATION_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return "某某" + suffix
    if name.isascii():
        return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split(" "))
    return name[0] + "*" * max(1, len(name) - 1)
