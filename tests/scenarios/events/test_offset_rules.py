"""How an event's figure is met: the final account in grams is what must be retired; participants count only up to
the participant travel the final account includes; an event recorded after it took place is retrospective."""

from __future__ import annotations

import copy

from tests.miniprogram.conftest import Citizen
from tests.scenarios.events.conftest import FINAL_CALCULATION, PLAN_CALCULATION, key, planned, put, record


def accounted(client, clock, organiser_, **overrides) -> dict:
    event = planned(client, organiser_, **overrides)
    clock.advance(days=41)
    final = put(client, organiser_, f"/api/org/v1/events/{event['id']}/final",
                {"calculation": copy.deepcopy(FINAL_CALCULATION)})
    assert final.status_code == 200, final.get_json()
    return final.get_json()


def pay_offline(client, organiser_, finance, event_id: int, listing: int, grams: int, reference: str) -> dict:
    order = organiser_.api(client).post(f"/api/org/v1/events/{event_id}/orders",
                                        {"listing_id": listing, "quantity_g": grams, "payment": "offline"},
                                        key=key("ev"))
    assert order.status_code == 201, order.get_json()
    order = order.get_json()
    paid = finance.post(f"/api/admin/v1/orders/{order['order_no']}/offline-payment",
                        {"reference": reference, "amount_fen": order["amount_fen"]})
    assert paid.status_code == 200, paid.get_json()
    return paid.get_json()


def test_buying_exactly_the_final_figure_in_grams_makes_the_event_neutral(client, clock, forum_organiser, finance,
                                                                          listing):
    final = accounted(client, clock, forum_organiser)
    assert final["total_g"] % 1000 != 0  # the account is in grams; the offer rounds up to the kilogram
    assert final["to_offset_left_g"] == -(-final["total_g"] // 1000) * 1000
    pay_offline(client, forum_organiser, finance, final["id"], listing, final["total_g"], "EV-EXACT-1")
    shown = client.get(f"/api/v1/events/{final['id']}").get_json()
    assert shown["status"] == "neutral" and shown["retired_g"] == final["total_g"]


def test_what_is_left_under_a_kilogram_can_be_bought_and_no_more(client, clock, forum_organiser, finance, listing):
    final = accounted(client, clock, forum_organiser)
    pay_offline(client, forum_organiser, finance, final["id"], listing, final["total_g"] - 300, "EV-TAIL-1")
    left = forum_organiser.api(client).get(f"/api/org/v1/events/{final['id']}").get_json()["to_offset_left_g"]
    assert left == final["to_offset_left_g"] - (final["total_g"] - 300) < 1000  # 300 g short, offered in whole kg
    assert client.get(f"/api/v1/events/{final['id']}").get_json()["status"] == "accounted"
    too_much = forum_organiser.api(client).post(f"/api/org/v1/events/{final['id']}/orders",
                                                {"listing_id": listing, "quantity_g": 1_000_001, "payment": "offline"},
                                                key=key("ev"))
    assert too_much.status_code == 409 and too_much.get_json()["error"]["code"] == "overpayment"
    pay_offline(client, forum_organiser, finance, final["id"], listing, left, "EV-TAIL-2")
    assert client.get(f"/api/v1/events/{final['id']}").get_json()["status"] == "neutral"


def test_participants_count_only_up_to_the_participant_travel_of_the_final_account(
        app, client, clock, forum_organiser, finance, listing, fake_wechat):
    """A participant who offsets far more than all the participants' travel still counts only that travel toward
    the event's figure: the rest is their own neutralisation, never the organiser's."""
    calculation = copy.deepcopy(FINAL_CALCULATION)
    calculation["participant_travel"] = [{"distance_km": "10", "mode": "metro", "count": 100}]  # a few kg
    event = planned(client, forum_organiser)
    generous = Citizen(client, "generous")
    order = generous.order(listing, 5_000_000, purpose="event", event_id=event["id"])
    fake_wechat.pay(order["order_no"])
    clock.advance(days=41)
    final = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final", {"calculation": calculation}).get_json()
    travel = {line["category"]: line["final_g"] for line in final["final"]["variance"]}["participant_travel"]
    assert final["participants"] == {"count": 1, "retired_g": 5_000_000, "counted_g": travel}
    assert final["retired_g"] == travel < 5_000_000


def test_an_event_recorded_after_it_took_place_has_a_retrospective_plan(client, clock, forum_organiser):
    clock.advance(days=60)  # 2026-05-11: the forum was in April
    event = record(client, forum_organiser)
    plan = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/plan",
               {"calculation": copy.deepcopy(PLAN_CALCULATION), "offset_method": "补录"}).get_json()
    assert plan["status"] == "planned" and plan["retrospective"]
    final = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final",
                {"calculation": copy.deepcopy(FINAL_CALCULATION)})
    assert final.status_code == 200 and final.get_json()["status"] == "accounted"


def test_bad_input_is_named(client, forum_organiser):
    api = forum_organiser.api(client)
    for field, value in (("venue_region", "510100"), ("kind", "party"), ("expected_participants", 0),
                         ("ends_on", "2026-04-19")):
        response = api.post("/api/org/v1/events", {**_forum(), field: value})
        assert response.status_code == 400, (field, response.get_json())
        assert response.get_json()["error"]["details"][0]["field"] == field
    event = record(client, forum_organiser)
    wrong_stage = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/plan",
                      {"calculation": {**PLAN_CALCULATION, "stage": "final"}, "offset_method": "x"})
    assert wrong_stage.get_json()["error"]["details"][0]["field"] == "calculation.stage"
    bad_energy = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/plan",
                     {"calculation": {"venue_energy": {"electricity_kwh": "-1"}}, "offset_method": "x"})
    assert bad_energy.status_code == 400
    assert bad_energy.get_json()["error"]["details"][0]["field"] == "calculation.venue_energy.electricity_kwh"


def _forum() -> dict:
    from tests.scenarios.events.conftest import FORUM

    return dict(FORUM)


def test_a_participant_cannot_offset_toward_an_unpublished_event_or_without_naming_one(client, forum_organiser,
                                                                                       listing, fake_wechat):
    draft = record(client, forum_organiser)
    citizen = Citizen(client, "early-bird")
    unpublished = citizen.post("/orders", {"listing_id": listing, "quantity_g": 100_000, "purpose": "event",
                                           "event_id": draft["id"]}, key=key("mp"))
    assert unpublished.status_code == 404
    unnamed = citizen.post("/orders", {"listing_id": listing, "quantity_g": 100_000, "purpose": "event"},
                           key=key("mp"))
    assert unnamed.status_code == 400 and unnamed.get_json()["error"]["details"][0]["field"] == "event_id"
    assert client.get(f"/api/mp/v1/events/{draft['id']}").status_code == 404


def test_an_unpaid_offline_order_can_be_withdrawn_and_the_rest_ordered_again(client, clock, forum_organiser, finance,
                                                                             listing):
    final = accounted(client, clock, forum_organiser)
    api = forum_organiser.api(client)
    held = api.post(f"/api/org/v1/events/{final['id']}/orders",
                    {"listing_id": listing, "quantity_g": final["to_offset_left_g"], "payment": "offline"},
                    key=key("ev")).get_json()
    assert api.get(f"/api/org/v1/events/{final['id']}").get_json()["to_offset_left_g"] == 0
    withdrawn = api.post(f"/api/org/v1/events/{final['id']}/orders/{held['order_no']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "expired"
    late = finance.post(f"/api/admin/v1/orders/{held['order_no']}/offline-payment",
                        {"reference": "EV-WD-1", "amount_fen": held["amount_fen"]})
    assert late.status_code == 409  # withdrawn for good
    pay_offline(client, forum_organiser, finance, final["id"], listing, final["to_offset_left_g"], "EV-WD-2")
    assert client.get(f"/api/v1/events/{final['id']}").get_json()["status"] == "neutral"
