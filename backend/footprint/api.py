"""Public footprint HTTP: one POST per calculator, the factor library with its sources, and airport type-ahead."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app
from pydantic import BaseModel, ConfigDict, Field

from backend.clock import isoformat_utc
from backend.db import atomic, read
from backend.errors import NotFound
from backend.footprint import service, store
from backend.footprint.calculators import CALCULATORS
from backend.footprint.library import FactorSet
from backend.footprint.schemas import AirportOut, CalculationOut, FactorSetOut, FactorsOut, LibraryItems
from backend.http import MAX_BODY_BYTES, Route, anchored, register
from backend.schemas import Items

bp = Blueprint("footprint", __name__, url_prefix="/api/v1")
EVENT_MAX_BODY = 4 * 1024 * 1024  # 20,000 participant records at ~200 bytes each
EVENT_PER_MINUTE = 10  # an event can be megabytes in and out: a tighter allowance than the other calculators
TAGS = ("footprint",)
CALCULATION_ID = re.compile(r"FP[0-9a-f]{24}")


def _calculator_view(name: str):
    module = CALCULATORS[name]

    def view(body: BaseModel) -> dict[str, Any]:
        now = current_app.config["CLOCK"]()
        result = service.calculate(module, body, service.factor_set(body.factor_set))
        atomic(lambda session: service.keep(session, result, now))  # computed outside the write transaction
        return result

    view.__name__ = f"calculate_{name}"
    view.__doc__ = module.__doc__
    return view


class SetQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    factor_set: int | None = Field(default=None, ge=1, le=2**31 - 1)


class FactorQuery(SetQuery):
    key: str | None = Field(default=None, max_length=60, description="a key or a prefix ending in '.'")
    geography: str | None = Field(default=None, max_length=20)


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AirportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    q: str = Field(min_length=1, max_length=40)
    limit: int = Field(default=10, ge=1, le=50)


def _set_json(factors: FactorSet) -> dict[str, Any]:
    return {"number": factors.number, "sha256": factors.sha256}


def list_factors(query: FactorQuery):
    """Every factor of a set with value, unit, geography, year, status and source."""
    factors = service.factor_set(query.factor_set)
    return {"factor_set": _set_json(factors),
            "items": [f.to_json() for f in factors.select(query.key, query.geography)]}


def list_species(query: SetQuery):
    """Stock-method defaults per tree species (碳汇+生态司法)."""
    factors = service.factor_set(query.factor_set)
    return {"factor_set": _set_json(factors), "items": [s.to_json() for s in factors.species.values()]}


def list_factor_sets(query: NoQuery):
    """Every factor set loaded so far, oldest first."""
    sets = read(store.list_sets)
    return {"items": [{**s, "loaded_at": isoformat_utc(s["loaded_at"])} for s in sets]}


def get_calculation(calculation: str):
    """A stored calculation, as it was answered."""
    if not CALCULATION_ID.fullmatch(calculation):
        raise NotFound(f"计算记录 {calculation} 不存在 (unknown calculation)")
    return read(lambda session: service.stored(session, calculation))


def airports(query: AirportQuery):
    """Type-ahead over IATA code, Chinese and English names and cities: exact code first, then prefixes."""
    return {"items": [a.to_json() for a in service.current_set().search_airports(query.q, query.limit)]}


ROUTES = [
    *(Route("POST", f"/footprint/{name}", _calculator_view(name), f"Footprint: {name}", body=module.Input,
            tags=TAGS, max_body=EVENT_MAX_BODY if name == "event" else MAX_BODY_BYTES,
            rate_limit=("footprint-event", EVENT_PER_MINUTE) if name == "event" else ("footprint", None),
            response=CalculationOut, description=getattr(module.Input, "RULES", ""), errors=(404,))
      for name, module in CALCULATORS.items()),
    Route("GET", "/footprint/factors", list_factors, "Emission factors with sources", query=FactorQuery, tags=TAGS,
          response=FactorsOut, errors=(404,)),
    Route("GET", "/footprint/factor-sets", list_factor_sets, "Factor set versions", query=NoQuery, tags=TAGS,
          response=Items[FactorSetOut]),
    Route("GET", "/footprint/species", list_species, "Species defaults (judicial)", query=SetQuery, tags=TAGS,
          response=LibraryItems, errors=(404,)),
    Route("GET", "/footprint/calculations/<calculation>", get_calculation,
          "A stored calculation", tags=TAGS, response=CalculationOut,
          params={"calculation": anchored(CALCULATION_ID)}),
    Route("GET", "/airports", airports, "Airport type-ahead", query=AirportQuery, tags=TAGS,
          rate_limit=("airports", None), response=Items[AirportOut]),
]


register(bp, ROUTES)
