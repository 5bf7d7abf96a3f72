"""What a careless or hostile caller can send, and what a failing neighbour can do: a 4xx or 503, never a 500,
and nothing changed."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.miniprogram.conftest import Citizen, wx_login
from tests.miniprogram.test_notifications import deliver, forge, status_of


@pytest.mark.parametrize("stamp", ["²", "9" * 5000, "", "-5", "1e9"])
def test_a_notification_timestamp_that_is_no_number_is_refused_before_anything_else(app, client, fake_wechat,
                                                                                   paid_order, stamp):
    headers = {**paid_order["genuine"].headers, "Wechatpay-Timestamp": stamp}
    response = client.post("/api/pay/wechat/notify", data=paid_order["genuine"].body, headers=headers)
    assert response.status_code == 401 and response.get_json()["code"] == "FAIL"
    assert status_of(app, paid_order["order_no"]) == "reserved"


def test_a_signed_notification_with_malformed_fields_is_refused(app, client, fake_wechat, paid_order):
    for change in ({"amount": {"total": "2000"}}, {"out_trade_no": 12345}, {"transaction_id": "4" * 40},
                   {"amount": None}):
        response = deliver(client, forge(fake_wechat, paid_order, resource=change))
        assert response.status_code == 400, change
    assert status_of(app, paid_order["order_no"]) == "reserved"


def test_order_numbers_that_name_no_order_are_a_small_404(client, citizen, shop):
    for order_no in ("%00", "x" * 10_000, "TH20260312ZZZZZZZZZZZZ", "th20260312abcdefabcdef"):
        response = citizen.get(f"/orders/{order_no}")
        assert response.status_code == 404 and len(response.data) < 300, order_no
        assert citizen.post(f"/orders/{order_no}/refund").status_code == 404
        assert client.post(f"/api/dev/pay/{order_no}").status_code == 404


def test_the_development_pay_endpoint_answers_loopback_callers_only(client, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    response = client.post(f"/api/dev/pay/{order['order_no']}", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert response.status_code == 403
    assert fake_wechat.transactions[order["order_no"]]["trade_state"] == "NOTPAY"


def test_an_avatar_url_longer_than_the_column_is_a_400(client, citizen):
    response = client.patch("/api/mp/v1/me", headers=citizen.headers,
                            json={"avatar_url": "https://thirdwx.qlogo.cn/" + "a" * 500})
    assert response.status_code == 400 and response.get_json()["error"]["details"][0]["field"] == "avatar_url"


def test_redis_down_is_a_503_for_login_and_for_sessions(app, client, fake_wechat):
    citizen = Citizen(client, "before-the-outage")
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, decode_responses=True,
                       retry=Retry(NoBackoff(), 0))
    app.extensions["redis"] = dead
    me = citizen.get("/me")
    assert me.status_code == 503 and me.get_json()["error"]["code"] == "sessions_unavailable"
    login = client.post("/api/mp/v1/auth/login", json={"code": wx_login(client, "during-the-outage")})
    assert login.status_code == 503


def test_a_project_suspended_between_payment_and_retirement_refunds_the_buyer(app, client, runner, operator, shop,
                                                                             citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    operator.ok(operator.post(f"/projects/{shop['project']['id']}/suspend", {"reason": "监测报告存疑"}))
    fake_wechat.pay(order["order_no"])  # the notification is answered 200: the payment is known and handled
    refunding = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert (refunding["status"], refunding["refund_reason"]) == ("refunding", "project_suspended")
    assert runner.invoke(args=["orders", "sweep"]).output.startswith("0 expired, 0 found paid, 1 refunds sent")
    assert list(fake_wechat.refunds.values())[0]["refund"] == order["amount_fen"]
