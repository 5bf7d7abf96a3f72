"""The tree-duty scenario's demo: the regions' rules loaded (so /api/v1/tree-duty/rules and the console show them
before anyone has paid)."""

from __future__ import annotations

from datetime import datetime

from backend.db import atomic
from scenarios.tree_duty import rules


def load(now: datetime, certify) -> list[str]:  # noqa: ARG001 (the loaders' signature: this one certifies nothing)
    loaded = atomic(lambda s: [(rule.name, rule.status) for rule in rules.current_rules(s, now)])
    assumed = "、".join(name for name, status in loaded if status == "assumed")
    return [f"tree-duty rules for {len(loaded)} regions" + (f" ({assumed} assumed)" if assumed else "")]
