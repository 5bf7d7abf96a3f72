"""Worked examples, each computed by hand here from the cited factor, and compared with what the API answers.

The stories: a Chengdu household's electricity bill; a flight Beijing → Chengdu whose distance the test works out
itself from the two airports' coordinates; a forum in Chengdu accounted category by category; a felling case
with the appraisal's own parameters. (A resident's tree duty is priced by thresholds, not computed here:
tests/scenarios/tree_duty.)
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from backend.footprint import library
from tests.envelope import refused

TONNE = 1_000_000


@pytest.fixture(scope="module")
def shipped():
    return library.parse(library.packaged_files())


def calculate(client, calculator: str, body: dict) -> dict:
    response = client.post(f"/api/v1/footprint/{calculator}", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ceil_g(value) -> int:
    return math.ceil(Fraction(value))


def test_a_hundred_kwh_in_sichuan_2022_is_14_04_kg(client):
    """四川 2022: 0.1404 kgCO2/kWh (MEE/NBS 公告2024年第33号). 100 kWh × 0.1404 kg = 14.04 kg = 14,040 g."""
    result = calculate(client, "household", {"region": "510000", "year": 2022, "electricity_kwh": 100})

    assert result["total_g"] == 14_040
    [line] = result["breakdown"]
    assert (line["category"], line["result_g"]) == ("electricity", 14_040)
    [factor] = line["factors"]
    assert (factor["value"], factor["geography"], factor["year"], factor["status"]) == ("0.1404", "510000", 2022,
                                                                                        "official")
    assert "公告2024年第33号" in factor["source"]
    assert result["trace"] == [
        "用电：100 kWh × 0.1404 kgCO2/kWh = 14,040 gCO2e — 2022年电力二氧化碳排放因子（公告2024年第33号）"
        "（生态环境部、国家统计局），四川省，2022年，官方"]
    assert result["factor_set"]["number"] == 1


@pytest.mark.parametrize("region, expected_value, expected_geography, expected_year", [
    ("510104", "0.1404", "510000", 2022),   # a Chengdu district: Sichuan's official 2022 value beats the
                                           # third-party 2023 transcription
    ("540102", "0.2268", "grid:southwest", 2022),  # Lhasa: Tibet has no provincial factor → 西南区域电网
    ("440300", "0.4419", "440000", 2023),  # Shenzhen: Guangdong's only values are third-party; the latest
    (None, "0.5306", "national", 2023),    # no region: the latest national value
])
def test_the_default_grid_factor_is_the_most_specific_then_official_then_latest(client, region, expected_value,
                                                                               expected_geography, expected_year):
    body = {"electricity_kwh": 1000, **({"region": region} if region else {})}
    result = calculate(client, "household", body)

    [factor] = result["breakdown"][0]["factors"]
    assert (factor["value"], factor["geography"], factor["year"]) == (expected_value, expected_geography,
                                                                     expected_year)
    assert result["total_g"] == 1000 * Decimal(expected_value) * 1000
    assert any(str(expected_year) in note for note in result["notes"])  # the year chosen is shown


def test_the_year_2023_in_hulunbuir_falls_back_to_the_northeast_grid(client):
    """No provincial 2023 value for Inner Mongolia; 呼伦贝尔 is 蒙东, served by the Northeast grid (0.5122)."""
    result = calculate(client, "household", {"region": "150702", "year": 2023, "electricity_kwh": 100})
    assert result["total_g"] == 51_220
    assert result["breakdown"][0]["factors"][0]["geography"] == "grid:northeast"

    west = calculate(client, "household", {"region": "150102", "year": 2023, "electricity_kwh": 100})
    assert west["total_g"] == 63_610  # 呼和浩特 is 蒙西: North China grid 0.6361


def test_the_note_says_why_a_newer_value_was_passed_over(client):
    result = calculate(client, "household", {"region": "510000", "electricity_kwh": 1})
    assert any("2023 年仅有较低可信度的值，未采用" in note for note in result["notes"]), result["notes"]


def test_a_household_month_adds_its_lines_each_rounded_up_to_the_gram(client, shipped):
    """Gas 2.1622 kg/m³, water 0.33885 kg/t, LPG 3.1013 kg/kg, heat 0.11 t/GJ, in the library's own units."""
    result = calculate(client, "household", {"region": "510000", "year": 2022, "electricity_kwh": "123.4",
                                             "natural_gas_m3": 15, "water_t": 7, "lpg_kg": 0, "heating_gj": "0.5"})

    expected = {"electricity": ceil_g(Decimal("123.4") * Decimal("140.4")),
                "natural_gas": ceil_g(15 * Decimal("2162.2")),
                "water": ceil_g(7 * Decimal("338.85")),
                "lpg": 0,
                "heating": ceil_g(Decimal("0.5") * 110_000)}
    assert {c["category"]: c["total_g"] for c in result["categories"]} == expected
    assert result["total_g"] == sum(expected.values()) == 17_326 + 32_433 + 2_372 + 55_000  # 17,325.36 g rounds up


def haversine_by_vectors(a: tuple[float, float], b: tuple[float, float], radius: float = 6371.0088) -> float:
    """The central angle from the two points' unit vectors (a different formula from the app's haversine)."""
    def unit(lat, lon):
        lat, lon = math.radians(lat), math.radians(lon)
        return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))
    u, v = unit(*a), unit(*b)
    cross = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
    return radius * math.atan2(math.sqrt(sum(c * c for c in cross)), sum(x * y for x, y in zip(u, v)))


def test_a_flight_pek_to_ctu_is_its_great_circle_distance_plus_8_percent(client, shipped):
    pek, ctu = shipped.airports["PEK"], shipped.airports["CTU"]
    distance = haversine_by_vectors((pek.lat, pek.lon), (ctu.lat, ctu.lon))
    assert 1500 < distance < 1600  # Beijing Capital → Chengdu Shuangliu is about 1,550 km as the crow flies

    result = calculate(client, "travel", {"legs": [{"mode": "flight", "from": "PEK", "to": "CTU",
                                                    "cabin": "economy", "passengers": 1, "round_trip": False}]})

    [line] = result["breakdown"]
    assert line["distance_km"] == pytest.approx(distance, abs=0.05)
    km = Decimal(str(line["distance_km"]))
    assert result["total_g"] == ceil_g(km * Decimal("1.08") * Decimal("95.3"))  # no radiative forcing by default
    assert (line["from"], line["to"], line["haul"]) == ("PEK", "CTU", "short")


def test_a_return_business_flight_for_two_with_radiative_forcing_shows_it_as_its_own_line(client):
    result = calculate(client, "travel", {"radiative_forcing": True, "legs": [
        {"mode": "flight", "from": "PVG", "to": "LHR", "cabin": "business", "passengers": 2, "round_trip": True}]})

    flight, forcing = result["breakdown"]
    km = Decimal(str(flight["distance_km"]))
    assert flight["haul"] == "long" and km > 3700
    exact = km * Decimal("1.08") * 2 * 2 * Decimal("95.3") * Decimal("2.9")  # long-haul business 2.9 × economy
    assert flight["result_g"] == ceil_g(exact)
    assert forcing["radiative_forcing"] is True and forcing["distance_km"] == flight["distance_km"]
    assert forcing["result_g"] == ceil_g(exact * Decimal("0.7"))  # DESNZ 2024: 1.7 × CO2, the extra 0.7 shown apart
    assert result["total_g"] == flight["result_g"] + forcing["result_g"]


def test_ground_legs_count_vehicles_once_and_passengers_per_km(client):
    result = calculate(client, "travel", {"region": "440300", "legs": [
        {"mode": "car", "fuel": "petrol", "litres": 40},
        {"mode": "car", "fuel": "electric", "km": 100},
        {"mode": "taxi", "km": 12, "round_trip": True},
        {"mode": "hsr", "km": "1200.5", "passengers": 3},
        {"mode": "metro", "km": 18}]})

    by_item = [line["result_g"] for line in result["breakdown"]]
    assert by_item == [
        ceil_g(40 * Decimal("2120.7")),                       # petrol 2.1207 kg/L
        ceil_g(100 * Decimal("0.147") * Decimal("441.9")),    # 14.7 kWh/100 km × Guangdong 2023 0.4419 (third-party)
        ceil_g(12 * 2 * Decimal("196")),                      # taxi 0.196 kg per vehicle-km, there and back
        ceil_g(Decimal("1200.5") * 3 * Decimal("30.48")),     # HSR 30.48 g per passenger-km
        ceil_g(18 * Decimal("43")),                           # metro 0.043 kg per passenger-km
    ]


def test_a_forum_in_chengdu_is_accounted_by_every_source_category(client, shipped):
    """500 people at a forum in 成都市锦江区: venue energy, cars, travel from Beijing by air and from Chongqing by
    HSR, hotel nights, meals, printed matter, a stand with the supplier's factor, and waste."""
    body = {"name": "2026 成都林草碳汇论坛", "stage": "final", "venue": "510104", "participants": 500,
            "venue_energy": {"electricity_kwh": 12_000, "natural_gas_m3": 300, "diesel_l": 50},
            "organiser_vehicles": [{"mode": "car", "fuel": "petrol", "km": 800}],
            "participant_travel": [{"origin": "110101", "mode": "flight", "count": 80},
                                   {"origin": "500103", "mode": "hsr", "count": 120},
                                   {"distance_km": 15, "mode": "metro", "count": 300}],
            "accommodation_room_nights": 400, "catering": {"meat": 1000, "vegetarian": 200},
            "materials": [{"kind": "paper", "kg": 200},
                          {"kind": "custom", "name": "展台搭建", "quantity": 20, "unit": "m²",
                           "kgco2e_per_unit": "35.5", "source": "供应商 EPD 2025-001"}],
            "waste_kg": 800}
    result = calculate(client, "event", body)

    venue = shipped.places["510104"]
    beijing = haversine_by_vectors(shipped.places["110101"], venue)
    chongqing = haversine_by_vectors(shipped.places["500103"], venue)
    flown, ridden = result["participant_distances_km"][:2]
    assert flown == pytest.approx(beijing, abs=0.05) and ridden == pytest.approx(chongqing, abs=0.05)
    expected = {
        "venue_energy": ceil_g(12_000 * Decimal("140.4")) + ceil_g(300 * Decimal("2162.2"))
        + ceil_g(50 * Decimal("2600.6")),
        "organiser_vehicles": ceil_g(800 * 196),
        "participant_travel": ceil_g(Decimal(str(flown)) * 80 * 2 * Decimal("1.08") * Decimal("95.3"))
        + ceil_g(Decimal(str(ridden)) * 120 * 2 * Decimal("1.3") * Decimal("30.48"))
        + ceil_g(15 * 300 * 2 * 43),
        "accommodation": 400 * 53_500,
        "catering": ceil_g(1000 * Decimal("1876.7")) + ceil_g(200 * 1270),
        "materials": ceil_g(200 * Decimal("1339.32")) + 20 * 35_500,
        "waste": ceil_g(800 * Decimal("497.04")),
    }
    assert {c["category"]: c["total_g"] for c in result["categories"]} == expected
    assert result["total_g"] == sum(expected.values())
    assert result["per_participant_g"] == math.ceil(Fraction(result["total_g"], 500))
    assert result["stage"] == "final"
    custom = next(line for line in result["breakdown"] if line.get("custom_factor"))
    assert "用户提供：供应商 EPD 2025-001" in next(t for t in result["trace"] if t.startswith("展台搭建"))
    assert custom["result_g"] == 710_000


def test_a_felling_case_with_the_appraisals_own_parameters(client):
    """73.6 m³ of Chinese fir; the appraisal gives WD 0.31, BEF 1.5, R 0.25, CF 0.5:
    73.6 × 0.31 × 1.5 × 1.25 × 0.5 × 44/12 = 78.43 tCO2 exactly."""
    appraisal = {"body": "福建省林业调查规划院", "report_no": "闽林鉴〔2020〕7号"}
    result = calculate(client, "judicial", {
        "method": "stock", "case_no": "(2020)闽0721刑初12号", "species": "杉木", "volume_m3": "73.6",
        "appraisal": appraisal, "parameters": {
            "wood_density": {"value": "0.31", "source": "意见书第3页"},
            "bef": {"value": "1.5", "source": "第3页"},
            "root_shoot": {"value": "0.25", "source": "第4页"},
            "carbon_fraction": {"value": "0.5", "source": "第4页"}}})

    assert result["total_g"] == 78_430_000 and result["total_t"] == "78.43"
    derivation = result["trace"][:5]
    assert derivation[0] == ("73.6 m³ × 0.31 t/m³（基本木材密度） = 22.816 t 干重（树干） — "
                             "鉴定意见（福建省林业调查规划院 闽林鉴〔2020〕7号）：意见书第3页")
    assert derivation[-1].startswith("21.39 tC × 44/12（CO2 与 C 分子量比） = 78.43 tCO2")
    assert "案号：(2020)闽0721刑初12号" in result["notes"]
    assert result["excludes"] == ["lost_growth"]


def test_species_defaults_fill_what_the_appraisal_leaves_out(client, shipped):
    fir = shipped.species["杉木"]
    result = calculate(client, "judicial", {
        "method": "stock", "species": "杉木", "volume_m3": 10,
        "appraisal": {"body": "某司法鉴定所", "report_no": "2024-01"},
        "parameters": {"carbon_fraction": {"value": "0.5", "source": "第2页"}}})

    expected = 10 * Fraction(fir.wood_density) * Fraction(fir.bef) * (1 + Fraction(fir.root_shoot)) \
        * Fraction(1, 2) * Fraction(44, 12) * TONNE
    assert result["total_g"] == math.ceil(expected)
    assert "缺省值" in result["trace"][0] and "鉴定意见" in result["trace"][3]


def test_the_area_method_converts_square_metres_to_mu(client):
    """623.55 m² = 0.935325 mu; × 0.8 tCO2/mu/yr (appraisal) × 10 years = 7.4826 t."""
    result = calculate(client, "judicial", {
        "method": "area", "area_m2": "623.55", "recovery_years": 10,
        "appraisal": {"body": "重庆市林业科学研究院", "report_no": "渝林司鉴〔2023〕2号"},
        "parameters": {"annual_sink_t_per_mu": {"value": "0.8", "source": "第5页"}}})

    assert result["total_g"] == 7_482_600
    assert "鉴定意见（重庆市林业科学研究院 渝林司鉴〔2023〕2号）：第5页" in result["trace"][1]


def test_the_area_method_has_no_national_default_sink(client):
    """The library's 0.56 tCO2/mu/yr was 北京市2011年碳汇认购's sales figure (5.6 t per 0.5 mu over 20 years), not a
    damage-assessment parameter: without the appraisal's annual sink the area method refuses, and says why."""
    response = client.post("/api/v1/footprint/judicial", json={"method": "area", "area_mu": "11.6",
                                                               "recovery_years": 20})
    error = refused(response, 400, "invalid_request", field="parameters.annual_sink_t_per_mu")
    assert "鉴定意见" in error["message"] and "no damage-assessment source backs a national default" in \
        error["message"]

    listing = client.get("/api/v1/footprint/factors").get_json()["items"]
    assert not [factor for factor in listing if factor["key"].startswith("judicial.")]


def test_each_method_says_what_it_leaves_out(client):
    """Felled trees' carbon is not the whole loss: the forest would have kept growing until it recovered. The stock
    method counts the first only, the area method the second only; each result says which, in ``excludes`` and in a
    note a court file can quote."""
    stock = calculate(client, "judicial", {"method": "stock", "species": "杉木", "volume_m3": "18.6493"})
    area = calculate(client, "judicial", {
        "method": "area", "area_mu": "4", "recovery_years": 20,
        "appraisal": {"body": "某林业司法鉴定中心", "report_no": "陕林鉴〔2024〕3号"},
        "parameters": {"annual_sink_t_per_mu": {"value": "0.9", "source": "第4页"}}})

    assert stock["excludes"] == ["lost_growth"]
    assert any("不计森林恢复前损失的生长固碳" in note and "not the growth lost until the forest recovers" in note
               for note in stock["notes"])
    assert area["excludes"] == ["stock_loss"]
    assert any("不计被毁林木本身所含的碳" in note for note in area["notes"])
