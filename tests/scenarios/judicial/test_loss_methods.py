"""The three ways a judgment states the loss: an appraisal's tonnes (the story), a stored calculation of the
judicial calculator (its trace goes into the case), and a sum of money to spend on credits (重庆二中院: a
service-value loss ordered 用于购买等值碳汇)."""

from __future__ import annotations

from tests.scenarios.judicial.conftest import PRICE_FEN_PER_T, case_body, defendant, key, open_case


def test_a_stored_stock_calculation_becomes_the_loss_with_its_trace(client, nanjing_court):
    calculation = client.post("/api/v1/footprint/judicial", json={
        "method": "stock", "species": "栎类", "volume_m3": "18.6493"}).get_json()
    case = open_case(client, nanjing_court, loss={"method": "calculation", "calculation_id": calculation["id"]},
                     multiplier="1", rounding="up_kg")
    assert case["loss"]["calculation_id"] == calculation["id"] and case["loss"]["total_g"] == calculation["total_g"]
    assert case["required_g"] == -(-calculation["total_g"] // 1_000) * 1_000  # up to the kilogram
    assert any("18.6493 m³" in line for line in case["computation"])  # the calculator's own derivation, kept


def test_an_unknown_or_foreign_calculation_is_refused_naming_the_field(client, nanjing_court):
    household = client.post("/api/v1/footprint/household", json={"electricity_kwh": "100"}).get_json()
    for calculation_id in ("FP" + "0" * 24, household.get("id", "FP" + "1" * 24)):
        response = nanjing_court.api(client).post("/api/org/v1/cases", case_body(
            loss={"method": "calculation", "calculation_id": calculation_id}))
        assert response.status_code == 400
        assert response.get_json()["error"]["details"][0]["field"] == "loss.calculation_id"


def test_a_sum_of_money_buys_what_it_buys_and_is_spent_to_the_fen(client, nanjing_court, county_listing,
                                                                  fake_wechat):
    case = open_case(client, nanjing_court, loss={"method": "money", "amount_fen": 450_050,
                                                  "basis": "森林生态服务功能价值损失，GB/T 38582-2020"},
                     multiplier="1")
    assert (case["required_g"], case["required_fen"], case["owed_fen"]) == (None, 450_050, 450_050)
    payer = defendant(client, "money")
    code = case["payers"][0]["claim_code"]
    claim = payer.post("/cases/claim", {"claim_code": code.lower()}).get_json()  # typed in any case
    offer = claim["listings"][0]
    assert offer["quantity_for_owed_g"] == 450_050 * 1_000_000 // PRICE_FEN_PER_T  # 75.008333 t
    too_much = payer.post("/orders", {"listing_id": county_listing, "quantity_g": offer["quantity_for_owed_g"] + 1,
                                      "purpose": "judicial", "claim_code": code}, key=key())
    assert too_much.status_code == 409 and too_much.get_json()["error"]["code"] == "overpayment"
    order = payer.order(county_listing, offer["quantity_for_owed_g"], purpose="judicial", claim_code=code)
    assert order["amount_fen"] == 450_050  # exactly the sum ordered, rounded up to the fen
    fake_wechat.pay(order["order_no"])
    restored = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert (restored["status"], restored["paid_fen"], restored["owed_fen"]) == ("restored", 450_050, 0)
    witness = client.get(f"/api/v1/certificates/{restored['witness_certificate_no']}").get_json()
    assert witness["payload"]["quantity_g"] == offer["quantity_for_owed_g"]


def test_shares_must_be_given_for_everyone_and_add_up_to_the_whole(client, nanjing_court):
    api = nanjing_court.api(client)
    for payers in ([{"name": "甲", "share_percent": "60"}, {"name": "乙"}],
                   [{"name": "甲", "share_percent": "60"}, {"name": "乙", "share_percent": "30"}]):
        response = api.post("/api/org/v1/cases", case_body(payers=payers))
        assert response.status_code == 400 and response.get_json()["error"]["details"][0]["field"] == "payers"
    split = open_case(client, nanjing_court, payers=[{"name": "甲", "share_percent": "33.33"},
                                                     {"name": "乙", "share_percent": "33.33"},
                                                     {"name": "丙", "share_percent": "33.34"}])
    assert sum(p["share_g"] for p in split["payers"]) == split["required_g"] == 95_000_000


def test_a_deadline_in_the_past_a_village_code_and_a_huge_multiplier_are_refused(client, nanjing_court):
    api = nanjing_court.api(client)
    for field, value in (("deadline", "2020-01-01"), ("damage_region", "350600"), ("damage_region", "999999"),
                         ("multiplier", "11"), ("multiplier", "0.5"), ("cause", "arson")):
        response = api.post("/api/org/v1/cases", case_body(**{field: value}))
        assert response.status_code == 400, (field, value, response.get_json())
        assert response.get_json()["error"]["details"][0]["field"] == field
