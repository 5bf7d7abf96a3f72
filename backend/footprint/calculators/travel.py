"""Travel: legs by car, taxi, bus, metro, high-speed rail, train and flight.

Vehicle modes (car, taxi) count the vehicle once, however many ride in it; per-passenger modes count
passenger-km. A flight's distance is the great-circle distance between its airports (or the distance given)
times the uplift; cabins other than economy multiply by their ratio for the haul; radiative forcing is off
unless asked for, and then is its own line.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from pydantic import Field

from backend.errors import InvalidInput
from backend.footprint.calculators.common import exactly_one, grid_factor
from backend.footprint.geo import great_circle_km
from backend.footprint.inputs import (
    Calculation,
    CarLeg,
    FlightLeg,
    Leg,
    Region,
    TaxiLeg,
    TransitLeg,
    Year,
    canonical_inputs,
    check_region,
)
from backend.footprint.library import FactorSet
from backend.footprint.tally import Line, Step, Tally

NAME = "travel"
TRANSIT = {"bus": ("bus.pkm", "公交车"), "metro": ("metro.pkm", "地铁"), "hsr": ("rail.hsr_pkm", "高铁"),
           "train": ("rail.conventional_pkm", "普速铁路")}
CABINS = {"economy": "经济舱", "premium_economy": "超级经济舱", "business": "商务舱", "first": "头等舱"}


class Input(Calculation):
    legs: list[Leg] = Field(min_length=1, max_length=1000)
    region: Region | None = Field(default=None, description="where electric cars charge (grid factor)")
    year: Year | None = None
    radiative_forcing: bool = Field(default=False, description="add flights' non-CO2 effect as its own line")


def calculate(inputs: Input, factors: FactorSet) -> dict:
    check_region(inputs.region)
    tally = Tally(factors)
    for index, leg in enumerate(inputs.legs):
        add_leg(tally, leg, f"legs.{index}.", region=inputs.region, year=inputs.year,
                radiative_forcing=inputs.radiative_forcing)
    return tally.result(NAME, canonical_inputs(inputs))


def _trips(round_trip: bool) -> list[Step]:
    return [Step.count(2, "2（往返）")] if round_trip else []


def add_leg(tally: Tally, leg: Leg, path: str, *, region: str | None, year: int | None,
            radiative_forcing: bool, category: str | None = None, label: str = "") -> None:
    """One leg as one line (two for a flight with radiative forcing), in ``category`` or the mode's own."""
    if isinstance(leg, CarLeg):
        _car(tally, leg, path, region, year, category or "car", label)
    elif isinstance(leg, TaxiLeg):
        tally.add(category or "taxi", f"{label}出租车", leg.km, "km",
                  [Step.of(tally.factors.factor("taxi.km"))] + _trips(leg.round_trip))
    elif isinstance(leg, TransitLeg):
        key, name = TRANSIT[leg.mode]
        tally.add(category or leg.mode, f"{label}{name}", leg.km, "km",
                  [Step.count(leg.passengers, f"{leg.passengers} 人"), Step.of(tally.factors.factor(key))]
                  + _trips(leg.round_trip))
    elif isinstance(leg, FlightLeg):
        distance, route = flight_distance(tally.factors, leg, path)
        flight(tally, distance, passengers=leg.passengers, round_trip=leg.round_trip, cabin=leg.cabin,
               radiative_forcing=radiative_forcing, category=category or "flight", label=f"{label}{route}",
               extra={"from": leg.from_, "to": leg.to} if leg.from_ else {})


def _car(tally: Tally, leg: CarLeg, path: str, region: str | None, year: int | None, category: str,
         label: str) -> None:
    trips = _trips(leg.round_trip)
    factor = tally.factors.factor
    if leg.fuel == "electric":
        if leg.litres is not None:
            raise InvalidInput(f"{path}litres", "电动汽车请填 kwh 或 km (an electric car takes kwh or km)")
        given = exactly_one({"kwh": leg.kwh, "km": leg.km}, path, "电动汽车")
        grid = Step.of(grid_factor(tally, region, year))
        if given == "kwh":
            tally.add(category, f"{label}电动汽车（按电量）", leg.kwh, "kWh", [grid] + trips)
        else:
            tally.add(category, f"{label}电动汽车（按里程）", leg.km, "km",
                      [Step.of(factor("ev.consumption")), grid] + trips)
    elif leg.fuel == "diesel":
        if leg.litres is None or leg.km is not None or leg.kwh is not None:
            raise InvalidInput(f"{path}litres", "柴油车请填油耗升数 litres (a diesel car takes litres)")
        tally.add(category, f"{label}柴油车（按油耗）", leg.litres, "L", [Step.of(factor("diesel.litre"))] + trips)
    else:
        if leg.kwh is not None:
            raise InvalidInput(f"{path}kwh", "汽油车请填 litres 或 km (a petrol car takes litres or km)")
        if exactly_one({"litres": leg.litres, "km": leg.km}, path, "汽油车") == "litres":
            tally.add(category, f"{label}汽油车（按油耗）", leg.litres, "L",
                      [Step.of(factor("petrol.litre"))] + trips)
        else:
            tally.add(category, f"{label}汽油车（按里程）", leg.km, "km", [Step.of(factor("car.petrol_km"))] + trips)


def flight_distance(factors: FactorSet, leg: FlightLeg, path: str) -> tuple[Decimal, str]:
    """The great-circle distance of a flight leg and how to name its route: PEK→CTU, or 1,500 km."""
    if leg.distance_km is not None:
        if leg.from_ is not None or leg.to is not None:
            raise InvalidInput(f"{path}distance_km", "按机场或按距离，只能选一种 (airports or distance, not both)")
        return leg.distance_km, f"航班 {leg.distance_km} km"
    if leg.from_ is None or leg.to is None:
        raise InvalidInput(f"{path}{'to' if leg.from_ else 'from'}",
                           "请填出发和到达机场，或 distance_km (give from and to airports, or distance_km)")
    ends = []
    for name, code in (("from", leg.from_.upper()), ("to", leg.to.upper())):
        airport = factors.airports.get(code)
        if airport is None:
            raise InvalidInput(f"{path}{name}", f"未知机场代码 {code} (unknown airport)")
        ends.append(airport)
    if ends[0].iata == ends[1].iata:
        raise InvalidInput(f"{path}to", "到达机场与出发机场相同 (same airport as from)")
    distance = great_circle_km((ends[0].lat, ends[0].lon), (ends[1].lat, ends[1].lon))
    return distance, f"航班 {ends[0].iata}→{ends[1].iata}（{ends[0].city_zh}—{ends[1].city_zh}）"


def flight(tally: Tally, distance: Decimal | Fraction, *, passengers: int, round_trip: bool, cabin: str,
           radiative_forcing: bool, category: str, label: str, extra: dict | None = None,
           summed_haul: str | None = None) -> Line:
    """Great-circle km × uplift × passengers × trips × g/pkm × cabin ratio; radiative forcing its own line.

    ``summed_haul``: ``distance`` is a sum of person-km of flights of that haul (an event's participants).
    """
    factor = tally.factors.factor
    haul = summed_haul or ("long" if distance >= factor("flight.long_haul_km").value else "short")
    steps = [Step.of(factor("flight.distance_uplift")), *([Step.count(passengers, f"{passengers} 人")]
                                                          if passengers > 1 else []),
             *_trips(round_trip), Step.of(factor("flight.pkm"))]
    if cabin != "economy":
        steps.append(Step.of(factor(f"flight.cabin.{haul}.{cabin}")))
    shape = {"haul": haul, "cabin": cabin} if summed_haul else {"distance_km": float(distance), "haul": haul,
                                                                 "cabin": cabin}
    line = tally.add(category, f"{label} {CABINS[cabin]}", distance,
                     "人公里（大圆距离）" if summed_haul else "km（大圆距离）", steps, **shape, **(extra or {}))
    tally.note("航空：按大圆距离加绕飞系数计；默认不计辐射强迫 (flights: great-circle distance plus uplift; "
               "no radiative forcing unless asked)")
    if radiative_forcing:
        rf = factor("flight.radiative_forcing")
        tally.add(category, f"{label} 非二氧化碳效应（辐射强迫）", line.exact, "gCO2",
                  [Step(Fraction(rf.value) - 1, f"({rf.value} − 1)（辐射强迫系数）", rf.citation(), rf)],
                  radiative_forcing=True, **{k: v for k, v in shape.items() if k == "distance_km"})
    return line
