"""One citizen cannot hold a listing hostage, nor make us flood WeChat (issue 12).

At most 3 unpaid orders and 50 t unpaid at once, 10 order requests a minute, one WeChat Pay query per order every
5 seconds however fast her phone polls, and WeChat's content check only for a name that actually changes. A limit
answers 429 with ``Retry-After`` and says, in Chinese and English, which limit it was.
"""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select

from backend import certificates, wechat
from backend.audit.models import AuditEvent
from backend.db import read
from backend.orders import workflow
from tests.envelope import refused
from tests.miniprogram.conftest import PRICE_FEN_PER_T, Citizen
from tests.miniprogram.test_concurrency import all_at_once
from tests.miniprogram.test_purchase import listing_of


def order_body(listing_id: int, quantity_g: int) -> dict:
    return {"listing_id": listing_id, "quantity_g": quantity_g, "purpose": "personal"}


def wechat_queries(fake_wechat, order_no: str) -> int:
    """How often WeChat Pay was asked about this order (the fake records every request it answers)."""
    return fake_wechat.calls.count(("GET", f"/v3/pay/transactions/out-trade-no/{order_no}"))


def content_checks(fake_wechat) -> int:
    return sum(1 for _, path in fake_wechat.calls if path == "/wxa/msg_sec_check")


def test_a_citizen_with_three_unpaid_orders_is_refused_a_fourth_until_one_is_paid_or_expires(
        client, clock, shop, citizen, fake_wechat):
    listing_id = shop["listing"]["id"]
    # She orders 100 kg three times, a minute apart, and pays for none of them (yet).
    first = citizen.order(listing_id, 100_000)
    clock.advance(minutes=1)
    second = citizen.order(listing_id, 100_000)
    clock.advance(minutes=1)
    citizen.order(listing_id, 100_000)
    clock.advance(minutes=3)

    # Five minutes after the first, a fourth is refused; Retry-After says when the first one's 15 minutes are up.
    response = citizen.post("/orders", order_body(listing_id, 100_000), key="the-fourth")
    error = refused(response, 429, "too_many_unpaid_orders")
    assert response.headers["Retry-After"] == "600"
    assert error["details"] == {"limit": "unpaid_orders", "allowed": 3, "unpaid_orders": 3, "retry_after": 600}
    assert error["message"].startswith("已有 3 笔未支付订单") and "(3 unpaid orders already" in error["message"]
    # Nothing was reserved for it: 700 kg are still on sale, and WeChat never heard of a fourth order.
    assert listing_of(client, listing_id)["available_g"] == 700_000
    assert len(fake_wechat.transactions) == 3

    # She pays the second: two are unpaid now, and her phone's retry of the fourth goes through.
    fake_wechat.pay(second["order_no"])
    assert citizen.order(listing_id, 100_000, key="the-fourth")["status"] == "reserved"

    # Three unpaid again. A fifth waits for the first order's deadline, and needs no sweeper to pass it: an
    # order that can no longer be paid no longer counts.
    refused(citizen.post("/orders", order_body(listing_id, 100_000), key="the-fifth"), 429,
            "too_many_unpaid_orders")
    clock.advance(minutes=10)
    assert citizen.get(f"/orders/{first['order_no']}").get_json()["status"] == "reserved"  # not swept
    assert citizen.order(listing_id, 100_000, key="the-fifth")["status"] == "reserved"


def test_her_unpaid_orders_may_hold_at_most_50_tonnes_together(client, operator, citizen, fake_wechat):
    made = operator.registered_project(quantity_g=100_000_000)
    listing_id = operator.ok(operator.post("/listings", {"batch_id": made["batch"]["id"],
                                                         "price_fen_per_t": PRICE_FEN_PER_T, "title": "百吨林场"}))["id"]
    # 30 t, unpaid.
    big = citizen.order(listing_id, 30_000_000)

    # 25 t more would hold 55 t: refused until the 30 t are paid or their 15 minutes are up.
    response = citizen.post("/orders", order_body(listing_id, 25_000_000), key="25t")
    error = refused(response, 429, "reserved_quantity_limit")
    assert response.headers["Retry-After"] == "900"
    assert error["details"] == {"limit": "reserved_g", "allowed_g": 50_000_000, "reserved_g": 30_000_000,
                                "requested_g": 25_000_000, "retry_after": 900}
    assert "50 吨" in error["message"] and "at most 50 t" in error["message"]
    assert listing_of(client, listing_id)["available_g"] == 70_000_000

    # 20 t bring her to exactly 50 t: allowed.
    citizen.order(listing_id, 20_000_000)
    # One order larger than the bound could never be placed, however long she waited: a 400 naming the quantity.
    refused(citizen.post("/orders", order_body(listing_id, 50_000_001), key="too-big"), 400,
            "reserved_quantity_limit", field="quantity_g")

    # She pays for the 30 t: 20 t are unpaid, and 25 t more fit.
    fake_wechat.pay(big["order_no"])
    assert citizen.order(listing_id, 25_000_000, key="25t")["quantity_g"] == 25_000_000
    assert listing_of(client, listing_id)["available_g"] == 25_000_000


def test_tapping_buy_again_and_again_is_slowed_down_per_citizen_not_per_address(client, clock, shop, citizen,
                                                                                fake_wechat):
    listing_id = shop["listing"]["id"]
    # Her phone sends the same order ten times in a minute: each is the same order (the idempotency key)...
    placed = [citizen.order(listing_id, 100_000, key="tap") for _ in range(10)]
    assert {order["order_no"] for order in placed} == {placed[0]["order_no"]}

    # ...and every one of them counted: the eleventh is a 429 until the minute is over.
    response = citizen.post("/orders", order_body(listing_id, 100_000), key="tap")
    error = refused(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "60" and error["details"] == {"retry_after": 60}

    # Her neighbour on the same Wi-Fi (the same address, in this test) is counted as herself and orders at once.
    assert Citizen(client, "neighbour").order(listing_id, 100_000)["status"] == "reserved"

    clock.advance(minutes=1)
    assert citizen.order(listing_id, 100_000, key="tap")["order_no"] == placed[0]["order_no"]


def test_polling_an_unpaid_order_asks_wechat_at_most_once_per_interval(clock, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    order_no = order["order_no"]

    # Her phone polls while she pays. The first poll asks WeChat: not paid yet.
    assert citizen.get(f"/orders/{order_no}").get_json()["status"] == "reserved"
    assert wechat_queries(fake_wechat, order_no) == 1

    # Two seconds later she has paid, but the notification is lost. The next poll is within 5 seconds of the last
    # query: it answers what we know (200, still reserved) without asking WeChat.
    clock.advance(seconds=2)
    fake_wechat.pay(order_no, deliver=False)
    answer = citizen.get(f"/orders/{order_no}")
    assert answer.status_code == 200 and answer.get_json()["status"] == "reserved"
    assert wechat_queries(fake_wechat, order_no) == 1

    # Another order of hers is asked about at once: the interval is per order.
    other = citizen.order(shop["listing"]["id"], 50_000)
    citizen.get(f"/orders/{other['order_no']}")
    assert wechat_queries(fake_wechat, other["order_no"]) == 1

    # Five seconds after the first query the next poll asks again, finds the payment and fulfils the order.
    clock.advance(seconds=3)
    done = citizen.get(f"/orders/{order_no}").get_json()
    assert done["status"] == "fulfilled" and done["certificate_no"]
    assert wechat_queries(fake_wechat, order_no) == 2
    # A settled order is never asked about again.
    clock.advance(seconds=10)
    citizen.get(f"/orders/{order_no}")
    assert wechat_queries(fake_wechat, order_no) == 2


def test_with_redis_down_a_poll_asks_wechat_anyway(app, shop, citizen, fake_wechat, caplog):
    order = citizen.order(shop["listing"]["id"], 100_000)
    citizen.get(f"/orders/{order['order_no']}")  # the interval is claimed in Redis
    fake_wechat.pay(order["order_no"], deliver=False)
    # Redis goes down (the HTTP API would answer 503 for want of sessions; the status step itself carries on).
    app.extensions["redis"] = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                          decode_responses=True, retry=Retry(NoBackoff(), 0))
    with app.app_context():
        user_id = citizen.login["user"]["id"]
        shown = workflow.status(wechat.pay(), app.config["CLOCK"], certificates.certify(),
                                order_no=order["order_no"], user_id=user_id, query_interval_seconds=5)
    # Better a query too many than a payment she never sees.
    assert shown["status"] == "fulfilled" and wechat_queries(fake_wechat, order["order_no"]) == 2
    assert "not throttled, Redis unavailable" in caplog.text


def test_an_unchanged_name_is_not_sent_to_the_content_check_nor_audited(app, client, citizen, fake_wechat):
    def patch(body):
        response = client.patch("/api/mp/v1/me", headers=citizen.headers, json=body)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def profile_changes() -> list[tuple[dict, dict]]:
        with app.app_context():
            return read(lambda s: [(e.before, e.after) for e in s.execute(
                select(AuditEvent).where(AuditEvent.action == "user.profile").order_by(AuditEvent.seq)).scalars()])

    patch({"nickname": "绿色小林", "real_name": "林小绿"})
    assert content_checks(fake_wechat) == 2
    # The permanent chain records which fields changed, never the names themselves (they must stay erasable).
    assert profile_changes() == [(None, {"changed": ["nickname", "real_name"]})]

    # The profile page sends the whole form back, names unchanged: WeChat is not asked, and nothing is recorded.
    shown = patch({"nickname": "绿色小林", "real_name": "林小绿"})
    assert (shown["nickname"], shown["real_name_masked"]) == ("绿色小林", "林**")
    assert content_checks(fake_wechat) == 2
    assert len(profile_changes()) == 1

    # Unchanged names beside a new region: only the region is recorded as changed.
    patch({"nickname": "绿色小林", "region": "510104"})
    assert content_checks(fake_wechat) == 2
    assert profile_changes()[-1] == (None, {"changed": ["region_adcode"]})

    # A new nickname is checked again.
    patch({"nickname": "绿色大林"})
    assert content_checks(fake_wechat) == 3


@pytest.mark.services_only
def test_two_orders_at_once_cannot_both_squeeze_under_the_limit(app, client, shop, citizen, fake_wechat):
    """Her phone and her tablet order at the same moment with two unpaid orders already: her row lock lets the
    orders in one at a time, so exactly one becomes the third."""
    listing_id = shop["listing"]["id"]
    citizen.order(listing_id, 50_000)
    citizen.order(listing_id, 50_000)
    devices = [Citizen(app.test_client(), citizen.person) for _ in range(4)]  # one person, four logins
    answers = all_at_once(lambda device: device.post("/orders", order_body(listing_id, 50_000),
                                                     key=f"device-{devices.index(device)}"), devices)
    assert sorted(answer.status_code for answer in answers) == [201, 429, 429, 429]
    assert listing_of(client, listing_id)["available_g"] == 1_000_000 - 3 * 50_000
