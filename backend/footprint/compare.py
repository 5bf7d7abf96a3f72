"""What changed from one factor set to another, entry by entry: each table of the library keyed as the loader keys
it — a factor by (key, geography, year), a species by name, a grid-region row by division, a place by adcode, an
airport by IATA code — and each entry compared field by field as the API shows it (values as exact decimals, so
0.15 and 0.1500 are the same value)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.footprint.library import FactorSet

TABLES = ("factors", "species", "grid_regions", "places", "airports")
IDENTITY = {"factors": ("key", "geography", "year"), "species": ("species",), "grid_regions": ("division",),
            "places": ("adcode",), "airports": ("iata",)}
SHOWN_ONLY = {"where"}  # a factor's geography as people say it: from grid_regions.csv, whose own changes show there


@dataclass(frozen=True)
class Change:
    kind: str  # "added" | "removed" | "changed"
    identity: tuple[Any, ...]
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    fields: tuple[str, ...] = ()  # for "changed": the fields whose value differs, in the table's column order

    @property
    def entry(self) -> dict[str, Any]:
        """The entry as it stands after the change (before it, for a removal)."""
        return self.new if self.new is not None else self.old  # type: ignore[return-value]


def entries(factors: FactorSet, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """One table of the set: identity → the entry's fields."""
    if table == "factors":
        rows = [{**f.to_json(), "where": f.where} for f in factors.factors]
    elif table == "species":
        rows = [s.to_json() for s in factors.species.values()]
    elif table == "grid_regions":
        rows = [{"division": division, "region": region, "region_name": name}
                for division, (region, name) in factors.grid_regions.items()]
    elif table == "places":
        rows = [{"adcode": adcode, "lat": lat, "lon": lon} for adcode, (lat, lon) in factors.places.items()]
    elif table == "airports":
        rows = [a.to_json() for a in factors.airports.values()]
    else:
        raise ValueError(table)
    return {tuple(row[name] for name in IDENTITY[table]): row for row in rows}


def compare(old: FactorSet, new: FactorSet) -> dict[str, list[Change]]:
    """table → its changes from ``old`` to ``new``, removals and additions and changes in identity order."""
    found = {}
    for table in TABLES:
        before, after = entries(old, table), entries(new, table)
        changes = []
        for identity in sorted(set(before) | set(after), key=_order):
            was, now = before.get(identity), after.get(identity)
            if was is None:
                changes.append(Change("added", identity, None, now))
            elif now is None:
                changes.append(Change("removed", identity, was, None))
            elif fields := tuple(name for name in now if name not in SHOWN_ONLY and was.get(name) != now[name]):
                changes.append(Change("changed", identity, was, now, fields))
        found[table] = changes
    return found


def _order(identity: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(f"{part:08d}" if isinstance(part, int) else str(part) for part in identity)
