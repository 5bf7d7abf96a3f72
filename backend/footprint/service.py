"""Running a calculator for a request: pick the factor set, compute, and keep the calculation by its identity."""

from __future__ import annotations

from datetime import datetime
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlmodel import Session

from backend.canonical import sha256_hex
from backend.clock import Clock, isoformat_utc
from backend.errors import NotFound
from backend.footprint import store
from backend.footprint.calculators import CALCULATORS, tree_duty
from backend.footprint.library import FactorSet
from backend.footprint.models import FootprintCalculation
from backend.http import validation_error

CHINA = ZoneInfo("Asia/Shanghai")


def factor_set_for(session: Session, requested: int | None, now: datetime) -> FactorSet:
    if requested is not None:
        return store.get_set(session, requested)
    return store.load_packaged(session, now)[0]


def calculation_id(calculator: str, factor_set: int, inputs: dict[str, Any]) -> str:
    return "FP" + sha256_hex({"calculator": calculator, "factor_set": factor_set, "inputs": inputs})[:24]


def calculate(session: Session, module: ModuleType, inputs: Any, clock: Clock) -> dict[str, Any]:
    """Compute with the requested (or current) set and store the calculation unless an identical one exists."""
    now = clock()
    if module is tree_duty and inputs.date is None:  # the rule in force today, Beijing time; stored as an input
        inputs = inputs.model_copy(update={"date": now.astimezone(CHINA).date().isoformat()})
    factors = factor_set_for(session, inputs.factor_set, now)
    result = module.calculate(inputs, factors)
    result["id"] = calculation_id(module.NAME, factors.number, result["inputs"])
    if session.get(FootprintCalculation, result["id"]) is None:
        session.add(FootprintCalculation(id=result["id"], calculator=module.NAME, factor_set=factors.number,
                                         inputs=result["inputs"], result=result, total_g=result["total_g"],
                                         created_at=now))
    return result


def stored(session: Session, calculation: str) -> dict[str, Any]:
    record = session.get(FootprintCalculation, calculation)
    if record is None:
        raise NotFound(f"计算记录 {calculation} 不存在 (unknown calculation)")
    return {**record.result, "created_at": isoformat_utc(record.created_at)}


def reproduce(session: Session, calculation: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a stored calculation again against its own factor set: (stored result, fresh result)."""
    record = session.get(FootprintCalculation, calculation)
    if record is None:
        raise NotFound(f"计算记录 {calculation} 不存在 (unknown calculation)")
    module = CALCULATORS[record.calculator]
    try:
        inputs = module.Input.model_validate({**record.inputs, "factor_set": record.factor_set})
    except ValidationError as error:
        raise validation_error(error, prefix=("inputs",)) from None
    fresh = module.calculate(inputs, store.get_set(session, record.factor_set))
    fresh["id"] = calculation_id(module.NAME, record.factor_set, fresh["inputs"])
    return record.result, fresh
