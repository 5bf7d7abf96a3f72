"""Household: electricity, natural gas, tap water, LPG and district heat, for whatever period the bills cover."""

from __future__ import annotations

from pydantic import Field

from backend.errors import InvalidInput
from backend.footprint.calculators.common import grid_factor, simple
from backend.footprint.inputs import Calculation, Quantity, Region, Year, canonical_inputs, check_region
from backend.footprint.library import FactorSet
from backend.footprint.tally import Step, Tally

NAME = "household"


class Input(Calculation):
    region: Region | None = Field(default=None, description="province or county adcode; national when absent")
    year: Year | None = None
    electricity_kwh: Quantity(1_000_000) | None = None
    natural_gas_m3: Quantity(1_000_000) | None = None
    water_t: Quantity(1_000_000) | None = None
    lpg_kg: Quantity(100_000) | None = None
    heating_gj: Quantity(100_000) | None = None


QUANTITIES = ("electricity_kwh", "natural_gas_m3", "water_t", "lpg_kg", "heating_gj")


def calculate(inputs: Input, factors: FactorSet) -> dict:
    check_region(inputs.region)
    if all(getattr(inputs, name) is None for name in QUANTITIES):
        raise InvalidInput("electricity_kwh", f"至少填写一项用量 (give at least one of {', '.join(QUANTITIES)})")
    tally = Tally(factors)
    if inputs.electricity_kwh is not None:
        tally.add("electricity", "用电", inputs.electricity_kwh, "kWh",
                  [Step.of(grid_factor(tally, inputs.region, inputs.year))])
    elif inputs.year is not None:
        grid_factor(tally, inputs.region, inputs.year)  # a year with no factor is a 400 even without electricity
    simple(tally, "natural_gas", "天然气", inputs.natural_gas_m3, "m³", "natural_gas.combustion")
    simple(tally, "water", "自来水", inputs.water_t, "t", "water.supply")
    simple(tally, "lpg", "液化石油气", inputs.lpg_kg, "kg", "lpg.combustion")
    simple(tally, "heating", "集中供暖（外购热力）", inputs.heating_gj, "GJ", "heat.purchased")
    return tally.result(NAME, canonical_inputs(inputs))
