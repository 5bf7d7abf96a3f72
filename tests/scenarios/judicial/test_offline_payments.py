"""The court collected the money (案款) and transfers it to the platform; finance records the transfer. One voucher
pays one order however it is typed, a large sum needs a second finance user, and a code of another court's case
is no code at all."""

from __future__ import annotations

from tests.conftest import staff_member
from tests.scenarios.judicial.conftest import StaffApi, court, key, open_case


def offline_order(client, court_, case: dict, listing: int, quantity_g: int, payer: int = 0) -> dict:
    placed = court_.api(client).post(f"/api/org/v1/cases/{case['id']}/orders",
                                     {"claim_code": case["payers"][payer]["claim_code"], "listing_id": listing,
                                      "quantity_g": quantity_g, "payment": "offline"}, key=key("offline"))
    assert placed.status_code == 201, placed.get_json()
    return placed.get_json()


def test_one_voucher_pays_one_order_however_it_is_typed(client, nanjing_court, finance, county_listing):
    case = open_case(client, nanjing_court, payers=[{"name": "张三"}, {"name": "李四"}])
    first = offline_order(client, nanjing_court, case, county_listing, 10_000_000)
    second = offline_order(client, nanjing_court, case, county_listing, 10_000_000, payer=1)
    paid = finance.post(f"/api/admin/v1/orders/{first['order_no']}/offline-payment",
                        {"reference": "nj-ak-2024-0815", "amount_fen": first["amount_fen"]})
    assert paid.status_code == 200 and paid.get_json()["payment_reference"] == "NJ-AK-2024-0815"
    again = finance.post(f"/api/admin/v1/orders/{second['order_no']}/offline-payment",
                         {"reference": "NJ-AK-2024-0815", "amount_fen": second["amount_fen"]})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "reference_used"
    shown = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert shown["paid_g"] == 10_000_000  # the second order is still unpaid


def test_a_large_transfer_is_confirmed_by_a_second_finance_user(app, client, nanjing_court, finance,
                                                                 county_listing):
    app.config["OFFLINE_SECOND_CONFIRMATION_FEN"] = 100_000  # 1,000 yuan, for the story
    case = open_case(client, nanjing_court)
    order = offline_order(client, nanjing_court, case, county_listing, 95_000_000)  # 5,700 yuan
    path = f"/api/admin/v1/orders/{order['order_no']}/offline-payment"
    body = {"reference": "NJ-AK-2024-0901", "amount_fen": order["amount_fen"]}
    noted = finance.post(path, body)
    assert noted.status_code == 200 and noted.get_json()["status"] == "reserved"
    assert noted.get_json()["payment_recorded_by"].startswith("staff:")
    assert finance.post(path, body).get_json()["error"]["code"] == "second_confirmation_required"
    other_voucher = StaffApi(client, staff_member(app, "finance-2", "finance")).post(
        path, {**body, "reference": "NJ-AK-2024-0902"})
    assert other_voucher.status_code == 409 and other_voucher.get_json()["error"]["code"] == "reference_mismatch"
    confirmed = StaffApi(client, staff_member(app, "finance-2", "finance")).post(path, body)
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "fulfilled"
    restored = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert restored["status"] == "restored" and restored["witness_certificate_no"]


def test_a_code_of_another_courts_case_is_unknown_to_a_clerk(app, client, operator, nanjing_court, county_listing):
    theirs = open_case(client, nanjing_court)
    other = court(operator, app, "平和县人民法院", 3)
    mine = open_case(client, other, case_no="(2024)闽0628刑初5号")
    response = other.api(client).post(f"/api/org/v1/cases/{mine['id']}/orders",
                                      {"claim_code": theirs["payers"][0]["claim_code"], "listing_id": county_listing,
                                       "quantity_g": 1_000_000, "payment": "offline"}, key=key())
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_claim_code"
