"""Running a calculator for a request: pick the factor set, compute, and keep the calculation by its identity."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from flask import current_app
from pydantic import ValidationError
from sqlmodel import Session

from backend.canonical import sha256_hex
from backend.clock import isoformat_utc
from backend.db import atomic, read
from backend.errors import DomainError, InvalidInput, NotFound
from backend.footprint import store
from backend.footprint.calculators import CALCULATORS
from backend.footprint.library import FactorSet, MissingFactor
from backend.footprint.models import FootprintCalculation
from backend.http import validation_error

CURRENT_KEY = "footprint_current_set"
CURRENT_RECHECK_SECONDS = 5.0
"""How stale a process's idea of the current set may be: a set loaded by another process (a reviewer on the
console, ``flask footprint load``) is used here from at most this long after it was stored."""


@dataclass(frozen=True)
class _Current:
    factors: FactorSet
    checked: float  # time.monotonic() when the newest number was last read


def current_set() -> FactorSet:
    """The set calculations use: the newest stored set.

    The first time in a process, the shipped files are stored as the next set if their text is new (what
    ``flask footprint load`` does, so a deploy that changed them makes them current); then the newest set is
    current — the shipped files', or a set a reviewer loaded later, which a restart with unchanged files keeps.
    After that the newest number is read again every CURRENT_RECHECK_SECONDS (one indexed query); a set is parsed
    once per process and kept (store._parsed)."""
    state = current_app.extensions.get(CURRENT_KEY)
    if state is not None and time.monotonic() - state.checked < CURRENT_RECHECK_SECONDS:
        return state.factors
    if state is None:
        now = current_app.config["CLOCK"]()

        def start(session: Session) -> FactorSet:
            store.load_packaged(session, now)
            return store.newest(session)
        factors = atomic(start)
    else:
        number = read(store.newest_number)
        factors = state.factors if number == state.factors.number else \
            read(lambda session: store.get_set(session, number))
    current_app.extensions[CURRENT_KEY] = _Current(factors, time.monotonic())
    return factors


def forget_current_set() -> None:
    """After this process stored a set: the next calculation here looks for the newest at once."""
    current_app.extensions.pop(CURRENT_KEY, None)


def factor_set(requested: int | None) -> FactorSet:
    """A set by number (to reproduce an old result), or the current one."""
    if requested is not None:
        return read(lambda session: store.get_set(session, requested))
    return current_set()


def calculation_id(calculator: str, factor_set: int, inputs: dict[str, Any]) -> str:
    return "FP" + sha256_hex({"calculator": calculator, "factor_set": factor_set, "inputs": inputs})[:24]


def calculate(module: ModuleType, inputs: Any, factors: FactorSet) -> dict[str, Any]:
    """Run the calculator and name the result by what it was computed from."""
    try:
        result = module.calculate(inputs, factors)
    except MissingFactor as missing:
        raise InvalidInput("factor_set", f"第 {factors.number} 号排放因子集没有 {missing} (factor set "
                                         f"{factors.number} predates the factor {missing})") from None
    result["id"] = calculation_id(module.NAME, factors.number, result["inputs"])
    return result


def keep(session: Session, result: dict[str, Any], now: datetime) -> None:
    """Store a calculation unless an identical one (same id) already is."""
    if session.get(FootprintCalculation, result["id"]) is None:
        session.add(FootprintCalculation(id=result["id"], calculator=result["calculator"],
                                         factor_set=result["factor_set"]["number"], inputs=result["inputs"],
                                         result=result, total_g=result["total_g"], created_at=now))


def stored(session: Session, calculation: str) -> dict[str, Any]:
    record = session.get(FootprintCalculation, calculation)
    if record is None:
        raise NotFound(f"计算记录 {calculation} 不存在 (unknown calculation)")
    return {**record.result, "created_at": isoformat_utc(record.created_at)}


class CalculatorRetired(DomainError):
    """The calculation was made by a calculator this code no longer has (the price-per-tree ``tree_duty``, replaced
    by the tree-duty scenario's threshold rules): it can still be read, not run again."""

    status = 410
    code = "calculator_retired"


def reproduce(session: Session, calculation: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a stored calculation again against its own factor set: (stored result, fresh result)."""
    record = session.get(FootprintCalculation, calculation)
    if record is None:
        raise NotFound(f"计算记录 {calculation} 不存在 (unknown calculation)")
    module = CALCULATORS.get(record.calculator)
    if module is None:
        raise CalculatorRetired(f"计算器 {record.calculator} 已停用，该记录只能查看、不能重算 (the {record.calculator} "
                                "calculator is retired: the stored result can be read, not reproduced); 义务植树见 "
                                "GET /api/v1/tree-duty/rules", details={"calculator": record.calculator})
    try:
        inputs = module.Input.model_validate({**record.inputs, "factor_set": record.factor_set})
    except ValidationError as error:
        raise validation_error(error, prefix=("inputs",)) from None
    fresh = module.calculate(inputs, store.get_set(session, record.factor_set))
    fresh["id"] = calculation_id(module.NAME, record.factor_set, fresh["inputs"])
    return record.result, fresh
