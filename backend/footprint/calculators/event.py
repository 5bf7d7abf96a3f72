"""Event (碳汇+大型活动): every source category of MEE's 《大型活动碳中和实施指南（试行）》.

Venue energy, organiser vehicles, participant transport, accommodation, catering, materials and waste; as a plan
(estimates before the event) or a final account (actuals after it). Participant transport comes as records of
head counts by origin city (great-circle distance to the venue; ground modes add a circuity factor, flights the
uplift) or by distance, and is summed per mode into one line each, so a 10,000-record event reads as a few lines
an auditor can check; each record's distance is returned alongside.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from pydantic import Field

from backend.errors import InvalidInput
from backend.footprint.calculators.common import exactly_one, grid_factor, simple
from backend.footprint.calculators.lifestyle import add_meals
from backend.footprint.calculators.travel import TRANSIT, add_leg, flight
from backend.footprint.geo import great_circle_km
from backend.footprint.inputs import (
    Cabin,
    Calculation,
    Leg,
    Meals,
    PlainDecimal,
    Quantity,
    Region,
    Strict,
    Year,
    canonical_inputs,
    check_region,
    place_of,
)
from backend.footprint.library import FactorSet
from backend.footprint.tally import Step, Tally

NAME = "event"
STAGES = {"plan": "筹备阶段预估 (plan: estimate)", "final": "收尾阶段核算 (final account with actuals)"}


class VenueEnergy(Strict):
    electricity_kwh: Quantity(1_000_000_000) | None = None
    natural_gas_m3: Quantity(1_000_000_000) | None = None
    diesel_l: Quantity(100_000_000) | None = Field(default=None, description="generators, boilers")
    heat_gj: Quantity(100_000_000) | None = None


class ParticipantTravel(Strict):
    """``count`` people (cars, for mode car) from ``origin`` (an adcode) or over ``distance_km`` (one way)."""

    origin: Region | None = None
    distance_km: Quantity(25_000) | None = None
    mode: Literal["flight", "hsr", "train", "bus", "metro", "car"]
    count: int = Field(ge=1, le=1_000_000)
    round_trip: bool = True
    cabin: Cabin = "economy"


class Material(Strict):
    """A library material by ``kg``, or a ``custom`` one with the supplier's factor and its source."""

    kind: Literal["paper", "plastic", "steel", "custom"]
    kg: Quantity(1_000_000_000) | None = None
    name: str | None = Field(default=None, min_length=1, max_length=60)
    quantity: Quantity(1_000_000_000) | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=20)
    kgco2e_per_unit: PlainDecimal | None = Field(default=None, ge=0, le=1_000_000, decimal_places=6)
    source: str | None = Field(default=None, min_length=2, max_length=200)


class Input(Calculation):
    name: str = Field(min_length=1, max_length=100)
    stage: Literal["plan", "final"]
    venue: Region
    year: Year | None = None
    participants: int = Field(ge=1, le=10_000_000, description="head count, for the per-participant figure")
    venue_energy: VenueEnergy | None = None
    organiser_vehicles: list[Leg] = Field(default_factory=list, max_length=1000)
    participant_travel: list[ParticipantTravel] = Field(default_factory=list, max_length=20_000)
    accommodation_room_nights: Quantity(10_000_000) | None = None
    catering: Meals | None = None
    materials: list[Material] = Field(default_factory=list, max_length=1000)
    waste_kg: Quantity(1_000_000_000) | None = None
    radiative_forcing: bool = False


MATERIALS = {"paper": ("paper.kg", "纸张印刷品"), "plastic": ("material.plastic_kg", "塑料（喷绘布、展品）"),
             "steel": ("material.steel_kg", "钢材（搭建）")}


def calculate(inputs: Input, factors: FactorSet) -> dict:
    check_region(inputs.venue, "venue")
    tally = Tally(factors)
    tally.note(f"阶段：{STAGES[inputs.stage]}")
    energy = inputs.venue_energy or VenueEnergy()
    if energy.electricity_kwh is not None:
        tally.add("venue_energy", "场馆外购电力", energy.electricity_kwh, "kWh",
                  [Step.of(grid_factor(tally, inputs.venue, inputs.year))])
    simple(tally, "venue_energy", "场馆天然气", energy.natural_gas_m3, "m³", "natural_gas.combustion")
    simple(tally, "venue_energy", "场馆柴油（发电机、锅炉）", energy.diesel_l, "L", "diesel.litre")
    simple(tally, "venue_energy", "场馆外购热力", energy.heat_gj, "GJ", "heat.purchased")
    for index, leg in enumerate(inputs.organiser_vehicles):
        add_leg(tally, leg, f"organiser_vehicles.{index}.", region=inputs.venue, year=inputs.year,
                radiative_forcing=inputs.radiative_forcing, category="organiser_vehicles", label="组织方：")
    distances = _participant_travel(tally, inputs)
    if inputs.accommodation_room_nights is not None:
        tally.add("accommodation", "参与者住宿", inputs.accommodation_room_nights, "间夜",
                  [Step.of(factors.factor("hotel.room_night"))])
    add_meals(tally, inputs.catering, "catering")
    for index, material in enumerate(inputs.materials):
        _material(tally, material, f"materials.{index}.")
    simple(tally, "waste", "活动垃圾（填埋）", inputs.waste_kg, "kg", "waste.landfill_kg")
    return tally.result(NAME, canonical_inputs(inputs), stage=inputs.stage, participants=inputs.participants,
                        per_participant_g=math.ceil(Fraction(tally.total_g, inputs.participants)),
                        participant_distances_km=distances)


def _participant_travel(tally: Tally, inputs: Input) -> list[float]:
    """Sum person-km (vehicle-km for cars) per mode, cabin, haul and distance basis; one line per group."""
    factors = tally.factors
    long_haul = factors.factor("flight.long_haul_km").value
    groups: dict[tuple[str, str, str, str], list] = {}
    venue = None
    distances = []
    for index, record in enumerate(inputs.participant_travel):
        path = f"participant_travel.{index}."
        if exactly_one({"origin": record.origin, "distance_km": record.distance_km}, path, "出发地") == "origin":
            origin = place_of(factors, record.origin, f"{path}origin")
            venue = venue or place_of(factors, inputs.venue, "venue")
            distance, basis = great_circle_km(origin, venue), "city"
        else:
            distance, basis = record.distance_km, "given"
        distances.append(float(distance))
        haul = ("long" if distance >= long_haul else "short") if record.mode == "flight" else ""
        cabin = record.cabin if record.mode == "flight" else ""
        if record.mode != "flight" and record.cabin != "economy":
            raise InvalidInput(f"{path}cabin", "舱位只适用于航班 (cabin applies to flights only)")
        group = groups.setdefault((record.mode, cabin, haul, basis), [Fraction(0), 0, 0])
        group[0] += Fraction(distance) * record.count * (2 if record.round_trip else 1)
        group[1] += record.count
        group[2] += 1
    circuity = Step.of(factors.factor("ground.circuity"))
    for (mode, cabin, haul, basis), (distance, people, records) in groups.items():
        where = "按出发城市" if basis == "city" else "按填报距离"
        extra = {"records": records, "people": people, "distance_basis": basis}
        if mode == "flight":
            flight(tally, distance, passengers=1, round_trip=False, cabin=cabin,
                   radiative_forcing=inputs.radiative_forcing, category="participant_travel",
                   label=f"参与者航班（{where}，{people} 人次）", extra=extra, summed_haul=haul)
            continue
        key, name = ("car.petrol_km", "小汽车") if mode == "car" else TRANSIT[mode]
        unit = "车公里" if mode == "car" else "人公里"
        steps = ([circuity] if basis == "city" else []) + [Step.of(factors.factor(key))]
        tally.add("participant_travel", f"参与者{name}（{where}，{people} {'辆' if mode == 'car' else '人次'}）",
                  distance, unit, steps, **extra)
    return distances


def _material(tally: Tally, material: Material, path: str) -> None:
    if material.kind != "custom":
        if material.kg is None:
            raise InvalidInput(f"{path}kg", "请填重量 kg (kg required)")
        key, name = MATERIALS[material.kind]
        tally.add("materials", name, material.kg, "kg", [Step.of(tally.factors.factor(key))])
        return
    for field in ("name", "quantity", "unit", "kgco2e_per_unit", "source"):
        if getattr(material, field) is None:
            raise InvalidInput(f"{path}{field}", "自定义物料须填名称、数量、单位、排放因子及来源 "
                                                 "(custom materials need name, quantity, unit, factor and source)")
    factor = material.kgco2e_per_unit
    tally.add("materials", material.name, material.quantity, material.unit,
              [Step(Fraction(factor) * 1000, f"{factor} kgCO2e/{material.unit}", f"用户提供：{material.source}")],
              custom_factor=True)
