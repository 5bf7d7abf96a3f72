"""碳汇+生态司法, told as the 南靖 case was: 18.6493 m³ of broadleaf timber felled, the county forestry bureau
appraised the loss at 47.07 tCO2, and the court let the defendants restore twice that by buying and retiring
forestry credits. Here two defendants share it: one pays in the mini-program with WeChat Pay, the court collected
the other's money itself (案款) and the platform's finance records the bank transfer. The court receives a witness
certificate that anyone can check offline.
"""

from __future__ import annotations

import json

from backend import certificates
from backend.certificates.verifier import verify_token
from tests.scenarios.judicial.conftest import (
    PRICE_FEN_PER_T, case_body, defendant, key, listed, open_case)

REQUIRED_G = 95_000_000  # 47.07 t × 2 = 94.14 t, rounded up to the whole tonne


def test_two_defendants_restore_the_nanjing_loss_and_the_court_gets_a_witness_certificate(
        app, client, runner, tmp_path, nanjing_court, finance, county_listing, fake_wechat):
    # The clerk opens the order: the appraisal's 47.07 t, doubled, rounded up to 95 t; each defendant owes half.
    case = open_case(client, nanjing_court, case_no="（2024）闽0627刑初123号",
                     payers=[{"name": "张三", "share_percent": "50"}, {"name": "李四", "share_percent": "50"}])
    assert case["case_no"] == "(2024)闽0627刑初123号"  # full-width brackets stored normalised
    assert case["case_no_public"] == "(2024)闽0627刑初***号"
    assert (case["status"], case["required_g"], case["paid_g"]) == ("ordered", REQUIRED_G, 0)
    assert case["computation"][1].startswith("47.07 t × 倍数 2 = 94.14 t")
    zhang, li = case["payers"]
    assert (zhang["share_g"], li["share_g"]) == (47_500_000, 47_500_000)

    # 张三 enters his claim code in the mini-program: the court, the masked case number, what he owes, and
    # credits from the damaged county first.
    payer = defendant(client, "zhangsan")
    claim = payer.post("/cases/claim", {"claim_code": zhang["claim_code"]})
    assert claim.status_code == 200, claim.get_json()
    claim = claim.get_json()
    assert (claim["court"], claim["case_no"], claim["payer"]) == ("南靖县人民法院", "(2024)闽0627刑初***号", "张*")
    assert claim["owed_g"] == 47_500_000
    assert claim["listings"][0]["listing_id"] == county_listing and claim["listings"][0]["tier"] == "county"

    # He pays with WeChat Pay; the credits retire at once for the case, with their own certificate.
    order = payer.order(county_listing, 47_500_000, purpose="judicial", claim_code=zhang["claim_code"])
    assert order["amount_fen"] == 47_500_000 * PRICE_FEN_PER_T // 1_000_000
    fake_wechat.pay(order["order_no"])
    paid = payer.get(f"/orders/{order['order_no']}").get_json()
    assert paid["status"] == "fulfilled" and paid["certificate_no"]
    his_certificate = client.get(f"/api/v1/certificates/{paid['certificate_no']}").get_json()
    assert his_certificate["payload"]["purpose"] == "judicial"
    assert his_certificate["payload"]["purpose_ref"] == "(2024)闽0627刑初***号"
    assert his_certificate["payload"]["beneficiary"]["masked"] == "张*"

    clerk = nanjing_court.api(client)
    halfway = clerk.get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert (halfway["status"], halfway["paid_g"], halfway["owed_g"]) == ("partially_paid", 47_500_000, 47_500_000)
    assert halfway["certificates"][0]["certificate_no"] == paid["certificate_no"]
    assert halfway["witness_certificate_no"] is None

    # 李四's money went to the court (案款): the clerk orders his half, paid offline; finance records the transfer.
    offline = clerk.post(f"/api/org/v1/cases/{case['id']}/orders",
                         {"claim_code": li["claim_code"], "listing_id": county_listing, "quantity_g": 47_500_000,
                          "payment": "offline"}, key=key("offline"))
    assert offline.status_code == 201, offline.get_json()
    offline = offline.get_json()
    assert (offline["status"], offline["channel"]) == ("reserved", "offline")
    wrong_sum = finance.post(f"/api/admin/v1/orders/{offline['order_no']}/offline-payment",
                             {"reference": "NJ-2024-0815-001", "amount_fen": offline["amount_fen"] - 1})
    assert wrong_sum.status_code == 409 and wrong_sum.get_json()["error"]["code"] == "amount_mismatch"
    recorded = finance.post(f"/api/admin/v1/orders/{offline['order_no']}/offline-payment",
                            {"reference": "NJ-2024-0815-001", "amount_fen": offline["amount_fen"]})
    assert recorded.status_code == 200, recorded.get_json()
    assert recorded.get_json()["status"] == "fulfilled" and recorded.get_json()["certificate_no"]
    again = finance.post(f"/api/admin/v1/orders/{offline['order_no']}/offline-payment",
                         {"reference": "NJ-2024-0815-001", "amount_fen": offline["amount_fen"]})
    assert again.get_json()["certificate_no"] == recorded.get_json()["certificate_no"]  # recorded once

    # Restored: one witness certificate for the case, listing both retirements.
    restored = clerk.get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert (restored["status"], restored["paid_g"], restored["owed_g"]) == ("restored", REQUIRED_G, 0)
    number = restored["witness_certificate_no"]
    record = client.get(f"/api/v1/certificates/{number}").get_json()
    payload = record["payload"]
    assert payload["kind"] == "judicial_witness" and payload["title"] == "替代性生态修复见证书"
    assert payload["quantity_g"] == REQUIRED_G and payload["purpose_ref"] == "(2024)闽0627刑初***号"
    assert {item["certificate_no"] for item in payload["items"]} == {c["certificate_no"]
                                                                    for c in restored["certificates"]}
    assert [p["masked"] for p in payload["record"]["payers"]] == ["张*", "李*"]
    shown = json.dumps(payload, ensure_ascii=False)
    assert "张三" not in shown and "李四" not in shown and "123号" not in shown  # masked in public
    assert record["record_check"]["genuine"] and record["log_proof"]["verified"]

    # Offline: the JWS and the published keys are all a court needs.
    jwks = client.get("/.well-known/jwks.json").get_json()
    verdict = verify_token(record["jws"], jwks)
    assert verdict.genuine and verdict.claims["k"] == "judicial_witness" and verdict.claims["q"] == REQUIRED_G
    assert verify_token(record["jws"], jwks, record=record).genuine
    forged = record["jws"][:-4] + ("AAAA" if not record["jws"].endswith("AAAA") else "BBBB")
    assert not verify_token(forged, jwks).genuine
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    offline = runner.invoke(args=["cert", "verify", record["jws"], "--jwks", str(tmp_path / "jwks.json")])
    assert offline.exit_code == 0 and f"document {number} (judicial_witness)" in offline.output, offline.output
    assert client.get(f"/api/v1/certificates/{number}/certificate.pdf").status_code == 200

    # A restored case takes no more money.
    owed_now = payer.post("/cases/claim", {"claim_code": zhang["claim_code"]}).get_json()
    assert owed_now["status"] == "restored" and owed_now["owed_g"] == 0
    more = payer.post("/orders", {"listing_id": county_listing, "quantity_g": 1_000, "purpose": "judicial",
                                  "claim_code": zhang["claim_code"]}, key=key())
    assert more.status_code == 409 and more.get_json()["error"]["code"] == "case_restored"
    with app.app_context():
        assert certificates.key_ring().jwks() == jwks


def test_a_malformed_case_number_is_refused_naming_the_field(client, nanjing_court):
    for bad in ("2024川0629刑初123号", "(2024)川0129刑初0123号", "(1989)闽0627刑初1号", "hello"):
        response = nanjing_court.api(client).post("/api/org/v1/cases", case_body(case_no=bad))
        assert response.status_code == 400, (bad, response.get_json())
        assert response.get_json()["error"]["details"][0]["field"] == "case_no"


def test_the_same_case_number_twice_in_one_court_is_refused(client, nanjing_court):
    open_case(client, nanjing_court)
    again = nanjing_court.api(client).post("/api/org/v1/cases", case_body(case_no="(2024)闽0627刑初123号"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "case_exists"


def test_another_courts_clerk_cannot_see_or_act_on_the_case(app, client, operator, nanjing_court, county_listing):
    from tests.scenarios.judicial.conftest import court

    case = open_case(client, nanjing_court)
    other = court(operator, app, "平和县人民法院", 2).api(client)
    assert other.get(f"/api/org/v1/cases/{case['id']}").status_code == 404
    assert other.post(f"/api/org/v1/cases/{case['id']}/close", {"reason": "不是我的案子"}).status_code == 404
    placed = other.post(f"/api/org/v1/cases/{case['id']}/orders",
                        {"claim_code": case["payers"][0]["claim_code"], "listing_id": county_listing,
                         "quantity_g": 1_000_000, "payment": "offline"}, key=key())
    assert placed.status_code == 404
    assert other.get("/api/org/v1/cases").get_json()["items"] == []
    viewer = nanjing_court.api(client, nanjing_court.viewer)
    assert viewer.get(f"/api/org/v1/cases/{case['id']}").status_code == 200
    assert viewer.post(f"/api/org/v1/cases/{case['id']}/close", {"reason": "只读"}).status_code == 403


def test_paying_more_than_is_owed_is_refused_and_a_part_leaves_the_rest_owed(client, nanjing_court, county_listing,
                                                                            fake_wechat):
    case = open_case(client, nanjing_court)
    code = case["payers"][0]["claim_code"]
    payer = defendant(client, "overpayer")
    too_much = payer.post("/orders", {"listing_id": county_listing, "quantity_g": REQUIRED_G + 1,
                                      "purpose": "judicial", "claim_code": code}, key=key())
    assert too_much.status_code == 409 and too_much.get_json()["error"]["code"] == "overpayment"
    part = payer.order(county_listing, 40_000_000, purpose="judicial", claim_code=code)
    fake_wechat.pay(part["order_no"])
    assert payer.get(f"/orders/{part['order_no']}").get_json()["status"] == "fulfilled"
    left = payer.post("/cases/claim", {"claim_code": code}).get_json()
    assert (left["status"], left["owed_g"]) == ("partially_paid", REQUIRED_G - 40_000_000)
    rest = payer.post("/orders", {"listing_id": county_listing, "quantity_g": REQUIRED_G - 40_000_000 + 1,
                                  "purpose": "judicial", "claim_code": code}, key=key())
    assert rest.status_code == 409 and rest.get_json()["error"]["code"] == "overpayment"


def test_judicial_credits_can_never_be_kept_given_or_refunded(client, nanjing_court, county_listing, fake_wechat):
    case = open_case(client, nanjing_court)
    code = case["payers"][0]["claim_code"]
    payer = defendant(client, "keeper")
    for purpose, field in (("keep", "claim_code"), ("gift", "beneficiary_name"), ("personal", "claim_code")):
        body = {"listing_id": county_listing, "quantity_g": 1_000_000, "purpose": purpose, "claim_code": code}
        if purpose == "gift":
            body["beneficiary_name"] = "王五"
        refused = payer.post("/orders", body, key=key())
        assert refused.status_code == 400, refused.get_json()
        assert refused.get_json()["error"]["details"][0]["field"] in (field, "claim_code")
    no_code = payer.post("/orders", {"listing_id": county_listing, "quantity_g": 1_000_000, "purpose": "judicial"},
                         key=key())
    assert no_code.status_code == 400 and no_code.get_json()["error"]["details"][0]["field"] == "claim_code"
    order = payer.order(county_listing, 1_000_000, purpose="judicial", claim_code=code)
    fake_wechat.pay(order["order_no"])
    refund = payer.post(f"/orders/{order['order_no']}/refund")
    assert refund.status_code == 409 and refund.get_json()["error"]["code"] == "refund_refused"


def test_credits_are_offered_nearest_first_and_each_order_says_why_its_tier(client, operator, nanjing_court,
                                                                             fake_wechat):
    elsewhere = listed(operator, county="510129", tonnes=10, name="大邑县碳汇", price=4_000)
    province = listed(operator, county="350721", tonnes=10, name="顺昌县碳汇")
    prefecture = listed(operator, county="350628", tonnes=10, name="平和县碳汇")
    county = listed(operator, county="350627", tonnes=1, name="南靖县碳汇")
    case = open_case(client, nanjing_court)
    code = case["payers"][0]["claim_code"]
    payer = defendant(client, "tiers")
    offers = payer.post("/cases/claim", {"claim_code": code}).get_json()["listings"]
    assert [(o["listing_id"], o["tier"]) for o in offers] == [
        (county, "county"), (prefecture, "prefecture"), (province, "province"), (elsewhere, "elsewhere")]

    far = payer.order(province, 1_000_000, purpose="judicial", claim_code=code)  # chosen over nearer credits
    near = payer.order(county, 1_000_000, purpose="judicial", claim_code=code)  # the county's last tonne
    next_ = payer.order(prefecture, 1_000_000, purpose="judicial", claim_code=code)  # the county has none left
    for order in (far, near, next_):
        fake_wechat.pay(order["order_no"])
    purchases = {p["order_no"]: p for p in nanjing_court.api(client).get(
        f"/api/org/v1/cases/{case['id']}").get_json()["purchases"]}
    assert purchases[far["order_no"]]["tier"] == "province"
    assert "chose farther credits" in purchases[far["order_no"]]["tier_reason"]
    assert purchases[near["order_no"]]["tier"] == "county"
    assert purchases[next_["order_no"]]["tier"] == "prefecture"
    assert "nothing on sale nearer" in purchases[next_["order_no"]]["tier_reason"]


def test_an_overdue_case_is_listed_then_extended_or_closed_with_a_reason(app, client, clock, nanjing_court,
                                                                         county_listing):
    case = open_case(client, nanjing_court, deadline="2026-04-01")
    clerk = nanjing_court.api(client)
    clock.advance(days=30)  # 2026-04-11: past the deadline, nothing paid
    shown = clerk.get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert shown["status"] == "overdue" and shown["overdue"]
    overdue = clerk.get("/api/org/v1/cases", query_string={"overdue": "true"}).get_json()["items"]
    assert [c["id"] for c in overdue] == [case["id"]]
    extended = clerk.post(f"/api/org/v1/cases/{case['id']}/extend",
                          {"deadline": "2026-06-30", "reason": "被告申请延期缴纳，经合议庭同意"})
    assert extended.status_code == 200 and extended.get_json()["status"] == "ordered"
    assert extended.get_json()["decisions"][0]["reason"] == "被告申请延期缴纳，经合议庭同意"
    clock.advance(days=90)
    closed = clerk.post(f"/api/org/v1/cases/{case['id']}/close", {"reason": "改判恢复原状，由被告补植复绿"})
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    payer = defendant(client, "late")
    refused = payer.post("/orders", {"listing_id": county_listing, "quantity_g": 1_000_000, "purpose": "judicial",
                                     "claim_code": case["payers"][0]["claim_code"]}, key=key())
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "case_closed"
    csv_text = clerk.get("/api/org/v1/cases.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeffid,case_no") and "(2024)闽0627刑初123号" in csv_text
