"""The footprint API as outside scripts use it: the two fixed request shapes, errors that name the field,
calculations kept by identity and reproducible against their own factor set, a new data version loading as a new
set, the factor listing and the airport type-ahead."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from backend.footprint import library
from backend.footprint.models import FactorSetRecord, FootprintCalculation
from tests.envelope import refused

HOUSEHOLD = {"region": "510000", "year": 2022, "electricity_kwh": 100}
FLIGHT = {"legs": [{"mode": "flight", "from": "PEK", "to": "CTU", "cabin": "economy", "passengers": 1,
                    "round_trip": False}]}


def post(client, calculator: str, body):
    return client.post(f"/api/v1/footprint/{calculator}", json=body)


def test_the_two_contract_shapes_answer_total_breakdown_trace_and_factor_set(client):
    household = post(client, "household", HOUSEHOLD).get_json()
    travel = post(client, "travel", FLIGHT).get_json()

    for result in (household, travel):
        assert {"total_g", "breakdown", "trace", "factor_set", "categories", "inputs", "id"} <= set(result)
        assert isinstance(result["total_g"], int) and result["total_g"] > 0
        assert all(" × " in line and " = " in line and " — " in line for line in result["trace"])
    assert isinstance(travel["breakdown"][0]["distance_km"], float)


def test_identical_inputs_give_the_identical_result_and_one_stored_calculation(app, client):
    first = post(client, "household", HOUSEHOLD).get_json()
    again = post(client, "household", {"electricity_kwh": "100.000", "year": 2022, "region": "510000"}).get_json()

    assert again == first
    with app.app_context():
        from backend.db import read
        count = read(lambda s: s.execute(select(FootprintCalculation.id)).all())
    assert len(count) == 1

    stored = client.get(f"/api/v1/footprint/calculations/{first['id']}").get_json()
    assert {k: v for k, v in stored.items() if k != "created_at"} == first


def test_a_stored_calculation_reproduces_from_the_command_line(client, runner):
    result = post(client, "travel", FLIGHT).get_json()

    outcome = runner.invoke(args=["footprint", "reproduce", result["id"]])
    assert outcome.exit_code == 0, outcome.output
    assert f"reproduced, total {result['total_g']} g with factor set 1" in outcome.output


def test_unknown_and_malformed_calculation_ids_are_404(client):
    refused(client.get("/api/v1/footprint/calculations/FP" + "0" * 24), 404, "not_found")
    refused(client.get("/api/v1/footprint/calculations/not-an-id"), 404, "not_found")


def test_changed_data_files_load_as_a_new_set_and_the_old_set_still_answers(app, client, runner, monkeypatch):
    before = post(client, "household", HOUSEHOLD).get_json()
    shipped = library.packaged_files()
    edited = shipped["factors.csv"].replace(",0.1404,kgCO2/kWh,510000,2022,", ",0.1500,kgCO2/kWh,510000,2022,")
    assert edited != shipped["factors.csv"]
    monkeypatch.setattr(library, "packaged_files", lambda: {**shipped, "factors.csv": edited})

    outcome = runner.invoke(args=["footprint", "load"])
    assert "loaded as number 2" in outcome.output, outcome.output
    assert "already loaded as number 2" in runner.invoke(args=["footprint", "load"]).output

    now = post(client, "household", HOUSEHOLD).get_json()
    assert (now["factor_set"]["number"], now["total_g"]) == (2, 15_000)
    old = post(client, "household", {**HOUSEHOLD, "factor_set": 1}).get_json()
    assert old == before  # same set, same inputs: the same answer and the same id

    sets = client.get("/api/v1/footprint/factor-sets").get_json()["items"]
    assert [s["number"] for s in sets] == [1, 2]
    with app.app_context():
        from backend.db import read
        first = read(lambda s: s.get(FactorSetRecord, 1))
    assert first.sha256 == library.files_sha256(shipped) and first.files == shipped


def test_a_set_another_process_stores_is_current_here_within_seconds(app, client, monkeypatch):
    """The current set is the newest stored: one stored by another process (a reviewer on the console, ``flask
    footprint load``) is used here once this process looks again, CURRENT_RECHECK_SECONDS at most."""
    from backend.db import atomic
    from backend.footprint import service, store

    monkeypatch.setattr(service, "CURRENT_RECHECK_SECONDS", 3600)
    assert post(client, "household", HOUSEHOLD).get_json()["factor_set"]["number"] == 1
    shipped = library.packaged_files()
    edited = shipped["factors.csv"].replace(",0.1404,kgCO2/kWh,510000,2022,", ",0.1500,kgCO2/kWh,510000,2022,")
    with app.app_context():  # as another process does: this one is not told
        atomic(lambda s: store.load_files(s, {**shipped, "factors.csv": edited}, app.config["CLOCK"]()))

    assert post(client, "household", HOUSEHOLD).get_json()["factor_set"]["number"] == 1  # not looked again yet
    monkeypatch.setattr(service, "CURRENT_RECHECK_SECONDS", 0)  # the seconds have passed
    now = post(client, "household", HOUSEHOLD).get_json()
    assert (now["factor_set"]["number"], now["total_g"]) == (2, 15_000)


# The row factor set 1 shipped with, withdrawn since: a 2011 sales figure, not a damage-assessment parameter.
WITHDRAWN_AREA_SINK = ("judicial.area_sink_per_mu,新造林年固碳量 (new forest sink per mu),0.56,tCO2/mu-year,national,"
                       "2011,unverified,2011-01-01,北京市2011年碳汇认购：1000元≈0.5亩新造林≈20年5.6吨二氧化碳,"
                       "北京市园林绿化局,5.6 t ÷ 0.5 mu ÷ 20 years; an appraisal's own value overrides it\n")


def test_an_area_calculation_made_with_the_withdrawn_default_still_reproduces(client, runner, monkeypatch):
    """A set loaded before the area default was withdrawn keeps it: what was computed with it reproduces, to the
    byte, and asking that set again answers the same; the current set refuses the same question."""
    shipped = library.packaged_files()
    assert "judicial.area_sink_per_mu," not in shipped["factors.csv"]
    monkeypatch.setattr(library, "packaged_files",
                        lambda: {**shipped, "factors.csv": shipped["factors.csv"] + WITHDRAWN_AREA_SINK})
    body = {"method": "area", "area_mu": "4", "recovery_years": 20}
    old = post(client, "judicial", body).get_json()
    assert (old["factor_set"]["number"], old["total_g"]) == (1, 44_800_000)  # 4 mu × 0.56 t × 20 years
    assert "excludes" not in old and old["breakdown"][0]["factors"][0]["key"] == "judicial.area_sink_per_mu"

    monkeypatch.setattr(library, "packaged_files", lambda: shipped)
    assert "loaded as number 2" in runner.invoke(args=["footprint", "load"]).output
    refused(post(client, "judicial", body), 400, field="parameters.annual_sink_t_per_mu")
    assert post(client, "judicial", {**body, "factor_set": 1}).get_json() == old
    outcome = runner.invoke(args=["footprint", "reproduce", old["id"]])
    assert outcome.exit_code == 0, outcome.output
    assert "reproduced, total 44800000 g with factor set 1" in outcome.output


@pytest.mark.parametrize("calculator, body, field", [
    ("household", {"region": "510000", "electricity_kwh": 10**12}, "electricity_kwh"),
    ("household", {"region": "510000", "electricity_kwh": -1}, "electricity_kwh"),
    ("household", {"region": "510000", "electricity_kwh": "lots"}, "electricity_kwh"),
    ("household", {"region": "510000", "electricity_kwh": True}, "electricity_kwh"),
    ("household", {"region": "510000", "electricity_kwh": 0.1234567}, "electricity_kwh"),
    ("household", {"region": "999999", "electricity_kwh": 1}, "region"),
    ("household", {"region": "51", "electricity_kwh": 1}, "region"),
    ("household", {"year": 2019, "electricity_kwh": 1}, "year"),
    ("household", {"region": "510000"}, "electricity_kwh"),
    ("household", {"electricity_kwh": 1, "kwh": 1}, "kwh"),
    ("household", {"electricity_kwh": 1, "factor_set": 99}, "factor_set"),
    ("travel", {}, "legs"),
    ("travel", {"legs": [{"mode": "flight", "from": "PEK", "to": "ZZZ"}]}, "legs.0.to"),
    ("travel", {"legs": [{"mode": "flight", "from": "PEK", "to": "PEK"}]}, "legs.0.to"),
    ("travel", {"legs": [{"mode": "flight", "from": "PEK", "to": "CTU", "distance_km": 10}]}, "legs.0.distance_km"),
    ("travel", {"legs": [{"mode": "flight", "to": "CTU"}]}, "legs.0.from"),
    ("travel", {"legs": [{"mode": "flight", "from": "PEK", "to": "CTU", "cabin": "suite"}]}, "legs.0.flight.cabin"),
    ("travel", {"legs": [{"mode": "teleport", "km": 1}]}, "legs.0"),
    ("travel", {"legs": [{"mode": "car", "fuel": "diesel", "km": 10}]}, "legs.0.litres"),
    ("travel", {"legs": [{"mode": "car", "litres": 10, "km": 10}]}, "legs.0.km"),
    ("travel", {"legs": [{"mode": "hsr", "km": 100, "passengers": 0}]}, "legs.0.hsr.passengers"),
    ("lifestyle", {"meals": {"caviar": 1}}, "meals.caviar"),
    ("lifestyle", {}, "meals"),
    ("judicial", {"method": "stock", "species": "银杏", "volume_m3": 1}, "species"),
    ("judicial", {"method": "stock", "volume_m3": 1}, "species"),
    ("judicial", {"method": "stock", "species": "杉木"}, "volume_m3"),
    ("judicial", {"method": "stock", "species": "杉木", "volume_m3": 1, "case_no": "第123号"}, "case_no"),
    ("judicial", {"method": "stock", "species": "杉木", "volume_m3": 1,
                  "parameters": {"bef": {"value": 1.5, "source": "第3页"}}}, "appraisal"),
    ("judicial", {"method": "stock", "species": "杉木", "volume_m3": 1,
                  "appraisal": {"body": "鉴定所", "report_no": "2024-1"},
                  "parameters": {"carbon_fraction": {"value": 5, "source": "第3页"}}},
     "parameters.carbon_fraction.value"),
    ("judicial", {"method": "area", "area_mu": 1}, "recovery_years"),
    ("judicial", {"method": "area", "area_mu": 1, "area_ha": 1, "recovery_years": 5}, "area_ha"),
    ("judicial", {"method": "area", "area_mu": 1, "recovery_years": 5}, "parameters.annual_sink_t_per_mu"),
    ("event", {"name": "x", "stage": "plan", "venue": "510104"}, "participants"),
    ("event", {"name": "x", "stage": "rehearsal", "venue": "510104", "participants": 1}, "stage"),
    ("event", {"name": "x", "stage": "plan", "venue": "510104", "participants": 1,
               "participant_travel": [{"mode": "hsr", "count": 1}]}, "participant_travel.0.origin"),
    ("event", {"name": "x", "stage": "plan", "venue": "510104", "participants": 1,
               "participant_travel": [{"origin": "110000", "mode": "hsr", "count": 1, "cabin": "first"}]},
     "participant_travel.0.cabin"),
    ("event", {"name": "x", "stage": "plan", "venue": "510104", "participants": 1,
               "materials": [{"kind": "custom", "name": "展台", "quantity": 1, "unit": "m²",
                              "kgco2e_per_unit": 1}]}, "materials.0.source"),
    ("trip", {"legs": [{"mode": "bus", "km": 1}], "activities": [{"name": "索道"}]}, "activities.0.leg"),
    ("trip", {"destination": "513200"}, "legs"),
    ("judicial", {"method": "stock", "species": "杉木", "volume_m3": 1, "parameters": None}, "parameters"),
    ("judicial", {"method": "stock", "species": "杉木", "volume_m3": 1, "appraisal": "某鉴定所"}, "appraisal"),
    ("judicial", {"method": "stock", "species": "杉木", "volume_m3": 1, "case_no": "(2024)川0181刑初123号\n"},
     "case_no"),
    ("event", {"name": "x", "stage": "plan", "venue": "510104", "participants": 1, "catering": 5}, "catering"),
    ("event", {"name": "x", "stage": "plan", "venue": "510104", "participants": 1,
               "materials": [{"kind": "custom", "name": "x", "quantity": 1_000_000_000, "unit": "t",
                              "kgco2e_per_unit": 1_000_000, "source": "ab"}] * 10}, "materials"),
    ("event", {"name": "x", "stage": "plan", "venue": "990000", "participants": 1,
               "participant_travel": [{"origin": "110000", "mode": "hsr", "count": 1}]}, "venue"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(app, client, calculator, body, field):
    refused(post(client, calculator, body), 400, field=field)

    with app.app_context():
        from backend.db import read
        assert read(lambda s: s.execute(select(FootprintCalculation.id)).all()) == []


@pytest.mark.parametrize("raw", [b"", b"[]", b"{", b'"text"'])
def test_a_body_that_is_not_an_object_is_a_400(client, raw):
    refused(client.post("/api/v1/footprint/household", data=raw, content_type="application/json"), 400)


def test_a_household_body_is_limited_to_64_kib_but_an_event_may_carry_20000_records(client):
    big = {"electricity_kwh": 1, "padding": "x" * 70_000}
    refused(post(client, "household", big), 400, field="body")

    records = [{"distance_km": 100 + index % 50, "mode": "hsr", "count": 1} for index in range(20_000)]
    response = post(client, "event", {"name": "马拉松", "stage": "plan", "venue": "510104", "participants": 20_000,
                                      "participant_travel": records})
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert len(result["participant_distances_km"]) == 20_000
    assert len(result["breakdown"]) == 1  # one line per mode and distance basis, not per record


def test_the_factor_list_gives_every_factor_with_its_source_and_status(client):
    listing = client.get("/api/v1/footprint/factors").get_json()
    assert listing["factor_set"]["number"] == 1
    assert all(f["source"] and f["status"] in library.STATUSES and f["unit"] for f in listing["items"])

    sichuan = client.get("/api/v1/footprint/factors?key=electricity.grid&geography=510000").get_json()["items"]
    assert {f["year"]: f["value"] for f in sichuan} == {2021: "0.1255", 2022: "0.1404", 2023: "0.1564"}
    flights = client.get("/api/v1/footprint/factors?key=flight.").get_json()["items"]
    assert {f["key"] for f in flights} >= {"flight.pkm", "flight.distance_uplift", "flight.radiative_forcing"}
    refused(client.get("/api/v1/footprint/factors?factor_set=7"), 400, field="factor_set")


def test_species_are_listed_with_sources(client):
    species = client.get("/api/v1/footprint/species").get_json()["items"]
    assert {"杉木", "马尾松", "杨树", "栎类"} <= {s["species"] for s in species}
    assert all(s["source"] and s["status"] in library.STATUSES for s in species)


@pytest.mark.parametrize("q, first", [("PEK", "PEK"), ("pek", "PEK"), ("天府", "TFU"), ("heathrow", "LHR"),
                                      ("Chengdu", "CTU")])
def test_airport_type_ahead_finds_by_code_name_and_city(client, q, first):
    items = client.get(f"/api/v1/airports?q={q}").get_json()["items"]
    assert items and items[0]["iata"] == first


def test_airport_type_ahead_needs_a_query_and_bounds_the_limit(client):
    assert {a["iata"] for a in client.get("/api/v1/airports?q=成都").get_json()["items"]} == {"CTU", "TFU"}
    refused(client.get("/api/v1/airports"), 400, field="q")
    refused(client.get("/api/v1/airports?q=%20%20"), 400, field="q")
    refused(client.get("/api/v1/footprint/factor-sets?page=2"), 400, field="page")
    refused(client.get("/api/v1/airports?q=a&limit=500"), 400, field="limit")


def test_calculations_are_rate_limited_per_client_bad_bodies_included(app, client):
    app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"] = 3
    assert post(client, "household", {"electricity_kwh": -1}).status_code == 400
    for _ in range(2):
        assert post(client, "household", HOUSEHOLD).status_code == 200
    response = post(client, "household", HOUSEHOLD)
    refused(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1


def test_a_body_of_many_bad_records_gets_a_bounded_error(client):
    records = [{"distance_km": 10, "mode": "hsr", "count": 1, "seat": "window"} for _ in range(5_000)]
    error = refused(post(client, "event", {"name": "x", "stage": "plan", "venue": "510104", "participants": 1,
                                           "participant_travel": records}), 400,
                    field="participant_travel.0.seat")
    assert len(error["details"]) == 20


def test_the_openapi_document_describes_every_calculator(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for name in ("household", "travel", "lifestyle", "trip", "event", "judicial"):
        assert "post" in paths[f"/api/v1/footprint/{name}"]
    # The price-per-tree calculator is gone: the duty is priced by the tree-duty scenario's threshold rules.
    assert "/api/v1/footprint/tree_duty" not in paths and "/api/v1/footprint/tree-duty-rules" not in paths
    assert "get" in paths["/api/v1/tree-duty/rules"]
    assert "get" in paths["/api/v1/airports"]


@pytest.mark.services_only
def test_factor_sets_and_calculations_cannot_be_rewritten_on_postgresql(app, client, stores):
    post(client, "household", HOUSEHOLD)
    engine = app.extensions["db_engine"]
    for statement in ("UPDATE factor_set SET summary = '{}'", "DELETE FROM footprint_calculation"):
        with engine.connect() as connection, pytest.raises(Exception, match="append-only|history"):
            connection.execute(text(statement))


# The rules file factor sets were stored with while the duty was priced per tree (retired: the tree-duty scenario
# prices it by thresholds now), and a calculation that price-per-tree calculator answered, as it was stored.
LEGACY_DUTY_RULES = ("region,name,effective_from,effective_to,yuan_per_tree,g_per_tree,trees_per_year,status,source\n"
                     "110000,北京市,2010-03-01,,20,,3,official,《北京市绿化条例》（2010-03-01施行）\n")
LEGACY_DUTY_RESULT = {
    "calculator": "tree_duty", "total_g": 750_000,
    "categories": [{"category": "tree_duty", "name": "义务植树折算", "total_g": 750_000}],
    "breakdown": [{"category": "tree_duty", "category_name": "义务植树折算", "item": "义务植树 3 株（北京市）",
                   "quantity": "3", "unit": "株", "result_g": 750_000, "factors": []}],
    "trace": ["3 株 × 2,000 分/株 = 6,000 分 — 《北京市绿化条例》（2010-03-01施行），官方"],
    "notes": [], "rounding": "每行向上取整到克", "trees": 3, "amount_fen": 6_000, "duty_trees": 3, "meets_duty": True,
    "inputs": {"region": "110105", "date": "2026-03-12", "price_fen_per_t": 8_000}}


def test_a_factor_set_stored_with_the_retired_tree_duty_rules_still_loads_and_its_calculation_still_reads(
        app, client, runner, monkeypatch):
    """Set 1 was stored with tree_duty_rules.csv: it still hash-checks and answers; the price-per-tree calculation
    made with it reads back as it was stored, and asking to reproduce it is a clear refusal, not a crash."""
    from backend.db import atomic
    from backend.footprint import store

    shipped = library.packaged_files()
    assert "tree_duty_rules.csv" not in shipped
    legacy = {**shipped, "tree_duty_rules.csv": LEGACY_DUTY_RULES}
    monkeypatch.setattr(library, "packaged_files", lambda: legacy)
    assert "loaded as number 1" in runner.invoke(args=["footprint", "load"]).output
    monkeypatch.setattr(library, "packaged_files", lambda: shipped)
    assert "loaded as number 2" in runner.invoke(args=["footprint", "load"]).output

    calculation_id = "FP" + "ab" * 12
    stored = {**LEGACY_DUTY_RESULT, "id": calculation_id,
              "factor_set": {"number": 1, "sha256": library.files_sha256(legacy)}}
    with app.app_context():
        atomic(lambda s: s.add(FootprintCalculation(id=calculation_id, calculator="tree_duty", factor_set=1,
                                                    inputs=stored["inputs"], result=stored, total_g=750_000,
                                                    created_at=app.config["CLOCK"]())))
    store._parsed.clear()  # a fresh process: set 1 is parsed from its stored files and its hash checked again

    old_set = client.get("/api/v1/footprint/factors?factor_set=1&key=flight.pkm")
    assert old_set.status_code == 200 and old_set.get_json()["factor_set"]["sha256"] == library.files_sha256(legacy)
    assert post(client, "household", {**HOUSEHOLD, "factor_set": 1}).status_code == 200

    read_back = client.get(f"/api/v1/footprint/calculations/{calculation_id}").get_json()
    assert {k: v for k, v in read_back.items() if k != "created_at"} == stored

    outcome = runner.invoke(args=["footprint", "reproduce", calculation_id])
    assert outcome.exit_code == 1 and "Error: calculator_retired:" in outcome.output, outcome.output
    assert "GET /api/v1/tree-duty/rules" in outcome.output
    refused(post(client, "tree_duty", {"region": "110000"}), 404)  # and nothing computes a price per tree now


def test_a_file_that_is_not_part_of_the_library_is_refused():
    shipped = library.packaged_files()
    with pytest.raises(library.DataFileError, match="notes.csv:0: not a file of the factor library"):
        library.parse({**shipped, "notes.csv": "a,b\n1,2\n"})
