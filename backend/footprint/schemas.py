"""Response shapes of the footprint API: a calculation (backend/footprint/tally.py) and the factor library."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend.schemas import Json, Out


class SetRef(Out):
    number: int
    sha256: str


class CategoryTotal(Out):
    category: str
    name: str
    total_g: int


class Line(Out):
    category: str
    category_name: str
    item: str
    quantity: str
    unit: str
    result_g: int
    factors: list[Json]


class CalculationOut(Out):
    """A calculation: integer grams, by category and line, with a trace whose every line reads ``input × factor =
    result — source``. ``id`` names it by calculator, factor set and inputs (the same inputs, the same id)."""

    id: str
    calculator: str
    total_g: int
    categories: list[CategoryTotal]
    breakdown: list[Line]
    trace: list[str]
    notes: list[str]
    rounding: str
    factor_set: SetRef
    inputs: Json
    created_at: str | None = Field(default=None, description="stored calculations (GET) only")


class FactorOut(Out):
    key: str
    name: str
    value: str
    unit: str
    geography: str
    year: int | None
    status: str
    valid_from: str
    source: str
    publisher: str
    note: str


class FactorsOut(Out):
    factor_set: SetRef
    items: list[FactorOut]


class FactorSetOut(Out):
    number: int
    sha256: str
    summary: Any
    loaded_at: str


class LibraryItems(Out):
    """Species defaults of a factor set, each with its status and source."""

    factor_set: SetRef
    items: list[Json]


class AirportOut(Out):
    iata: str
    name_zh: str
    name_en: str
    city_zh: str
    city_en: str
    country: str
    lat: float
    lon: float
