"""Milestone badges: what a citizen has achieved, with the moment they first achieved it.

The account's history — footprints saved, retirements that still stand — is walked in order, and each badge
records the first moment its condition held: saving a larger footprint later does not take "carbon neutral"
away. Badges are derived, not stored: deleting a saved footprint, or a retirement reversed by a correction,
rewrites that history, and a badge that rested on it goes with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.clock import isoformat_utc

TONNE_G = 1_000_000


@dataclass
class Standing:
    """Running totals of an account at one moment of its history."""

    footprints: int = 0
    footprint_g: int = 0
    offset_g: int = 0
    gifted_g: int = 0


@dataclass(frozen=True)
class Badge:
    code: str
    name: str
    description: str
    earned: Callable[[Standing], bool]
    progress: Callable[[Standing], tuple[int, int]] | None = None  # (so far, target), for a threshold badge


BADGES = (
    Badge("first_footprint", "碳足迹初探", "保存第一份碳足迹 (saved a first footprint)",
          lambda s: s.footprints >= 1),
    Badge("first_offset", "首次碳中和", "第一次为自己注销碳汇 (a first retirement for yourself)",
          lambda s: s.offset_g > 0),
    Badge("offset_1t", "一吨守护者", "累计为自己注销 1 吨 (1 t retired for yourself)",
          lambda s: s.offset_g >= TONNE_G, lambda s: (s.offset_g, TONNE_G)),
    Badge("offset_10t", "十吨守护者", "累计为自己注销 10 吨 (10 t retired for yourself)",
          lambda s: s.offset_g >= 10 * TONNE_G, lambda s: (s.offset_g, 10 * TONNE_G)),
    Badge("carbon_neutral", "碳中和达人", "注销量达到已保存的全部碳足迹 (offset all of your saved footprint)",
          lambda s: s.footprint_g > 0 and s.offset_g >= s.footprint_g, lambda s: (s.offset_g, s.footprint_g)),
    Badge("first_gift", "绿色馈赠", "第一次赠送碳汇 (a first gift of credits)",
          lambda s: s.gifted_g > 0),
)

# One step of an account's history: when, and what it added to the standing.
Step = tuple[datetime, Callable[[Standing], None]]


def award(steps: Iterable[Step]) -> list[dict[str, Any]]:
    """Every badge, earned or not, with when it was earned and, for thresholds not yet reached, how far along."""
    standing, earned_at = Standing(), {}
    for when, apply in sorted(steps, key=lambda step: step[0]):
        apply(standing)
        for badge in BADGES:
            if badge.code not in earned_at and badge.earned(standing):
                earned_at[badge.code] = when
    views = []
    for badge in BADGES:
        when = earned_at.get(badge.code)
        view = {"code": badge.code, "name": badge.name, "description": badge.description,
                "earned": when is not None, "earned_at": isoformat_utc(when) if when else None}
        if when is None and badge.progress is not None and badge.progress(standing)[1] > 0:
            so_far, target = badge.progress(standing)
            view["progress"] = {"so_far_g": so_far, "target_g": target}
        views.append(view)
    return views
