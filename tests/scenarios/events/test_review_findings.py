"""Review of the events scenario: each test states what must hold and fails on the branch as reviewed (831008e)."""

from __future__ import annotations

import copy

import pytest

from tests.miniprogram.conftest import Citizen
from tests.scenarios.events.conftest import FINAL_CALCULATION, FORUM, key, planned, put, record
from tests.scenarios.events.test_offset_rules import accounted, pay_offline


def _org_order(client, organiser_, event_id: int, listing: int, grams: int, payment: str = "offline"):
    return organiser_.api(client).post(f"/api/org/v1/events/{event_id}/orders",
                                       {"listing_id": listing, "quantity_g": grams, "payment": payment},
                                       key=key("review"))


# 1 -------------------------------------------------------------------------------------------------------------

def test_an_offline_order_paid_after_its_deadline_does_not_make_the_organiser_pay_twice(
        client, clock, forum_organiser, finance, listing):
    """An offline order past its deadline no longer holds room (progress() drops it), so the organiser orders the
    whole figure again; finance may still record the first transfer (settle_offline takes an expired order) and
    before_retire only asks "neutral yet?", so both retire: 60 t paid and retired twice."""
    final = accounted(client, clock, forum_organiser)
    room = final["to_offset_left_g"]
    first = _org_order(client, forum_organiser, final["id"], listing, 60_000_000).get_json()
    clock.advance(days=6, seconds=1)  # OFFLINE_ORDER_TTL_SECONDS
    again = _org_order(client, forum_organiser, final["id"], listing, room)
    assert again.status_code == 201, again.get_json()
    again = again.get_json()
    paid = finance.post(f"/api/admin/v1/orders/{first['order_no']}/offline-payment",
                        {"reference": "LATE-1", "amount_fen": first["amount_fen"]})
    # The order placed in its room holds it: the late transfer is refused and goes back by bank.
    assert paid.status_code == 409 and paid.get_json()["error"]["code"] == "no_longer_owed", paid.get_json()
    second = finance.post(f"/api/admin/v1/orders/{again['order_no']}/offline-payment",
                          {"reference": "LATE-2", "amount_fen": again["amount_fen"]})
    shown = forum_organiser.api(client).get(f"/api/org/v1/events/{final['id']}").get_json()
    # What must hold: the organiser never retires more than the figure (rounded as bind allows) for one event.
    assert shown["organiser_retired_g"] <= final["to_offset_left_g"], (second.status_code, shown["organiser_retired_g"])
    assert second.status_code == 200 and shown["status"] == "neutral"


# 2 -------------------------------------------------------------------------------------------------------------

def test_a_participant_order_keeps_to_the_citizens_unpaid_grams_limit(client, forum_organiser, listing):
    """create() lifts MP_MAX_RESERVED_G for any order naming a record, trusting bind() to bound it; the judicial
    bind does (the owed share), the event's participant side does not: one citizen holds 400 t unpaid."""
    event = planned(client, forum_organiser)
    hoarder = Citizen(client, "hoarder")
    personal = hoarder.post("/orders", {"listing_id": listing, "quantity_g": 400_000_000, "purpose": "personal"},
                            key=key("mp"))
    assert personal.status_code == 400 and personal.get_json()["error"]["code"] == "reserved_quantity_limit"
    for_event = hoarder.post("/orders", {"listing_id": listing, "quantity_g": 400_000_000, "purpose": "event",
                                         "event_id": event["id"]}, key=key("mp"))
    assert for_event.status_code in (400, 429), for_event.get_json()


# 3 -------------------------------------------------------------------------------------------------------------

def test_a_far_future_event_is_a_400_not_a_500_that_breaks_every_events_list(client, forum_organiser):
    """offset_deadline(9999-12-31) raises ValueError in its own except branch: the event is stored, then every
    view of it — the organiser's list, and the platform readers' list of all events — answers 500."""
    api = forum_organiser.api(client)
    made = api.post("/api/org/v1/events", {**FORUM, "starts_on": "9999-12-30", "ends_on": "9999-12-31"})
    assert made.status_code == 400, made.status_code
    assert api.get("/api/org/v1/events").status_code == 200


# 4 -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("calculation, field", [
    ({"participant_travel": [{"origin": "999999", "mode": "flight", "count": 1}]},
     "calculation.participant_travel.0.origin"),
    ({"materials": [{"kind": "paper"}]}, "calculation.materials.0.kg"),
    ({"factor_set": 9999}, "calculation.factor_set"),
    ({"participant_travel": [{"distance_km": "5", "mode": "bus", "count": 1, "cabin": "business"}]},
     "calculation.participant_travel.0.cabin"),
])
def test_the_calculators_own_refusals_name_the_calculation_field(client, forum_organiser, calculation, field):
    """_calculate prefixes pydantic's errors only; InvalidInput raised by footprint.factor_set and by the event
    calculator itself (unknown adcode, missing kg, cabin, factor set) names the bare field."""
    event = record(client, forum_organiser)
    response = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/plan",
                   {"calculation": calculation, "offset_method": "x"})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == field


def test_the_calculation_cannot_move_the_event_to_another_venue(client, clock, forum_organiser):
    """The body's venue overrides the event's: a Chengdu forum's final account measured to Beijing (participants
    flying in from Beijing then travel ~0 km) is accepted and frozen as the figure to offset."""
    event = planned(client, forum_organiser)
    clock.advance(days=41)
    calculation = {**copy.deepcopy(FINAL_CALCULATION), "venue": "110105"}
    response = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final", {"calculation": calculation})
    assert response.status_code == 400 and response.get_json()["error"]["details"][0]["field"] == "calculation.venue"


# 5 -------------------------------------------------------------------------------------------------------------

def test_after_neutral_the_events_counted_figures_stay_the_certificates(client, clock, forum_organiser, finance,
                                                                        listing, fake_wechat):
    """Once the organiser's retirements covered the whole figure (participant travel included), a participant's
    later offset is their own; event_view still counts it toward the event, so the page claims 200 kg of
    participant travel twice (the organiser's credits and the participant's) and no longer matches the
    certificate."""
    final = accounted(client, clock, forum_organiser)
    pay_offline(client, forum_organiser, finance, final["id"], listing, final["total_g"], "REVIEW-N-1")
    shown = client.get(f"/api/v1/events/{final['id']}").get_json()
    certified = client.get(f"/api/v1/certificates/{shown['certificate_no']}").get_json()["payload"]
    latecomer = Citizen(client, "latecomer")
    order = latecomer.order(listing, 200_000, purpose="event", event_id=final["id"])
    fake_wechat.pay(order["order_no"])
    after = client.get(f"/api/v1/events/{final['id']}").get_json()
    assert after["retired_g"] == certified["quantity_g"]
    assert after["participants"]["counted_g"] == certified["record"]["participants"]["counted_g"]


# 6 -------------------------------------------------------------------------------------------------------------

def test_a_final_account_of_nothing_never_yields_a_certificate_for_nothing(client, clock, forum_organiser, listing,
                                                                          fake_wechat):
    """A final calculation of {} is 0 g: the organiser cannot order (overpayment, owed 0), and the event turns
    neutral only when some participant happens to pay, with a signed 碳中和证书 for 0 g listing no retirement."""
    event = planned(client, forum_organiser)
    clock.advance(days=41)
    final = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final", {"calculation": {}})
    if final.status_code == 400:
        return  # refusing an empty account is one right answer
    assert final.status_code == 200
    citizen = Citizen(client, "passer-by")
    order = citizen.order(listing, 100_000, purpose="event", event_id=event["id"])
    fake_wechat.pay(order["order_no"])
    shown = client.get(f"/api/v1/events/{event['id']}").get_json()
    if shown["certificate_no"]:
        payload = client.get(f"/api/v1/certificates/{shown['certificate_no']}").get_json()["payload"]
        assert payload["quantity_g"] > 0 and payload["items"], payload["quantity_g"]


# 7 -------------------------------------------------------------------------------------------------------------

def test_the_tail_under_a_kilogram_is_offered_to_the_kilogram_not_to_the_tonne(client, clock, forum_organiser,
                                                                              finance, listing):
    """README and the test name say the figure is offered rounded up to the kilogram and "no more"; bind allows up
    to the next whole tonne: with 300 g left, 1 t (80 yuan) is accepted."""
    final = accounted(client, clock, forum_organiser)
    pay_offline(client, forum_organiser, finance, final["id"], listing, final["total_g"] - 300, "REVIEW-T-1")
    left = forum_organiser.api(client).get(f"/api/org/v1/events/{final['id']}").get_json()["to_offset_left_g"]
    assert left < 1000
    too_much = _org_order(client, forum_organiser, final["id"], listing, 1_000_000)
    assert too_much.status_code == 409, too_much.get_json()


# 8 -------------------------------------------------------------------------------------------------------------

def test_the_neutrality_certificate_signs_only_grams_its_items_list(client, clock, forum_organiser, finance, listing,
                                                                   fake_wechat):
    """The JWS's q (all an offline verifier sees) is organiser + counted participant grams, but the items list
    only the organiser's retirements: the participant part is backed by no certificate the document names."""
    event = planned(client, forum_organiser)
    goer = Citizen(client, "goer")
    order = goer.order(listing, 2_000_000, purpose="event", event_id=event["id"])
    fake_wechat.pay(order["order_no"])
    clock.advance(days=41)
    final = put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final",
                {"calculation": copy.deepcopy(FINAL_CALCULATION)}).get_json()
    pay_offline(client, forum_organiser, finance, event["id"], listing, final["total_g"] - final["retired_g"],
                "REVIEW-C-1")
    number = client.get(f"/api/v1/events/{event['id']}").get_json()["certificate_no"]
    payload = client.get(f"/api/v1/certificates/{number}").get_json()["payload"]
    assert payload["quantity_g"] == sum(item["quantity_g"] for item in payload["items"])
