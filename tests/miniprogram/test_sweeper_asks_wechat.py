"""At the deadline the sweeper asks WeChat Pay's query what became of the order, and only then closes it.

It releases the credits only once WeChat says no payment can come (CLOSED, REVOKED, PAYERROR) or the order never
reached WeChat. An order WeChat reports paid is delivered, whatever the close API answers; an order WeChat is still
being paid for waits; an order WeChat gave a prepay id for and now knows nothing of goes to the operators.
"""

from __future__ import annotations

import pytest

from backend.wechat import fake as fake_module
from backend.wechat.errors import WeChatUnavailable
from backend.wechat.pay import Pay
from tests.miniprogram.test_operator_queue import queue
from tests.miniprogram.test_purchase import listing_of


def sweep(runner) -> str:
    result = runner.invoke(args=["orders", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def past_the_deadline(app, minutes: int = 15) -> None:
    app.config["CLOCK"].advance(minutes=minutes)


def test_a_buyer_typing_her_password_at_the_deadline_is_waited_for_and_then_served(app, client, runner, shop,
                                                                                  citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    app.config["CLOCK"].advance(minutes=14, seconds=50)
    fake_wechat.set_trade_state(order["order_no"], "USERPAYING")
    # While she types, the order is not paid: polling shows it reserved, with no certificate.
    shown = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert (shown["status"], shown["certificate_no"]) == ("reserved", None)

    app.config["CLOCK"].advance(seconds=20)  # the deadline passes mid-payment
    assert "1 still being paid" in sweep(runner)
    assert fake_wechat.transactions[order["order_no"]]["trade_state"] == "USERPAYING"  # not closed under her
    assert listing_of(client, shop["listing"]["id"])["available_g"] == 900_000  # still hers

    fake_wechat.pay(order["order_no"], deliver=False)  # the password goes through; the notification is lost
    assert "1 found paid" in sweep(runner)
    done = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert done["status"] == "fulfilled" and done["certificate_no"]


def test_a_payment_stuck_in_progress_long_after_the_deadline_goes_to_the_operators(app, runner, operator, shop,
                                                                                   citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.set_trade_state(order["order_no"], "USERPAYING")
    past_the_deadline(app, minutes=21)  # the deadline, and the ledger's five minutes of grace after it
    assert "1 queued for an operator" in sweep(runner)
    [queued] = operator.ok(operator.get("/orders?attention=true"))["items"]
    assert queued["status"] == "reserved" and "USERPAYING" in queued["attention"]


def test_a_stuck_payment_that_goes_through_after_all_leaves_the_operators_queue(app, runner, operator, shop,
                                                                                citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.set_trade_state(order["order_no"], "USERPAYING")
    past_the_deadline(app, minutes=21)
    assert "1 queued for an operator" in sweep(runner)
    fake_wechat.pay(order["order_no"])  # the password goes through at last; WeChat notifies us
    done = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert done["status"] == "fulfilled" and done["certificate_no"] and not done.get("under_review")
    assert queue(operator) == []  # nothing left for an operator to do


def test_a_payment_after_an_operator_released_the_order_is_refunded(app, runner, operator, shop, citizen,
                                                                   fake_wechat):
    """The operator gave up on a payment stuck in progress and released the credits; then it went through. Nobody
    will deliver it, so the money goes back rather than stay with us."""
    order = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.set_trade_state(order["order_no"], "USERPAYING")
    past_the_deadline(app, minutes=21)
    sweep(runner)
    operator.ok(operator.post(f"/orders/{order['order_no']}/resolve", {"note": "支付超时，已释放"}))
    fake_wechat.pay(order["order_no"])
    refunding = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert refunding["status"] == "refunding" and refunding["certificate_no"] is None
    sweep(runner)  # sends the decided refund
    [refund] = [r for r in fake_wechat.refunds.values() if r["out_trade_no"] == order["order_no"]]
    assert refund["refund"] == order["amount_fen"]


@pytest.mark.parametrize("state", ["PAYERROR", "REVOKED"])
def test_a_payment_that_failed_or_was_revoked_releases_the_credits(app, client, runner, shop, citizen, fake_wechat,
                                                                  state):
    order = citizen.order(shop["listing"]["id"], 400_000)
    fake_wechat.set_trade_state(order["order_no"], state)
    shown = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert (shown["status"], shown["certificate_no"]) == ("reserved", None)  # a failed payment is no payment
    past_the_deadline(app)
    assert sweep(runner).startswith("1 expired")
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "expired"
    assert listing_of(client, shop["listing"]["id"])["available_g"] == 1_000_000


def test_a_paid_order_is_delivered_even_if_closing_it_answers_204(app, runner, shop, citizen, fake_wechat,
                                                                 monkeypatch):
    """WeChat answers 204 to closes it did nothing for (a repeated close, reportedly an unknown number): a sweeper
    that trusted that answer would release a paid order. The query comes first, and it says SUCCESS."""
    def close_says_204(self, out_trade_no, query, request):
        return 204, None

    routes = tuple((method, pattern, close_says_204 if route is fake_module.FakeWeChat._close_transaction else route)
                   for method, pattern, route in fake_module.PAY_ROUTES)
    monkeypatch.setattr(fake_module, "PAY_ROUTES", routes)
    order = citizen.order(shop["listing"]["id"], 100_000)
    app.config["CLOCK"].advance(minutes=14)
    fake_wechat.pay(order["order_no"], deliver=False)
    app.config["CLOCK"].advance(minutes=2)
    assert sweep(runner).startswith("0 expired, 1 found paid")
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "fulfilled"


def test_an_order_paid_between_the_query_and_the_close_is_still_delivered(app, runner, shop, citizen, fake_wechat,
                                                                         monkeypatch):
    """The query said NOTPAY; she paid that very moment; the close is refused in whatever words (403 TRADE_ERROR
    from the fake, since APIv3 documents none). The query after the close finds the payment."""
    order = citizen.order(shop["listing"]["id"], 100_000)
    real_close = Pay.close

    def she_pays_first(self, order_no):
        fake_wechat.set_trade_state(order_no, "USERPAYING")
        fake_wechat.pay(order_no, deliver=False)
        return real_close(self, order_no)

    monkeypatch.setattr(Pay, "close", she_pays_first)
    past_the_deadline(app)
    assert sweep(runner).startswith("0 expired, 1 found paid")
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "fulfilled"


def test_an_order_wechat_gave_a_prepay_id_for_but_no_longer_knows_goes_to_the_operators(
        app, client, runner, operator, shop, citizen, fake_wechat):
    """As when another process's fake WeChat took the order and this one never heard of it: it may have been paid
    there, so neither releasing it nor delivering it is the code's call."""
    order = citizen.order(shop["listing"]["id"], 100_000)
    assert order["pay_params"] is not None
    del fake_wechat.transactions[order["order_no"]]  # this WeChat has no record of it
    past_the_deadline(app)
    assert "1 queued for an operator" in sweep(runner)
    assert queue(operator) == [(order["order_no"], "reserved")]
    [queued] = operator.ok(operator.get("/orders?attention=true"))["items"]
    assert "knows no order" in queued["attention"] and "prepay id" in queued["attention"]
    assert listing_of(client, shop["listing"]["id"])["available_g"] == 900_000  # held until someone decides
    assert sweep(runner).startswith("0 expired, 0 found paid, 0 refunds sent to WeChat\n")  # left alone now


def test_an_order_that_never_reached_wechat_is_simply_released(app, client, runner, shop, citizen, fake_wechat,
                                                              monkeypatch):
    def unreachable(self, **order):
        raise WeChatUnavailable("微信支付暂不可用，请稍后再试 (WeChat Pay prepay unreachable)")

    monkeypatch.setattr(Pay, "prepay", unreachable)
    response = citizen.post("/orders", {"listing_id": shop["listing"]["id"], "quantity_g": 100_000,
                                        "purpose": "personal"}, key="no-prepay")
    assert response.status_code == 503
    [order] = citizen.get("/orders").get_json()["items"]  # placed and reserved, but WeChat never got it
    assert order["order_no"] not in fake_wechat.transactions
    past_the_deadline(app)
    assert sweep(runner).startswith("1 expired")
    assert listing_of(client, shop["listing"]["id"])["available_g"] == 1_000_000
