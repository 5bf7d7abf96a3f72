"""The factor library: the data files shipped in ``footprint/data``, parsed into one immutable ``FactorSet``.

A factor set is everything a calculation reads besides its inputs: emission factors, the grid-region map, place
and airport coordinates, species defaults. Its identity is the SHA-256 of the files' text, so the same files always
make the same set, and a calculation that names its set can be reproduced exactly.

Sets stored before the tree-duty rules moved to the scenario (scenarios/tree_duty/rules.py) also hold
``tree_duty_rules.csv``: it stays in their stored files, and so in their hash, but nothing reads it any more.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from backend.canonical import sha256_hex

DATA_FILES = ("factors.csv", "grid_regions.csv", "places.csv", "airports.csv", "species.csv")
RETIRED_FILES = ("tree_duty_rules.csv",)
"""Files older sets were stored with and no set reads now: kept (their text is part of the set's hash), not parsed."""
COLUMNS = {"factors.csv": ("key", "name", "value", "unit", "geography", "year", "status", "valid_from", "source",
                           "publisher", "note"),
           "grid_regions.csv": ("division", "division_name", "region", "region_name"),
           "places.csv": ("adcode", "lat", "lon"),
           "airports.csv": ("iata", "name_zh", "name_en", "city_zh", "city_en", "country", "lat", "lon"),
           "species.csv": ("species", "name_en", "wood_density", "bef", "root_shoot", "carbon_fraction", "status",
                           "source")}
"""The columns each file's header must name (in any order; others are ignored)."""
STATUSES = ("official", "third-party", "unverified")
STATUS_ZH = {"official": "官方", "third-party": "第三方", "unverified": "未核实"}
_EMISSION_UNIT = re.compile(r"^(g|kg|t)CO2(e?)/(.+)$")
_GRAMS = {"g": Decimal(1), "kg": Decimal(1000), "t": Decimal(1_000_000)}
NATIONAL = "national"


class MissingFactor(LookupError):
    """The set has no factor for this key: an older set asked by code that needs a newer key."""


class DataFileError(ValueError):
    """A data file that cannot be a factor set: the file, the line and what is wrong."""

    def __init__(self, name: str, line: int, message: str) -> None:
        super().__init__(f"{name}:{line}: {message}")
        self.file, self.line, self.problem = name, line, message


@dataclass(frozen=True)
class Factor:
    """One value with its provenance: what it is, how much, of what, where, when, and who says so."""

    key: str
    name: str
    value: Decimal
    unit: str
    geography: str
    year: int
    status: str
    valid_from: date
    source: str
    publisher: str
    note: str = ""
    where: str = ""  # the geography as people say it: 全国, 华北区域电网, 四川省

    @property
    def grams_per_unit(self) -> Decimal | None:
        """Grams CO2e per unit of ``per`` for an emission factor; None for ratios and conversions."""
        match = _EMISSION_UNIT.match(self.unit)
        return self.value * _GRAMS[match.group(1)] if match else None

    def citation(self) -> str:
        """The source as a trace line ends: document (publisher), where, year, status."""
        publisher = f"（{self.publisher}）" if self.publisher else ""
        return f"{self.source}{publisher}，{self.where or self.geography}，{self.year}年，{STATUS_ZH[self.status]}"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "value": _plain(self.value), "unit": self.unit,
                "geography": self.geography, "year": self.year, "status": self.status,
                "valid_from": self.valid_from.isoformat(), "source": self.source, "publisher": self.publisher,
                "note": self.note}


@dataclass(frozen=True)
class Airport:
    iata: str
    name_zh: str
    name_en: str
    city_zh: str
    city_en: str
    country: str
    lat: float
    lon: float

    def to_json(self) -> dict[str, Any]:
        return {"iata": self.iata, "name_zh": self.name_zh, "name_en": self.name_en, "city_zh": self.city_zh,
                "city_en": self.city_en, "country": self.country, "lat": self.lat, "lon": self.lon}


@dataclass(frozen=True)
class Species:
    """Default stock-method parameters of a tree species (碳汇+生态司法)."""

    name: str
    name_en: str
    wood_density: Decimal
    bef: Decimal
    root_shoot: Decimal
    carbon_fraction: Decimal
    status: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"species": self.name, "name_en": self.name_en, "wood_density": _plain(self.wood_density),
                "bef": _plain(self.bef), "root_shoot": _plain(self.root_shoot),
                "carbon_fraction": _plain(self.carbon_fraction), "status": self.status, "source": self.source}


def _plain(value: Decimal) -> str:
    """A decimal as people write it: 0.5306, 20, 1.5 — never 2E+1."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class FactorSet:
    """One numbered, immutable version of the library. ``number`` is None until it is stored."""

    sha256: str
    factors: tuple[Factor, ...]
    grid_regions: dict[str, tuple[str, str]]
    places: dict[str, tuple[float, float]]
    airports: dict[str, Airport]
    species: dict[str, Species]
    number: int | None = None
    _by_key: dict[str, list[Factor]] = field(default_factory=dict, repr=False, compare=False)
    _prefecture_stand_in: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for factor in self.factors:
            self._by_key.setdefault(factor.key, []).append(factor)
        for code in sorted(self.places, reverse=True):  # the lowest-numbered county of each prefecture wins
            self._prefecture_stand_in[code[:4]] = code

    def numbered(self, number: int) -> FactorSet:
        return FactorSet(self.sha256, self.factors, self.grid_regions, self.places, self.airports, self.species,
                         number)

    def has(self, key: str) -> bool:
        return key in self._by_key

    def keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self._by_key if key.startswith(prefix))

    def geographies_for(self, region: str | None) -> list[str]:
        """Where to look for a region's factor, most specific first: province, grid region, national.

        The grid region is the prefecture's where the table names one (蒙东's leagues are in the Northeast grid),
        else the province's."""
        if region is None:
            return [NATIONAL]
        province = region[:2] + "0000"
        chain = [province]
        grid = self.grid_regions.get(region[:4] + "00") or self.grid_regions.get(province)
        if grid:
            chain.append(grid[0])
        return chain + [NATIONAL]

    def factor(self, key: str, *, region: str | None = None, year: int | None = None) -> Factor:
        """The factor for a key: the most specific geography that has one (for ``year``, if given); there,
        official before third-party before unverified, then the latest year.

        MissingFactor for a key the set lacks; LookupError when no factor exists for the year.
        """
        if key not in self._by_key:
            raise MissingFactor(key)
        candidates = self._by_key[key]
        if year is not None:
            candidates = [f for f in candidates if f.year == year]
        for geography in self.geographies_for(region):
            here = [f for f in candidates if f.geography == geography]
            if here:
                return min(here, key=lambda f: (STATUSES.index(f.status), -f.year))
        raise LookupError(key)

    def years(self, key: str) -> list[int]:
        return sorted({f.year for f in self._by_key[key]})

    def place(self, adcode: str) -> tuple[tuple[float, float], str] | None:
        """Coordinates for a division, and the adcode they are really of: the division itself, else its
        prefecture, else the prefecture's first county with coordinates, else its province."""
        prefecture = adcode[:4] + "00"
        for candidate in (adcode, prefecture):
            if candidate in self.places:
                return self.places[candidate], candidate
        if stand_in := self._prefecture_stand_in.get(adcode[:4]):
            return self.places[stand_in], stand_in
        province = adcode[:2] + "0000"
        if province in self.places:
            return self.places[province], province
        return None

    def select(self, key: str | None = None, geography: str | None = None) -> list[Factor]:
        """Factors by exact key or by prefix ending in ".", and by geography."""
        return [f for f in self.factors
                if (key is None or f.key == key or (key.endswith(".") and f.key.startswith(key)))
                and (geography is None or f.geography == geography)]

    def search_airports(self, query: str, limit: int) -> list[Airport]:
        """Exact IATA code first, then a name or city starting with the query, then containing it; mainland
        China before the rest."""
        needle = query.strip().casefold()
        ranked = []
        for airport in self.airports.values():
            names = (airport.name_zh, airport.city_zh, airport.name_en.casefold(), airport.city_en.casefold())
            if airport.iata.casefold() == needle:
                rank = 0
            elif any(name.startswith(needle) for name in names):
                rank = 1
            elif any(needle in name for name in names):
                rank = 2
            else:
                continue
            ranked.append((rank, airport.country != "CN", airport.iata, airport))
        return [item[3] for item in sorted(ranked, key=lambda item: item[:3])[:limit]]

    @cached_property
    def summary(self) -> dict[str, int]:
        return {"factors": len(self.factors), "airports": len(self.airports), "places": len(self.places),
                "species": len(self.species)}


@lru_cache(maxsize=1)
def packaged_files() -> dict[str, str]:
    """The data files as shipped with this code: file name → text (read once; do not modify the dict)."""
    folder = resources.files("backend.footprint").joinpath("data")
    return {name: folder.joinpath(name).read_text(encoding="utf-8") for name in DATA_FILES}


def files_sha256(files: dict[str, str]) -> str:
    return sha256_hex(files)


def parse(files: dict[str, str]) -> FactorSet:
    """Parse and check every file; DataFileError names the first problem. The identity hashes every file given,
    a retired one included, so that an old stored set still hashes to the sha256 it was recorded with."""
    missing = [name for name in DATA_FILES if name not in files]
    if missing:
        raise DataFileError(missing[0], 0, "missing")
    unknown = sorted(set(files) - set(DATA_FILES) - set(RETIRED_FILES))
    if unknown:
        raise DataFileError(unknown[0], 0, "not a file of the factor library")
    grid, where = {}, {NATIONAL: "全国"}
    for line, row in _rows(files, "grid_regions.csv"):
        if not re.fullmatch(r"\d{4}00", row["division"]):
            raise DataFileError("grid_regions.csv", line, f"division {row['division']!r} is not a province or "
                                                          "prefecture adcode")
        grid[row["division"]] = (row["region"], row["region_name"])
        where[row["region"]] = row["region_name"]
        if row["division"].endswith("0000"):
            where[row["division"]] = row["division_name"]
    factors, seen = [], set()
    for line, row in _rows(files, "factors.csv"):
        if row["geography"] not in where:
            raise DataFileError("factors.csv", line, f"unknown geography {row['geography']!r}")
        factor = replace(_factor(row, line), where=where[row["geography"]])
        if (identity := (factor.key, factor.geography, factor.year)) in seen:
            raise DataFileError("factors.csv", line, f"{identity} appears twice")
        seen.add(identity)
        factors.append(factor)
    places = {row["adcode"]: (_float(row, "lat", line, "places.csv"), _float(row, "lon", line, "places.csv"))
              for line, row in _rows(files, "places.csv")}
    airports = {}
    for line, row in _rows(files, "airports.csv"):
        if not re.fullmatch(r"[A-Z]{3}", row["iata"]) or row["iata"] in airports:
            raise DataFileError("airports.csv", line, f"bad or repeated IATA code {row['iata']!r}")
        airports[row["iata"]] = Airport(row["iata"], row["name_zh"], row["name_en"], row["city_zh"],
                                        row["city_en"], row["country"], _float(row, "lat", line, "airports.csv"),
                                        _float(row, "lon", line, "airports.csv"))
    species = {}
    for line, row in _rows(files, "species.csv"):
        numbers = {name: _decimal(row, name, line, "species.csv")
                   for name in ("wood_density", "bef", "root_shoot", "carbon_fraction")}
        species[row["species"]] = Species(row["species"], row["name_en"], status=_status(row, line, "species.csv"),
                                          source=row["source"], **numbers)
    return FactorSet(files_sha256(files), tuple(factors), grid, places, airports, species)


def _rows(files: dict[str, str], name: str):
    lines = [(number, text) for number, text in enumerate(files[name].splitlines(), start=1)
             if text.strip() and not text.startswith("#")]
    reader = csv.reader(text for _, text in lines)
    header = next(reader, None)
    if not header:
        raise DataFileError(name, 0, "no header")
    missing = [column for column in COLUMNS[name] if column not in header]
    if missing:
        raise DataFileError(name, lines[0][0], f"the header lacks the column {missing[0]!r}")
    for (number, _), values in zip(lines[1:], reader):
        if len(values) != len(header):
            raise DataFileError(name, number, f"{len(values)} columns, the header has {len(header)}")
        yield number, {column: value.strip() for column, value in zip(header, values)}


def _decimal(row: dict[str, str], column: str, line: int, name: str) -> Decimal:
    try:
        value = Decimal(row[column])
    except InvalidOperation:
        raise DataFileError(name, line, f"{column} {row[column]!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise DataFileError(name, line, f"{column} must be a finite number ≥ 0")
    return value


def _float(row: dict[str, str], column: str, line: int, name: str) -> float:
    limit = 90 if column == "lat" else 180
    try:
        value = float(row[column])
    except ValueError:
        raise DataFileError(name, line, f"{column} {row[column]!r} is not a number") from None
    if not -limit <= value <= limit:
        raise DataFileError(name, line, f"{column} {value} is outside ±{limit}")
    return value


def _status(row: dict[str, str], line: int, name: str) -> str:
    if row["status"] not in STATUSES:
        raise DataFileError(name, line, f"status {row['status']!r} is not one of {STATUSES}")
    return row["status"]


def _date(row: dict[str, str], column: str, line: int, name: str) -> date:
    try:
        return date.fromisoformat(row[column])
    except ValueError:
        raise DataFileError(name, line, f"{column} {row[column]!r} is not a date") from None


def _factor(row: dict[str, str], line: int) -> Factor:
    year = row["year"]
    if not re.fullmatch(r"(19|20)\d\d", year):
        raise DataFileError("factors.csv", line, f"year {year!r}")
    if not row["key"] or not row["unit"] or not row["source"]:
        raise DataFileError("factors.csv", line, "key, unit and source are required")
    return Factor(row["key"], row["name"], _decimal(row, "value", line, "factors.csv"), row["unit"],
                  row["geography"], int(year), _status(row, line, "factors.csv"),
                  _date(row, "valid_from", line, "factors.csv"), row["source"], row["publisher"], row["note"])
