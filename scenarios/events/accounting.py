"""An event's account by source category, and how the final account differs from the plan, line by line."""

from __future__ import annotations

from typing import Any


def categories(result: dict[str, Any]) -> dict[str, int]:
    """A calculation's grams per source category (venue_energy, participant_travel …)."""
    return {line["category"]: line["total_g"] for line in result["categories"]}


def variance(plan_result: dict[str, Any] | None, final_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per source category: planned, final and the difference (final − plan), in the final account's order,
    then categories the plan had and the final account has not."""
    planned = categories(plan_result) if plan_result else {}
    final = categories(final_result)
    names = {line["category"]: line["name"] for line in (plan_result or {}).get("categories", [])}
    names.update({line["category"]: line["name"] for line in final_result["categories"]})
    order = list(final) + [category for category in planned if category not in final]
    return [{"category": category, "name": names[category], "plan_g": planned.get(category, 0),
             "final_g": final.get(category, 0), "variance_g": final.get(category, 0) - planned.get(category, 0)}
            for category in order]
