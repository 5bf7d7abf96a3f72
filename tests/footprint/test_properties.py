"""Properties of the six footprint calculators, over inputs Hypothesis draws within each model's bounds.

The calculators are pure (validated inputs + a factor set → a result), so these run without an app or a database,
against the shipped library as factor set 1. For every calculator:

* nothing is negative and the parts add up: every line and every category is ≥ 0 g, and the lines, like the
  categories, sum to exactly ``total_g``;
* more never weighs less: raising any one quantity (kWh, km, litres, kg, meals, people, passengers, an appraised
  parameter), or making a journey a return one, a cabin a better one, or counting radiative forcing,
  all else unchanged, never lowers ``total_g``;
* nothing in, nothing out: with every quantity 0 the total is 0 g;
* the same question gets the same answer: twice from equal inputs, and again from the inputs as the result records
  them, after a trip through JSON, as ``flask footprint reproduce`` reads them from the database.

And some of particular calculators: neither a better cabin nor a flight just past the long-haul threshold weighs
less; the same damaged area in 亩, 公顷 or m² is the same loss.

Two tests stand for bugs these properties found: a number sent with trailing zeros (1500.0 km) must reproduce
from the record, and an adcode without coordinates must be a 400, not a crash.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from backend.errors import InvalidInput
from backend.footprint import library
from backend.footprint.calculators import CALCULATORS, event, judicial
from backend.footprint.calculators.lifestyle import MEAL_NAMES
from backend.footprint.inputs import MAX_KM
from backend.registry.adcode import divisions

FACTORS = library.parse(library.packaged_files()).numbered(1)
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ADCODES = sorted(divisions())  # what check_region accepts
PLACES = sorted(FACTORS.places)  # adcodes with coordinates of their own: venues and origins
AIRPORTS = sorted(FACTORS.airports)
SPECIES = sorted(FACTORS.species)
GRID_YEARS = FACTORS.years("electricity.grid")  # each has a national factor, so any region may ask for it
CABINS = ("economy", "premium_economy", "business", "first")  # cheapest seat first
TRAVEL_MODES = ("flight", "hsr", "train", "bus", "metro", "car")
LONG_HAUL_KM = FACTORS.factor("flight.long_haul_km").value  # where a flight's cabin ratios change
STOCK_PARAMETERS = ("wood_density", "bef", "root_shoot", "carbon_fraction")
AREA_UNITS = {"area_mu": 10**8, "area_ha": 10**7, "area_m2": 10**11}

# The quantities of each calculator and their ceilings (the models' own): what "raise one quantity" may raise.
LEG_QUANTITIES = {"litres": 10**5, "km": MAX_KM, "kwh": 10**6, "distance_km": 25_000, "passengers": 10**5}
MEAL_QUANTITIES = {kind: 10**6 for kind in MEAL_NAMES}
QUANTITIES: dict[str, dict[str, int | Decimal]] = {
    "household": {"electricity_kwh": 10**6, "natural_gas_m3": 10**6, "water_t": 10**6, "lpg_kg": 10**5,
                  "heating_gj": 10**5},
    "travel": LEG_QUANTITIES,
    "lifestyle": {**MEAL_QUANTITIES, "garments": 10**6, "paper_kg": 10**5, "plastic_bags": 10**6, "waste_kg": 10**6},
    "trip": {**LEG_QUANTITIES, **MEAL_QUANTITIES, "hotel_nights": 10**5, "electricity_kwh": 10**6},
    "event": {**LEG_QUANTITIES, **MEAL_QUANTITIES, "electricity_kwh": 10**9, "natural_gas_m3": 10**9,
              "diesel_l": 10**8, "heat_gj": 10**8, "count": 10**6, "accommodation_room_nights": 10**7, "kg": 10**9,
              "quantity": 10**9, "kgco2e_per_unit": 10**6, "waste_kg": 10**9},
    "judicial": {"volume_m3": 10**7, **AREA_UNITS, "recovery_years": 200,
                 **{name: Decimal(high) for name, (_, high) in judicial.BOUNDS.items()}},
}
SWITCHES = ("round_trip", "radiative_forcing")  # off → on adds a journey back, or the non-CO2 line
MUST_BE_POSITIVE = ("value", "recovery_years")  # an appraised parameter; the area method's years


# ---------------------------------------------------------------------------------------------------------------
# Inputs


def amount(maximum: int | Decimal, minimum: int | Decimal = 0) -> st.SearchStrategy[Decimal]:
    """A quantity as the models take it: a decimal with at most 6 places, within bounds."""
    return st.decimals(min_value=minimum, max_value=maximum, places=6, allow_nan=False, allow_infinity=False)


def flight_km() -> st.SearchStrategy[Decimal]:
    """A flight's great-circle km, often near the long-haul threshold, where the cabin ratios change."""
    return amount(25_000) | amount(LONG_HAUL_KM + 200, LONG_HAUL_KM - 200)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def fields(required: dict[str, Any], optional: dict[str, Any] | None = None) -> st.SearchStrategy[dict]:
    """A body: the required fields (plain values or strategies), any subset of the optional ones, None left out."""
    def strategy(value):
        return value if isinstance(value, st.SearchStrategy) else st.just(value)
    return st.fixed_dictionaries({k: strategy(v) for k, v in required.items()},
                                 optional={k: strategy(v) for k, v in (optional or {}).items()}).map(
        lambda body: {k: v for k, v in body.items() if v is not None})


def legs() -> st.SearchStrategy[dict]:
    """One travel leg of any kind: cars by fuel and by litres, km or kWh; taxis; transit; flights by airport pair
    or by distance, in every cabin."""
    back = {"round_trip": st.booleans()}
    airport_pairs = st.lists(st.sampled_from(AIRPORTS), min_size=2, max_size=2, unique=True)
    flight = {"mode": "flight", "cabin": st.sampled_from(CABINS), "passengers": st.integers(1, 10**5), **back}
    return st.one_of(
        fields({"mode": "car", "fuel": "petrol", "litres": amount(10**5), **back}),
        fields({"mode": "car", "fuel": "petrol", "km": amount(MAX_KM), **back}),
        fields({"mode": "car", "fuel": "diesel", "litres": amount(10**5), **back}),
        fields({"mode": "car", "fuel": "electric", "kwh": amount(10**6), **back}),
        fields({"mode": "car", "fuel": "electric", "km": amount(MAX_KM), **back}),
        fields({"mode": "taxi", "km": amount(MAX_KM), **back}),
        fields({"mode": st.sampled_from(("bus", "metro", "hsr", "train")), "km": amount(MAX_KM),
                "passengers": st.integers(1, 10**5), **back}),
        airport_pairs.flatmap(lambda pair: fields({**flight, "from": pair[0], "to": pair[1]})),
        fields({**flight, "distance_km": flight_km()}),
    )


def meals() -> st.SearchStrategy[dict]:
    return fields({}, {kind: st.integers(0, 10**6) for kind in MEAL_NAMES})


def nonempty(body: dict, among: tuple[str, ...] | dict) -> bool:
    return any(name in body for name in among)


def household() -> st.SearchStrategy[dict]:
    return fields({}, {"region": st.sampled_from(ADCODES), "year": st.sampled_from(GRID_YEARS),
                       **{name: amount(ceiling) for name, ceiling in QUANTITIES["household"].items()}}
                  ).filter(lambda body: nonempty(body, QUANTITIES["household"]))


def travel() -> st.SearchStrategy[dict]:
    return fields({"legs": st.lists(legs(), min_size=1, max_size=5), "radiative_forcing": st.booleans()},
                  {"region": st.sampled_from(ADCODES), "year": st.sampled_from(GRID_YEARS)})


LIFESTYLE_ITEMS = ("meals", "garments", "paper_kg", "plastic_bags", "waste_kg")


def lifestyle() -> st.SearchStrategy[dict]:
    return fields({}, {"meals": meals(), "garments": st.integers(0, 10**6), "paper_kg": amount(10**5),
                       "plastic_bags": st.integers(0, 10**6), "waste_kg": amount(10**6)}
                  ).filter(lambda body: nonempty(body, LIFESTYLE_ITEMS))


def trip() -> st.SearchStrategy[dict]:
    activity = st.one_of(fields({"name": "景区观光车", "leg": legs()}),
                         fields({"name": "索道", "electricity_kwh": amount(10**6)}))
    return fields({"legs": st.lists(legs(), max_size=4), "activities": st.lists(activity, max_size=3),
                   "radiative_forcing": st.booleans()},
                  {"destination": st.sampled_from(ADCODES), "year": st.sampled_from(GRID_YEARS),
                   "hotel_nights": amount(10**5), "meals": meals()}
                  ).filter(lambda body: body["legs"] or body["activities"] or nonempty(body, ("hotel_nights", "meals")))


def participant_travel() -> st.SearchStrategy[dict]:
    """A record of participants: any mode, from an origin city or over a distance; a cabin only for flights."""
    def record(mode: str) -> st.SearchStrategy[dict]:
        cabin = {"cabin": st.sampled_from(CABINS)} if mode == "flight" else {}
        common = {"mode": mode, "count": st.integers(1, 10**6), "round_trip": st.booleans(), **cabin}
        distance = flight_km() if mode == "flight" else amount(25_000)
        return fields({**common, "origin": st.sampled_from(PLACES)}) | fields({**common, "distance_km": distance})
    return st.sampled_from(TRAVEL_MODES).flatmap(record)


def materials() -> st.SearchStrategy[dict]:
    library_material = fields({"kind": st.sampled_from(("paper", "plastic", "steel")), "kg": amount(10**9)})
    custom = fields({"kind": "custom", "name": "展台板材", "quantity": amount(10**9), "unit": "块",
                     "kgco2e_per_unit": amount(10**6), "source": "供应商产品碳足迹声明 2025"})
    return library_material | custom


def event_body() -> st.SearchStrategy[dict]:
    venue_energy = fields({}, {"electricity_kwh": amount(10**9), "natural_gas_m3": amount(10**9),
                               "diesel_l": amount(10**8), "heat_gj": amount(10**8)})
    return fields({"name": "2026 成都马拉松", "stage": st.sampled_from(("plan", "final")),
                   "venue": st.sampled_from(PLACES), "participants": st.integers(1, 10**7),
                   "organiser_vehicles": st.lists(legs(), max_size=3),
                   "participant_travel": st.lists(participant_travel(), max_size=6),
                   "materials": st.lists(materials(), max_size=3), "radiative_forcing": st.booleans()},
                  {"year": st.sampled_from(GRID_YEARS), "venue_energy": venue_energy,
                   "accommodation_room_nights": amount(10**7), "catering": meals(), "waste_kg": amount(10**9)})


EVENT = {"name": "2026 成都马拉松", "stage": "final", "venue": "510100", "participants": 30_000}


def appraised(name: str) -> st.SearchStrategy[dict]:
    low, high = (Decimal(bound) for bound in judicial.BOUNDS[name])
    return fields({"value": amount(high, max(low, Decimal("0.000001"))), "source": "鉴定意见书第3页"})


APPRAISAL = {"body": "四川省林业司法鉴定中心", "report_no": "川林鉴〔2024〕12号"}


@st.composite
def judicial_body(draw) -> dict:
    """The stock method with a species, appraised parameters or both; or the area method in 亩, 公顷 or m², with the
    appraisal's annual sink (it has no default)."""
    if draw(st.booleans()):
        species = draw(maybe(st.sampled_from(SPECIES)))
        chosen = draw(st.sets(st.sampled_from(STOCK_PARAMETERS))) if species else set(STOCK_PARAMETERS)
        body = {"method": "stock", "volume_m3": draw(amount(10**7)), **({"species": species} if species else {})}
    else:
        unit = draw(st.sampled_from(sorted(AREA_UNITS)))
        chosen = {"annual_sink_t_per_mu"}
        body = {"method": "area", unit: draw(amount(AREA_UNITS[unit])),
                "recovery_years": draw(amount(200, Decimal("0.000001")))}
    if chosen:
        body["appraisal"] = APPRAISAL
        body["parameters"] = {name: draw(appraised(name)) for name in sorted(chosen)}
    if draw(st.booleans()):
        body["case_no"] = "(2024)川0181刑初123号"
    return body


BODIES = {"household": household(), "travel": travel(), "lifestyle": lifestyle(), "trip": trip(),
          "event": event_body(), "judicial": judicial_body()}
NAMES = list(CALCULATORS)
assert set(BODIES) == set(NAMES) == set(QUANTITIES)


def calculate(name: str, body: dict) -> dict:
    """The result; a body whose total passes the 10 Gt ceiling is refused by design and asks none of these
    properties (the largest quantity times the largest custom factor does, now and then), so it is rejected."""
    module = CALCULATORS[name]
    try:
        return module.calculate(module.Input.model_validate(body), FACTORS)
    except InvalidInput as error:
        if "exceeds 10 Gt" in error.message:
            reject()
        raise


# ---------------------------------------------------------------------------------------------------------------
# Walking a body


def leaves(value: Any, path: tuple = ()):
    """(path, value) of every scalar in a body."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def quantity_name(path: tuple) -> str:
    """An appraised parameter is named by its parent: parameters.bef.value → bef."""
    return path[-2] if path[-1] == "value" else path[-1]


def replaced(body: dict, path: tuple, value: Any) -> dict:
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def raisable(name: str, path: tuple, value: Any) -> bool:
    if isinstance(value, bool):
        return path[-1] in SWITCHES and not value
    if path[-1] == "cabin":
        return value != CABINS[-1]
    ceiling = QUANTITIES[name].get(quantity_name(path))
    return isinstance(value, (int, Decimal)) and ceiling is not None and value < ceiling


@st.composite
def raised(draw, name: str, body: dict) -> tuple[tuple, dict]:
    """The body with one quantity raised within its ceiling (or a switch turned on, or a better cabin), and where."""
    options = [path for path, value in leaves(body) if raisable(name, path, value)]
    assume(options)
    path = draw(st.sampled_from(options))
    old = dict(leaves(body))[path]
    if isinstance(old, bool):
        new = True
    elif path[-1] == "cabin":
        new = draw(st.sampled_from(CABINS[CABINS.index(old) + 1:]))
    elif isinstance(old, Decimal):
        new = old + draw(amount(QUANTITIES[name][quantity_name(path)] - old, Decimal("0.000001")))
    else:
        new = old + draw(st.integers(1, QUANTITIES[name][quantity_name(path)] - old))
    return path, replaced(body, path, new)


def zeroed(value: Any) -> Any:
    """The same body with every quantity that may be 0 set to 0; trips from a city or an airport become 0 km."""
    if isinstance(value, list):
        return [zeroed(item) for item in value]
    if not isinstance(value, dict):
        return value
    body = {key: item for key, item in value.items() if key not in ("origin", "from", "to")}
    if len(body) < len(value):
        body["distance_km"] = Decimal(0)
    for key, item in body.items():
        if isinstance(item, Decimal) and key not in MUST_BE_POSITIVE:
            body[key] = Decimal(0)
        elif isinstance(item, int) and not isinstance(item, bool) and key in QUANTITIES["lifestyle"]:
            body[key] = 0  # meals, garments and bags are counts that may be 0; people and passengers may not
        else:
            body[key] = zeroed(item)
    return body


def as_recorded(value: Any) -> Any:
    """Decimals as ``canonical_inputs`` writes them: no trailing zeros, no exponent."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {key: as_recorded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_recorded(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------------------------
# The four properties, for every calculator


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_nothing_is_negative_and_the_parts_add_up_to_the_total(name, data):
    """A footprint is what someone pays to offset and what a certificate states: a negative line would credit them
    for emitting, and parts that do not add up would make the trace a person checks by hand disagree with the
    figure they are charged for."""
    result = calculate(name, data.draw(BODIES[name], label="body"))
    assert result["total_g"] >= 0
    assert all(line["result_g"] >= 0 for line in result["breakdown"]), result["breakdown"]
    assert all(category["total_g"] >= 0 for category in result["categories"]), result["categories"]
    assert sum(line["result_g"] for line in result["breakdown"]) == result["total_g"]
    assert sum(category["total_g"] for category in result["categories"]) == result["total_g"]
    assert len(result["trace"]) >= len(result["breakdown"])  # every line is spelled out


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_more_of_anything_never_lowers_the_footprint(name, data):
    """Someone who drives further, eats more meals, flies business or brings more people must never be told they
    emitted less: a calculator that dips anywhere (a haul boundary, a cabin ratio, rounding) would reward it."""
    body = data.draw(BODIES[name], label="body")
    path, more = data.draw(raised(name, body), label="raised")
    before, after = calculate(name, body), calculate(name, more)
    assert after["total_g"] >= before["total_g"], f"raising {'.'.join(map(str, path))} lowered the total"


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_nothing_in_gives_nothing_out(name, data):
    """A form sent with every quantity 0 (a household that used nothing, an event whose participants all walked from
    next door) must owe 0 g: any gram there would come from the calculator, not the inputs."""
    body = zeroed(data.draw(BODIES[name], label="body"))
    assert calculate(name, body)["total_g"] == 0


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_the_same_question_gets_the_same_answer(name, data):
    """A stored calculation is kept by the hash of its inputs and must be reproducible from them against its factor
    set: equal inputs give equal results, and the inputs a result records (defaults filled in, after the database's
    JSON) give that result again, to the gram and to the line of trace. Numbers here are written as the record
    writes them (1.5, 100); for 1.50 see the next test."""
    body = data.draw(BODIES[name], label="body")
    first = calculate(name, body)
    assert calculate(name, copy.deepcopy(body)) == first
    answer = calculate(name, as_recorded(body))
    recorded = json.loads(json.dumps(answer["inputs"], ensure_ascii=False))
    assert calculate(name, recorded) == answer


WRITTEN_WITH_TRAILING_ZEROS = {
    "travel flight by distance": ("travel", {"legs": [{"mode": "flight", "distance_km": "1500.0"}]}),
    "trip flight by distance": ("trip", {"legs": [{"mode": "flight", "distance_km": "1500.0", "round_trip": True}]}),
    "event organiser's flight": ("event", {**EVENT, "organiser_vehicles": [
        {"mode": "flight", "distance_km": "800.0"}]}),
    "event custom material": ("event", {**EVENT, "materials": [
        {"kind": "custom", "name": "展台板材", "quantity": "120", "unit": "块", "kgco2e_per_unit": "0.50",
         "source": "供应商产品碳足迹声明 2025"}]}),
    "judicial recovery years": ("judicial", {
        "method": "area", "area_mu": "10", "recovery_years": "20.0", "appraisal": APPRAISAL,
        "parameters": {"annual_sink_t_per_mu": {"value": "0.80", "source": "鉴定意见书第5页"}}}),
    "judicial appraised parameter": ("judicial", {
        "method": "stock", "species": "杉木", "volume_m3": "12.5", "appraisal": APPRAISAL,
        "parameters": {"bef": {"value": "1.60", "source": "鉴定意见书第3页"}}}),
}


@pytest.mark.parametrize("name, body", WRITTEN_WITH_TRAILING_ZEROS.values(), ids=WRITTEN_WITH_TRAILING_ZEROS)
def test_a_number_written_with_trailing_zeros_is_reproduced_from_the_record(name, body):
    """1500.0 km and 1500 km are one question with one id (the record keeps "1500"); replaying the record must give
    back the answer that was stored, or reproduce fails a correct calculation."""
    first = calculate(name, body)
    assert calculate(name, first["inputs"]) == first


# ---------------------------------------------------------------------------------------------------------------
# Particular calculators


@EXAMPLES
@given(cabins=st.lists(st.sampled_from(CABINS), min_size=2, max_size=2).map(lambda two: sorted(two, key=CABINS.index)),
       short_by=amount(300, Decimal("0.000001")), past_by=amount(300), round_trip=st.booleans(),
       count=st.integers(1, 1000))
def test_neither_a_better_cabin_nor_a_flight_past_the_long_haul_threshold_weighs_less(cabins, short_by, past_by,
                                                                                     round_trip, count):
    """Short and long haul have their own cabin ratios, so the flights where a ratio could dip are those either side
    of the threshold: were a long-haul ratio below its short-haul one, or a better seat's below a worse one's, the
    longer flight or the better seat would be charged less. Checked for a traveller's leg and for an event's
    participants, whose person-km are summed per haul."""
    def travel_g(km, cabin):
        return calculate("travel", {"legs": [{"mode": "flight", "distance_km": km, "cabin": cabin,
                                              "round_trip": round_trip, "passengers": count}]})["total_g"]

    def event_g(km, cabin):
        return calculate("event", {**EVENT, "participant_travel": [
            {"mode": "flight", "distance_km": km, "cabin": cabin, "round_trip": round_trip, "count": count}]}
        )["total_g"]

    worse, better = cabins
    short, long = LONG_HAUL_KM - short_by, LONG_HAUL_KM + past_by
    for total in (travel_g, event_g):
        assert total(short, worse) <= total(short, better) <= total(long, better)
        assert total(short, worse) <= total(long, worse) <= total(long, better)


@EXAMPLES
@given(hectares=amount(10**6), years=amount(200, Decimal("0.000001")), sink=amount(20, Decimal("0.000001")))
def test_a_damaged_area_is_the_same_loss_in_mu_hectares_or_square_metres(hectares, years, sink):
    """An appraisal may measure the damaged forest in 亩, 公顷 or m²: 1 公顷 = 15 亩 = 10,000 m² exactly, so which
    one the court file uses must not change the restoration it orders by a single gram."""
    parameters = {"parameters": {"annual_sink_t_per_mu": {"value": sink, "source": "鉴定意见书第5页"}},
                  "appraisal": APPRAISAL}
    totals = {unit: calculate("judicial", {"method": "area", unit: area, "recovery_years": years, **parameters})
              ["total_g"] for unit, area in (("area_ha", hectares), ("area_mu", hectares * 15),
                                             ("area_m2", hectares * 10_000))}
    assert len(set(totals.values())) == 1, totals


def test_every_accepted_adcode_can_be_a_venue_and_an_origin():
    """An adcode the calculators accept must give an answer or a 400, never a crash: a venue's or an origin's
    coordinates are looked up (falling back to its prefecture or province) for every event. Only the table's
    pseudo-divisions without coordinates (99xxxx: 苏鲁交界, 海域) may be refused, and the refusal names the field."""
    crashed, refused = [], {}
    for code in ADCODES:
        body = {"name": "测试活动", "stage": "plan", "venue": code, "participants": 1,
                "participant_travel": [{"origin": code, "mode": "hsr", "count": 1}]}
        try:
            assert event.calculate(event.Input.model_validate(body), FACTORS)["total_g"] >= 0
        except InvalidInput as error:
            refused[code] = error.field
        except Exception as error:  # noqa: BLE001 — collected, so that the failure lists every such adcode
            crashed.append(f"{code} {divisions()[code]}: {type(error).__name__}: {error}")
    assert set(refused) == {code for code in ADCODES if FACTORS.place(code) is None} == {"990000", "999900"}
    assert set(refused.values()) == {"participant_travel.0.origin"}
    assert not crashed, "\n".join(crashed)
