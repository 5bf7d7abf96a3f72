"""权益兑换, told as the gate sees it: a scenic area gives 30 % off the ticket to visitors who offset their trip at
its gate; a Hainan rainforest park gives tree-duty voucher holders their discount; two gates scanning one voucher
at the same moment redeem it once; ten vouchers among twenty claimants are ten."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from backend.certificates.qr import read_qr
from tests.conftest import staff_member
from tests.miniprogram.conftest import Citizen
from tests.miniprogram.test_concurrency import all_at_once
from tests.scenarios.tourism.conftest import GATE, organisation
from tests.scenarios.tree_duty.conftest import DutyCitizen

CHENGDU_JINJIANG = "510104"
THIRTY_OFF = {"title": "门票七折", "terms": "凭券购买门票享七折优惠，限本人一次", "kind": "site_offset",
              "min_g": 5_000, "valid_days": 30, "stock": 100}


def offer(area, client, site_id: int, **fields) -> dict:
    response = area.api(client).post(f"/api/org/v1/sites/{site_id}/perks", fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def offset(visitor, fake_wechat, listing: int, site_id: int, grams: int) -> dict:
    order = visitor.order(listing, grams, purpose="tourism", site_id=site_id)
    fake_wechat.pay(order["order_no"])
    paid = visitor.get(f"/orders/{order['order_no']}").get_json()
    assert paid["status"] == "fulfilled", paid
    return paid


def vouchers(visitor) -> list[dict]:
    response = visitor.get("/perks")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def redeem(area, client, code: str, member=None):
    return area.api(client, member).post("/api/org/v1/perks/redeem", {"code": code})


def test_a_chengdu_visitor_offsets_the_trip_and_the_gate_takes_30_percent_off_the_ticket_once(
        app, client, clock, tmp_path, scenic_area, gate, listings, fake_wechat):
    thirty = offer(scenic_area, client, gate["id"], **THIRTY_OFF)
    assert thirty["condition"] == f"在「{GATE['name']}」一次抵销旅行碳排放不少于 5 千克" and thirty["open"]

    # The visitor scans the gate's code: the site shows the perk and who qualifies.
    visitor = Citizen(client, "chengdu-perk-visitor")
    visitor.client.patch("/api/mp/v1/me", json={"region": CHENGDU_JINJIANG}, headers=visitor.headers)
    scanned = visitor.get(f"/sites/{gate['id']}").get_json()
    assert [perk["title"] for perk in scanned["perks"]] == ["门票七折"]

    # A 4 kg offset is not enough; the 20 kg return drive is, and the voucher is there when the payment is.
    offset(visitor, fake_wechat, listings["dayi"], gate["id"], 4_000)
    assert vouchers(visitor) == []
    paid = offset(visitor, fake_wechat, listings["dayi"], gate["id"], 20_000)
    [voucher] = vouchers(visitor)
    assert (voucher["title"], voucher["status"], voucher["site"]["id"]) == ("门票七折", "valid", gate["id"])
    assert voucher["evidence"] == f"order:{paid['order_no']}" and len(voucher["code"]) == 8
    assert voucher["expires_at"] == "2026-04-10T16:00:00.000000Z"  # 30 days, 12 March (Beijing) the first

    # Its QR holds the code, for the gate's scanner; nobody else's phone gets it.
    qr = visitor.get(voucher["qr"].removeprefix("/api/mp/v1"))
    assert qr.status_code == 200 and qr.mimetype == "image/png"
    Image.open(io.BytesIO(qr.get_data())).save(tmp_path / "perk.png")
    assert read_qr(tmp_path / "perk.png") == voucher["code"]
    assert Citizen(client).get(voucher["qr"].removeprefix("/api/mp/v1")).status_code == 404

    # Once a year: a second offset, or a claim, gives the same voucher back.
    offset(visitor, fake_wechat, listings["dayi"], gate["id"], 6_000)
    claimed = visitor.post("/perks/claim", {"offer_id": thirty["id"]})
    assert claimed.status_code == 200 and claimed.get_json()["code"] == voucher["code"]
    assert [v["code"] for v in vouchers(visitor)] == [voucher["code"]]

    # At the gate the clerk types it as read aloud, lower case and split: redeemed; the second time, refused.
    clock.advance(days=2)
    typed = f"{voucher['code'][:4].lower()} {voucher['code'][4:].lower()}"
    first = redeem(scenic_area, client, typed)
    assert first.status_code == 200, first.get_json()
    assert (first.get_json()["status"], first.get_json()["title"]) == ("redeemed", "门票七折")
    again = redeem(scenic_area, client, voucher["code"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "perk_redeemed"
    assert "2026-03-14 17:00" in again.get_json()["error"]["message"]  # when, in Beijing time
    assert vouchers(visitor)[0]["status"] == "redeemed"

    # The scenic area's statistics: one visitor, three offsets, 30 kg, one perk issued on the 12th, redeemed the 14th.
    stats = scenic_area.api(client, scenic_area.viewer).get(
        f"/api/org/v1/sites/{gate['id']}/stats", query_string={"since": "2026-03-12", "until": "2026-03-14"})
    assert stats.status_code == 200, stats.get_json()
    days = {day["day"]: day for day in stats.get_json()["days"]}
    assert (days["2026-03-12"]["visitors"], days["2026-03-12"]["offsets"], days["2026-03-12"]["retired_g"]) == (
        1, 3, 30_000)
    assert (days["2026-03-12"]["perks_issued"], days["2026-03-14"]["perks_redeemed"]) == (1, 1)
    assert stats.get_json()["totals"] == {"visitors": 1, "offsets": 3, "retired_g": 30_000, "perks_issued": 1,
                                          "perks_redeemed": 1}
    listed = scenic_area.api(client).get(f"/api/org/v1/sites/{gate['id']}/perks").get_json()["items"]
    assert [(o["issued"], o["left"]) for o in listed] == [(1, 99)]


WUZHISHAN = {"name": "五指山热带雨林景区", "adcode": "469001", "latitude": "18.78", "longitude": "109.52",
             "airport": "SYX"}
HAINAN, BEIJING = "460000", "110000"


def test_hainan_rainforest_park_gives_tree_duty_voucher_holders_their_discount_once_a_year(
        app, client, operator, fake_wechat):
    """Hainan (2025): 30 % off with a Hainan 尽责凭证, 50 % with an 荣誉凭证; 10 % with a voucher from elsewhere."""
    from tests.scenarios.judicial.conftest import listed

    park = organisation(app, "五指山热带雨林公园管理处", "scenic_area", 2)
    site = park.api(client).post("/api/org/v1/sites", WUZHISHAN).get_json()
    duty = {"kind": "tree_duty", "duty_year": 2026, "valid_days": 366, "terms": "门票优惠，每人每年一次"}
    hainan_30 = offer(park, client, site["id"], title="门票七折", duty_region=HAINAN, **duty)
    hainan_50 = offer(park, client, site["id"], title="门票五折", duty_region=HAINAN, duty_tier="honour", **duty)
    elsewhere_10 = offer(park, client, site["id"], title="门票九折", duty_region=HAINAN, duty_outside=True, **duty)
    assert hainan_50["condition"] == "持有 2026 年度海南省的全民义务植树荣誉凭证"
    assert elsewhere_10["condition"] == "持有 2026 年度海南省以外的全民义务植树尽责凭证或荣誉凭证"

    forest = listed(operator, county="469001", tonnes=100, name="五指山热带雨林碳汇", price=6_000)
    islander, visitor = DutyCitizen(client, "hainan-islander"), DutyCitizen(client, "beijing-tourist")
    for person, region in ((islander, HAINAN), (visitor, BEIJING)):
        person.profile(real_name="林海", birth_year=1990, sex="male", region=region)
        assert person.paid(fake_wechat, forest, year=2026, region=region)["status"] == "fulfilled"

    def claim(person, offered) -> tuple[int, str]:
        answer = person.post("/perks/claim", {"offer_id": offered["id"]})
        return answer.status_code, answer.get_json().get("title") or answer.get_json()["error"]["code"]

    # The islander's 30-yuan 尽责凭证 earns 30 % off, not the honour's 50 %, nor what visitors from elsewhere get.
    assert claim(islander, hainan_30) == (201, "门票七折")
    assert claim(islander, hainan_50) == (409, "perk_not_qualified")
    assert claim(islander, elsewhere_10) == (409, "perk_not_qualified")
    # The Beijing visitor's voucher earns the 10 %; the offers list says so before they ask.
    offers = {o["id"]: o for o in visitor.get("/perks/offers").get_json()["items"]}
    assert (offers[elsewhere_10["id"]]["qualified"], offers[hainan_30["id"]]["qualified"]) == (True, False)
    assert claim(visitor, hainan_30) == (409, "perk_not_qualified")
    assert claim(visitor, elsewhere_10) == (201, "门票九折")
    assert claim(visitor, elsewhere_10) == (200, "门票九折")  # once a year: the same voucher again
    assert visitor.get("/perks/offers").get_json()["items"][2]["held"] is True


def test_expired_foreign_and_mistyped_vouchers_are_refused_saying_why(
        app, client, clock, scenic_area, gate, listings, fake_wechat):
    offer(scenic_area, client, gate["id"], **{**THIRTY_OFF, "valid_days": 1})
    visitor = Citizen(client)
    offset(visitor, fake_wechat, listings["dayi"], gate["id"], 5_000)
    [voucher] = vouchers(visitor)

    other = organisation(app, "青城山景区管理处", "scenic_area", 3)
    foreign = redeem(other, client, voucher["code"])
    assert foreign.status_code == 409 and foreign.get_json()["error"]["code"] == "perk_foreign"
    assert GATE["name"] in foreign.get_json()["error"]["message"]  # the gate is told where it is good
    assert redeem(scenic_area, client, voucher["code"], scenic_area.viewer).status_code == 403
    unknown = redeem(scenic_area, client, "0000-0000")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "perk_unknown"
    mistyped = redeem(scenic_area, client, "K7M2-9QX")
    assert mistyped.status_code == 400 and mistyped.get_json()["error"]["details"][0]["field"] == "code"

    clock.advance(hours=7)  # 00:00 on 13 March in Beijing: a one-day voucher has run out
    expired = redeem(scenic_area, client, voucher["code"])
    assert expired.status_code == 409 and expired.get_json()["error"]["code"] == "perk_expired"
    assert vouchers(visitor)[0]["status"] == "expired"


def test_an_offer_out_of_stock_or_withdrawn_gives_nothing_and_the_offsets_stand(
        app, client, scenic_area, gate, listings, fake_wechat):
    one = offer(scenic_area, client, gate["id"], **{**THIRTY_OFF, "stock": 1})
    first, second = Citizen(client), Citizen(client)
    offset(first, fake_wechat, listings["dayi"], gate["id"], 5_000)
    offset(second, fake_wechat, listings["dayi"], gate["id"], 5_000)  # fulfilled, and certified, all the same
    assert (len(vouchers(first)), vouchers(second)) == (1, [])
    refused = second.post("/perks/claim", {"offer_id": one["id"]})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "perk_out_of_stock"

    below = client.patch(f"/api/org/v1/perks/{one['id']}", json={"stock": 0}, headers=scenic_area.clerk.headers)
    assert below.status_code == 400 and below.get_json()["error"]["details"][0]["field"] == "stock"
    withdrawn = client.patch(f"/api/org/v1/perks/{one['id']}", json={"stock": 5, "active": False},
                             headers=scenic_area.clerk.headers)
    assert withdrawn.status_code == 200 and not withdrawn.get_json()["open"]
    offset(second, fake_wechat, listings["dayi"], gate["id"], 5_000)
    assert vouchers(second) == []
    closed = second.post("/perks/claim", {"offer_id": one["id"]})
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "perk_closed"
    kept = first.post("/perks/claim", {"offer_id": one["id"]})  # the holder is shown the voucher they hold
    assert kept.status_code == 200 and kept.get_json()["code"] == vouchers(first)[0]["code"]
    assert redeem(scenic_area, client, vouchers(first)[0]["code"]).status_code == 200  # issued ones stay good


@pytest.mark.parametrize("fields, named", [
    ({"kind": "site_offset"}, "min_g"),
    ({"kind": "site_offset", "min_g": 999}, "min_g"),
    ({"kind": "certificate", "min_g": 5_000}, "min_g"),
    ({"kind": "tree_duty"}, "duty_year"),
    ({"kind": "tree_duty", "duty_year": 2026, "duty_region": "000000"}, "duty_region"),
    ({"kind": "tree_duty", "duty_year": 2026, "duty_outside": True}, "duty_outside"),
    ({"kind": "certificate", "starts_on": "2026-05-01", "ends_on": "2026-04-30"}, "ends_on"),
    ({"kind": "certificate", "ends_on": "2026-03-11"}, "ends_on"),  # before today (12 March), the start by default
    ({"kind": "certificate", "valid_days": 0}, "valid_days"),
    ({"kind": "certificate", "stock": -1}, "stock"),
])
def test_an_offer_is_checked_field_by_field(client, scenic_area, gate, fields, named):
    answer = scenic_area.api(client).post(f"/api/org/v1/sites/{gate['id']}/perks",
                                          {"title": "门票七折", "terms": "凭券", **fields})
    assert answer.status_code == 400, answer.get_json()
    assert named in [d["field"] for d in answer.get_json()["error"]["details"]]


@pytest.mark.services_only
def test_two_gates_scanning_one_voucher_at_the_same_moment_redeem_it_once(
        app, client, scenic_area, gate, listings, fake_wechat):
    """Five vouchers, each scanned at the south and the north gate at once (two clerks, row locks on PostgreSQL)."""
    offer(scenic_area, client, gate["id"], **THIRTY_OFF)
    north = staff_member(app, "tourism-north-gate", "clerk", organisation_id=scenic_area.id)
    for _ in range(5):
        visitor = Citizen(client)
        offset(visitor, fake_wechat, listings["dayi"], gate["id"], 5_000)
        code = vouchers(visitor)[0]["code"]
        answers = all_at_once(lambda clerk: redeem(scenic_area, app.test_client(), code, clerk),
                              [scenic_area.clerk, north])
        assert sorted(a.status_code for a in answers) == [200, 409], [a.get_json() for a in answers]
        [refused] = [a.get_json()["error"] for a in answers if a.status_code == 409]
        assert refused["code"] == "perk_redeemed"


@pytest.mark.services_only
def test_ten_vouchers_among_twenty_claimants_are_ten(app, client, scenic_area, gate, listings, fake_wechat):
    """Twenty certificate holders claim a ten-voucher perk at the same instant: ten get one, ten are told none is
    left, and the offer's count never passes its stock (the invariants check it after the test too)."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    limited = offer(scenic_area, client, gate["id"], title="纪念徽章", terms="凭券领取", kind="certificate", stock=10)
    holders = [Citizen(app.test_client()) for _ in range(20)]
    for holder in holders:  # any certificate of the year qualifies: a 1 kg personal purchase each
        order = holder.order(listings["dayi"], 1_000)
        fake_wechat.pay(order["order_no"])
    answers = all_at_once(lambda holder: holder.post("/perks/claim", {"offer_id": limited["id"]}), holders)
    assert sorted(a.status_code for a in answers) == [201] * 10 + [409] * 10, [a.get_json() for a in answers]
    assert {a.get_json()["error"]["code"] for a in answers if a.status_code == 409} == {"perk_out_of_stock"}
    assert len({a.get_json()["code"] for a in answers if a.status_code == 201}) == 10
    shown = scenic_area.api(client).get(f"/api/org/v1/sites/{gate['id']}/perks").get_json()["items"]
    assert [(o["issued"], o["left"]) for o in shown] == [(10, 0)]
