"""Trip (碳汇+旅游): getting to the destination and back, hotel nights, meals and activities on site."""

from __future__ import annotations

from pydantic import Field

from backend.errors import InvalidInput
from backend.footprint.calculators.common import exactly_one, grid_factor
from backend.footprint.calculators.lifestyle import add_meals
from backend.footprint.calculators.travel import add_leg
from backend.footprint.inputs import (
    Calculation,
    Leg,
    Meals,
    Quantity,
    Region,
    Strict,
    Year,
    canonical_inputs,
    check_region,
)
from backend.footprint.library import FactorSet
from backend.footprint.tally import Step, Tally

NAME = "trip"


class Activity(Strict):
    """Something done at the destination: a ride (a travel leg, e.g. the scenic-area shuttle as a bus) or a
    metered use of electricity (a cable car's share)."""

    name: str = Field(min_length=1, max_length=40)
    leg: Leg | None = None
    electricity_kwh: Quantity(1_000_000) | None = None


class Input(Calculation):
    destination: Region | None = Field(default=None, description="where the activities' electricity comes from")
    year: Year | None = None
    legs: list[Leg] = Field(default_factory=list, max_length=100)
    hotel_nights: Quantity(100_000) | None = Field(default=None, description="room-nights")
    meals: Meals | None = None
    activities: list[Activity] = Field(default_factory=list, max_length=100)
    radiative_forcing: bool = False


def calculate(inputs: Input, factors: FactorSet) -> dict:
    check_region(inputs.destination, "destination")
    if not (inputs.legs or inputs.hotel_nights is not None or inputs.meals or inputs.activities):
        raise InvalidInput("legs", "至少填写一项 (give at least one of legs, hotel_nights, meals, activities)")
    tally = Tally(factors)
    region, year = inputs.destination, inputs.year
    for index, leg in enumerate(inputs.legs):
        add_leg(tally, leg, f"legs.{index}.", region=region, year=year,
                radiative_forcing=inputs.radiative_forcing, category="transport")
    if inputs.hotel_nights is not None:
        tally.add("hotel", "酒店住宿", inputs.hotel_nights, "间夜",
                  [Step.of(factors.factor("hotel.room_night"))])
    add_meals(tally, inputs.meals, "diet")
    for index, activity in enumerate(inputs.activities):
        path = f"activities.{index}."
        if exactly_one({"leg": activity.leg, "electricity_kwh": activity.electricity_kwh}, path, "活动") == "leg":
            add_leg(tally, activity.leg, f"{path}leg.", region=region, year=year,
                    radiative_forcing=inputs.radiative_forcing, category="activities", label=f"{activity.name}：")
        else:
            tally.add("activities", f"{activity.name}：用电", activity.electricity_kwh, "kWh",
                      [Step.of(grid_factor(tally, region, year))])
    return tally.result(NAME, canonical_inputs(inputs))
