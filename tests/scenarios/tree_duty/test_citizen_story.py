"""A citizen discharges the year's tree-planting duty with credits, under the region's threshold rule."""

from __future__ import annotations

from tests.scenarios.tree_duty.conftest import BEIJING, HUNAN


def pay(fake_wechat, citizen, order: dict) -> dict:
    fake_wechat.pay(order["order_no"])
    return citizen.status_of(order["order_no"])


def test_beijing_60_yuan_is_the_years_duty_3_trees_and_a_voucher_that_verifies(client, clock, person, listing,
                                                                              fake_wechat):
    wang = person(real_name="王小林", birth_year=1990, sex="male", region=BEIJING)
    before = wang.year(2026)
    assert (before["status"], before["trees"], before["paid_fen"]) == ("none", 0, 0)
    assert before["rule"]["duty_fen"] == 6000 and before["due_fen"]["duty"] == 6000
    assert before["person"]["of_duty_age"] is True

    order = wang.duty_order(listing, year=2026, region=BEIJING)
    assert (order["amount_fen"], order["quantity_g"]) == (6000, 1_000_000)  # 60 yuan at 60 yuan/t: exactly 1 t
    done = pay(fake_wechat, wang, order)
    assert done["status"] == "fulfilled" and done["certificate_no"]

    year = wang.year(2026)
    assert (year["status"], year["trees"], year["paid_fen"]) == ("duty_done", 3, 6000)
    [voucher] = year["vouchers"]
    assert voucher["certificate_no"] == done["certificate_no"] and voucher["tier"] == "duty"

    certificate = client.get(f"/api/v1/certificates/{done['certificate_no']}").get_json()
    payload = certificate["payload"]
    assert payload["purpose"] == "tree_duty" and payload["kind"] == "tree_duty_voucher"
    assert payload["record"]["year"] == 2026 and payload["record"]["trees"] == 3
    assert payload["quantity_g"] == 1_000_000 and payload["beneficiary"]["masked"] == "王**"

    again = wang.post("/orders", {"listing_id": listing, "purpose": "tree_duty",
                                  "tree_duty": {"year": 2026, "region": BEIJING}}, key="second-duty")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "tree_duty_done"


def test_hunan_30_then_20_yuan_add_up_to_the_duty_and_90_to_honour(person, listing, fake_wechat):
    li = person(real_name="李湘", birth_year=1985, sex="female", region=HUNAN)
    first = pay(fake_wechat, li, li.duty_order(listing, year=2026, region=HUNAN, amount_fen=3000))
    assert li.year(2026)["status"] == "none" and first["certificate_no"]  # a retirement certificate, no voucher yet
    pay(fake_wechat, li, li.duty_order(listing, year=2026, region=HUNAN, amount_fen=2000))
    year = li.year(2026)
    assert (year["status"], year["trees"], year["paid_fen"]) == ("duty_done", 3, 5000)
    assert year["due_fen"] == {"duty": None, "honour": 4000}
    honour = pay(fake_wechat, li, li.duty_order(listing, year=2026, region=HUNAN, tier="honour"))
    year = li.year(2026)
    assert (year["status"], year["trees"], year["paid_fen"]) == ("honour", 6, 9000)
    assert [v["tier"] for v in year["vouchers"]] == ["duty", "honour"]
    assert honour["certificate_no"] == year["vouchers"][1]["certificate_no"]
