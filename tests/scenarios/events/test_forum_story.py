"""碳汇+大型活动, told as an 800-person forum in Chengdu neutralises itself per MEE's guideline: a published plan
with reduction measures; after the event, the final account with its variance against the plan; participants
offsetting their own trips; the organiser offsetting the rest in two orders; the 碳中和证书 anyone can check
offline — and never a gram counted twice."""

from __future__ import annotations

import copy

from backend.certificates.verifier import verify_token
from tests.miniprogram.conftest import Citizen
from tests.scenarios.events.conftest import (
    FINAL_CALCULATION, PLAN_CALCULATION, PRICE_FEN_PER_T, key, organiser, planned, put, record)

PARTICIPANTS = 50
TRIP_G = 200_000  # each participant offsets 200 kg: their return flight, say


def test_an_800_person_forum_in_chengdu_is_neutralised_and_its_certificate_verifies_offline(
        app, client, clock, forum_organiser, finance, listing, fake_wechat):
    clerk = forum_organiser.api(client)
    # The record: a forum of 800 counts as large in Shanghai's rule (conferences and forums from 400).
    event = record(client, forum_organiser)
    assert (event["status"], event["large_event"], event["deadline"]) == ("draft", True, "2027-04-21")
    assert client.get(f"/api/v1/events/{event['id']}").status_code == 404  # not published yet

    # The plan, published: the estimate, the boundary, a reduction measure, the offset method.
    plan = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/plan", {
        "calculation": copy.deepcopy(PLAN_CALCULATION), "offset_method": "购买四川林草碳汇并注销",
        "measures": [{"title": "会场使用绿电", "category": "venue_energy", "expected_reduction_g": 500_000},
                     {"title": "电子会刊代替纸质资料", "category": "materials"}]})
    assert plan.status_code == 200, plan.get_json()
    plan = plan.get_json()
    assert plan["status"] == "planned" and plan["total_g"] == plan["plan"]["total_g"] > 100_000_000
    assert not plan["retrospective"]
    assert set(plan["plan"]["boundary"]) >= {"venue_energy", "participant_travel", "accommodation"}
    shown = client.get(f"/api/v1/events/{event['id']}").get_json()
    assert shown["status"] == "planned" and "orders" not in shown  # the public page shows no orders

    # Participants scan the event's code and offset their trips to the venue in the mini-program.
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    app.config["MP_ORDERS_PER_MINUTE"] = 1000
    for number in range(PARTICIPANTS):
        participant = Citizen(client, f"forum-goer-{number}")
        scanned = participant.get(f"/events/{event['id']}").get_json()
        assert scanned["trip_prefill"]["destination"] == "510104"
        order = participant.order(listing, TRIP_G, purpose="event", event_id=event["id"])
        fake_wechat.pay(order["order_no"])
        if number == 0:
            mine = participant.get(f"/orders/{order['order_no']}").get_json()
            own = client.get(f"/api/v1/certificates/{mine['certificate_no']}").get_json()
            assert own["payload"]["purpose"] == "event"
            assert own["payload"]["purpose_ref"] == f"{FORUM_NAME}（活动 {event['id']}）"  # names the event
    during = client.get(f"/api/v1/events/{event['id']}").get_json()
    assert during["participants"] == {"count": PARTICIPANTS, "retired_g": PARTICIPANTS * TRIP_G, "counted_g": 0}

    # The final account waits for the event to end (Beijing time); then it freezes the figure to offset.
    too_soon = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final",
                   {"calculation": copy.deepcopy(FINAL_CALCULATION)})
    assert too_soon.status_code == 409 and too_soon.get_json()["error"]["code"] == "event_not_ended"
    clock.advance(days=41)  # 2026-04-22 in Beijing
    final = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final", {
        "calculation": copy.deepcopy(FINAL_CALCULATION),
        "measure_outcomes": ["会场 100% 绿电，已取得绿证", "会刊改为电子版，纸张减少 40%"]})
    assert final.status_code == 200, final.get_json()
    final = final.get_json()
    assert final["status"] == "accounted"
    assert final["variance_g"] == final["total_g"] - plan["total_g"]
    variance = {line["category"]: line for line in final["final"]["variance"]}
    assert variance["venue_energy"]["variance_g"] > 0 and variance["materials"]["variance_g"] < 0
    travel = variance["participant_travel"]["final_g"]
    figure = -(-final["total_g"] // 1000) * 1000
    counted = min(PARTICIPANTS * TRIP_G, travel)  # the participants' offsets count toward their travel, once
    assert final["retired_g"] == counted and final["to_offset_left_g"] == figure - counted

    # The organiser offsets the rest in two orders: one by bank transfer that finance records, one by WeChat Pay
    # Native, a QR code scanned from the PC screen.
    first = clerk.post(f"/api/org/v1/events/{event['id']}/orders",
                       {"listing_id": listing, "quantity_g": 60_000_000, "payment": "offline"}, key=key("forum"))
    assert first.status_code == 201, first.get_json()
    first = first.get_json()
    assert first["amount_fen"] == 60 * PRICE_FEN_PER_T
    paid = finance.post(f"/api/admin/v1/orders/{first['order_no']}/offline-payment",
                        {"reference": "CDF-2026-0425-01", "amount_fen": first["amount_fen"]})
    assert paid.status_code == 200 and paid.get_json()["status"] == "fulfilled"
    short = client.get(f"/api/v1/events/{event['id']}").get_json()
    assert short["status"] == "accounted" and short["certificate_no"] is None  # less than the figure: not neutral

    rest = figure - counted - 60_000_000
    second = clerk.post(f"/api/org/v1/events/{event['id']}/orders",
                        {"listing_id": listing, "quantity_g": rest, "payment": "native"}, key=key("forum"))
    assert second.status_code == 201, second.get_json()
    second = second.get_json()
    assert second["channel"] == "native" and second["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    qr = clerk.get(f"/api/org/v1/events/{event['id']}/orders/{second['order_no']}/qr.png")
    assert qr.status_code == 200 and qr.data.startswith(b"\x89PNG")
    fake_wechat.pay(second["order_no"])  # someone of the organiser scans it with WeChat and pays
    second_paid = clerk.get(f"/api/org/v1/events/{event['id']}/orders/{second['order_no']}").get_json()
    assert second_paid["status"] == "fulfilled" and second_paid["certificate_no"]

    neutral = client.get(f"/api/v1/events/{event['id']}").get_json()
    assert neutral["status"] == "neutral" and neutral["certificate_no"]
    assert neutral["retired_g"] == figure and neutral["final_total_g"] == final["total_g"]
    assert neutral["participants"] == {"count": PARTICIPANTS, "retired_g": PARTICIPANTS * TRIP_G, "counted_g": counted}

    # The certificate verifies like any certificate, offline too.
    record_ = client.get(f"/api/v1/certificates/{neutral['certificate_no']}").get_json()
    payload = record_["payload"]
    # It vouches for the organiser's retirements it lists; the participants' part, counted toward their travel
    # only, is stated beside them: together the figure, no gram twice.
    assert payload["kind"] == "event_neutrality" and payload["quantity_g"] == 60_000_000 + rest
    assert payload["record"]["counted_g"] == figure
    assert {item["certificate_no"] for item in payload["items"]} == {paid.get_json()["certificate_no"],
                                                                    second_paid["certificate_no"]}
    assert sum(item["quantity_g"] for item in payload["items"]) == 60_000_000 + rest
    assert payload["record"]["participants"]["counted_g"] == counted
    jwks = client.get("/.well-known/jwks.json").get_json()
    assert verify_token(record_["jws"], jwks, record=record_).genuine
    assert record_["log_proof"]["verified"]

    # Paying after neutral is refused.
    late = clerk.post(f"/api/org/v1/events/{event['id']}/orders",
                      {"listing_id": listing, "quantity_g": 1_000_000, "payment": "offline"}, key=key("forum"))
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "event_neutral"


FORUM_NAME = "2026 成都林草碳汇论坛"


def test_another_organisers_event_is_not_found(app, client, operator, forum_organiser, listing):
    event = planned(client, forum_organiser)
    other = organiser(operator, app, "另一家会展公司", 2)
    assert other.api(client).get(f"/api/org/v1/events/{event['id']}").status_code == 404
    assert put(client, other, f"/api/org/v1/events/{event['id']}/final",
               {"calculation": copy.deepcopy(FINAL_CALCULATION)}).status_code == 404
    placed = other.api(client).post(f"/api/org/v1/events/{event['id']}/orders",
                                    {"listing_id": listing, "quantity_g": 1_000_000, "payment": "offline"}, key=key())
    assert placed.status_code == 404


def test_past_the_deadline_an_event_not_yet_neutral_is_overdue(client, clock, forum_organiser):
    event = planned(client, forum_organiser)
    clock.advance(days=41)
    put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final",
        {"calculation": copy.deepcopy(FINAL_CALCULATION)})
    clock.advance(days=366)  # 2027-04-23: a year and more after the event ended
    shown = client.get(f"/api/v1/events/{event['id']}").get_json()
    assert shown["status"] == "overdue" and shown["overdue"]
