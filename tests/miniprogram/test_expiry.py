"""Unpaid orders give their credits back at the deadline; a payment that slipped through is still honoured.

The sweeper (``flask orders sweep``) closes the WeChat order first and releases the credits only when WeChat
confirms it is closed, so money and credits never part ways.
"""

from __future__ import annotations

import pytest

from backend.settings import MIN_RESERVATION_TTL_SECONDS
from backend.wechat.fake import FakeWeChatError
from tests.miniprogram.test_purchase import listing_of


def sweep(runner):
    result = runner.invoke(args=["orders", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def test_an_unpaid_order_expires_its_wechat_order_is_closed_and_the_credits_go_back_on_sale(
        app, client, runner, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 400_000)
    assert "0 expired" in sweep(runner)  # not due yet
    app.config["CLOCK"].advance(minutes=15)
    assert sweep(runner).startswith("1 expired")
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "expired"
    assert fake_wechat.transactions[order["order_no"]]["trade_state"] == "CLOSED"
    assert listing_of(client, shop["listing"]["id"])["available_g"] == 1_000_000
    with pytest.raises(FakeWeChatError, match="CLOSED|closed"):  # WeChat takes no money for a closed order
        fake_wechat.pay(order["order_no"])


def test_with_the_shortest_reservation_allowed_the_buyer_has_four_minutes_to_pay(app, client, shop, citizen,
                                                                             fake_wechat):
    app.config["RESERVATION_TTL_SECONDS"] = MIN_RESERVATION_TTL_SECONDS
    order = citizen.order(shop["listing"]["id"], 100_000)
    assert order["pay_params"] is not None  # WeChat was asked for a prepay id: she can pay
    app.config["CLOCK"].advance(minutes=4)  # she takes her time, yet pays within the deadline
    fake_wechat.pay(order["order_no"])
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "fulfilled"


def test_wechat_refuses_payment_after_the_deadline_even_before_the_sweeper_runs(app, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    app.config["CLOCK"].advance(minutes=15)
    with pytest.raises(FakeWeChatError, match="expire"):
        fake_wechat.pay(order["order_no"])


def test_a_payment_whose_notification_was_lost_is_found_by_the_sweeper_and_fulfilled(
        app, runner, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    app.config["CLOCK"].advance(minutes=14)
    fake_wechat.pay(order["order_no"], deliver=False)
    app.config["CLOCK"].advance(minutes=10)  # past the deadline and past the ledger's grace
    assert "1 found paid" in sweep(runner)
    done = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert done["status"] == "fulfilled" and done["certificate_no"]


def test_a_late_notification_after_the_grace_still_delivers_if_credits_remain(app, client, shop, citizen,
                                                                             fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    app.config["CLOCK"].advance(minutes=14)
    late = fake_wechat.pay(order["order_no"], deliver=False)
    app.config["CLOCK"].advance(minutes=7)
    # WeChat retries and signs afresh; the retry is what arrives (the first is now stale).
    retry = fake_wechat.notification(url=late.url, event_type="TRANSACTION.SUCCESS", original_type="transaction",
                                     resource=fake_wechat.transaction(order["order_no"]), summary="支付成功")
    assert client.post("/api/pay/wechat/notify", data=retry.body, headers=retry.headers).status_code == 200
    done = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert done["status"] == "fulfilled" and done["certificate_no"]
    assert listing_of(client, shop["listing"]["id"])["available_g"] == 900_000


def test_a_late_payment_for_credits_sold_meanwhile_is_refunded_in_full(app, client, runner, operator, shop,
                                                                       citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 600_000)
    app.config["CLOCK"].advance(minutes=14)
    late = fake_wechat.pay(order["order_no"], deliver=False)
    app.config["CLOCK"].advance(minutes=7)
    # The ledger's own sweep released the reservation; a second buyer took the rest of the batch.
    reservation = operator.ok(operator.get("/ledger/transfers?limit=5"))["items"]
    reserve_id = next(t["id"] for t in reservation if t["code"] == "RESERVE")
    operator.ok(operator.post(f"/ledger/reservations/{reserve_id}/void", key="operator-release"))
    other = type(citizen)(client, "second-buyer")
    second = other.order(shop["listing"]["id"], 1_000_000)
    fake_wechat.pay(second["order_no"])
    retry = fake_wechat.notification(url=late.url, event_type="TRANSACTION.SUCCESS", original_type="transaction",
                                     resource=fake_wechat.transaction(order["order_no"]), summary="支付成功")
    assert client.post("/api/pay/wechat/notify", data=retry.body, headers=retry.headers).status_code == 200
    refunding = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert (refunding["status"], refunding["refund_reason"]) == ("refunding", "credits_unavailable")
    assert "1 refunds sent" in sweep(runner)
    refund_no = next(iter(fake_wechat.refunds))
    assert fake_wechat.refunds[refund_no]["refund"] == order["amount_fen"]
    fake_wechat.settle_refund(refund_no)
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "refunded"


def test_the_background_sweeper_runs_once_per_interval_across_processes(app, shop, citizen, fake_wechat):
    """Two app processes share Redis: in one interval only the first to claim it sweeps."""
    from backend.orders import sweeper

    order = citizen.order(shop["listing"]["id"], 100_000)
    app.config["CLOCK"].advance(minutes=16)
    first, second = sweeper.run_once(app), sweeper.run_once(app)
    assert first.expired == 1 and second is None
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "expired"
    app.config["CLOCK"].advance(seconds=app.config["ORDER_SWEEP_INTERVAL_SECONDS"])
    assert sweeper.run_once(app).expired == 0  # the next interval sweeps again, finding nothing due
