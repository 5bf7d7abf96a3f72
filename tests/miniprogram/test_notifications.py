"""Payment notifications: only a genuine, fresh, matching one acts, and it acts once.

Each forged or wrong notification is answered with a 4xx ``FAIL`` and changes nothing: the order stays reserved,
its credits stay held, no certificate is made. The genuine one afterwards still goes through.
"""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from backend.certificates.models import Certificate
from backend.db import read
from backend.orders.models import PaymentNotification


def deliver(client, notification, *, body: bytes | None = None):
    return client.post("/api/pay/wechat/notify", data=body if body is not None else notification.body,
                       headers=notification.headers)


def forge(fake, order, **changes):
    resource = dict(order["resource"])
    resource.update(changes.pop("resource", {}))
    return fake.notification(url=order["genuine"].url, event_type=changes.pop("event_type", "TRANSACTION.SUCCESS"),
                             original_type="transaction", resource=resource, summary="支付成功", **changes)


def status_of(app, order_no: str) -> str:
    from backend.orders.models import Order

    with app.app_context():
        return read(lambda s: s.execute(select(Order.status).where(Order.order_no == order_no)).scalar_one())


def certificates_made(app) -> int:
    with app.app_context():
        return read(lambda s: s.execute(select(func.count()).select_from(Certificate)).scalar_one())


FORGERIES = {
    "signed by another key": dict(signing_key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "an unknown platform key id": dict(serial="PUB_KEY_ID_0000000000000000000000"),
    "six minutes old": dict(timestamp_offset=-301),
    "six minutes ahead": dict(timestamp_offset=301),
    "encrypted with another APIv3 key": dict(apiv3_key="0" * 32),
    "for 1 fen more than the order": dict(resource_change=lambda r: {"amount": {**r["amount"],
                                                                              "total": r["amount"]["total"] + 1}}),
    "not a success": dict(resource_change=lambda r: {"trade_state": "NOTPAY"}),
    "for another merchant": dict(resource_change=lambda r: {"mchid": "1999999999"}),
    # One merchant account may serve several apps (a second mini-program, an official account): their payments are
    # signed with the same keys and name our merchant, and only the appid tells that this one is not ours.
    "for another app of the same merchant": dict(resource_change=lambda r: {"appid": "wx0000000000000002"}),
    "paid in another currency": dict(resource_change=lambda r: {"amount": {**r["amount"], "currency": "USD"}}),
    "for an unknown order": dict(resource_change=lambda r: {"out_trade_no": "TH20260312FFFFFFFFFFFF"}),
}


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_bad_notification_changes_nothing_and_the_genuine_one_still_works(app, client, fake_wechat, paid_order,
                                                                          kind):
    spec = dict(FORGERIES[kind])
    changes = {}
    if "timestamp_offset" in spec:
        changes["timestamp"] = int(app.config["CLOCK"]().timestamp()) + spec.pop("timestamp_offset")
    if "resource_change" in spec:
        changes["resource"] = spec.pop("resource_change")(paid_order["resource"])
    bad = forge(fake_wechat, paid_order, **changes, **spec)
    response = deliver(client, bad)
    assert 400 <= response.status_code < 500 and response.get_json()["code"] == "FAIL", kind
    assert status_of(app, paid_order["order_no"]) == "reserved"
    assert certificates_made(app) == 0

    assert deliver(client, paid_order["genuine"]).get_json() == {"code": "SUCCESS", "message": "成功"}
    assert status_of(app, paid_order["order_no"]) == "fulfilled"


def test_a_tampered_body_is_refused(app, client, paid_order):
    body = paid_order["genuine"].body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS" ')
    assert deliver(client, paid_order["genuine"], body=body).status_code == 401
    assert status_of(app, paid_order["order_no"]) == "reserved"


def test_the_same_notification_twice_acts_once(app, client, paid_order):
    assert deliver(client, paid_order["genuine"]).status_code == 200
    assert deliver(client, paid_order["genuine"]).status_code == 200  # WeChat is told it arrived; nothing more
    assert certificates_made(app) == 1
    with app.app_context():
        outcomes = read(lambda s: [n.outcome for n in s.execute(select(PaymentNotification)).scalars()])
    assert outcomes == ["fulfilled"]


def test_two_different_notifications_for_one_payment_make_one_certificate(app, client, fake_wechat, paid_order):
    """WeChat retries with a new notification id when it thinks the first was lost."""
    retry = forge(fake_wechat, paid_order)
    assert deliver(client, paid_order["genuine"]).status_code == 200
    assert deliver(client, retry).status_code == 200
    assert certificates_made(app) == 1


def test_two_notifications_racing_for_one_order_make_one_certificate(app, fake_wechat, paid_order):
    """Both arrive at once on separate connections; the order's row lock lets one act, the other finds it done."""
    notifications = [paid_order["genuine"], forge(fake_wechat, paid_order)]
    start = threading.Barrier(len(notifications))
    answers = []

    def send(notification):
        client = app.test_client()
        start.wait()
        answers.append(deliver(client, notification).status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in notifications]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200]
    assert certificates_made(app) == 1
    assert status_of(app, paid_order["order_no"]) == "fulfilled"


def test_a_refund_notification_for_a_refund_never_asked_for_is_refused(app, client, fake_wechat, paid_order):
    deliver(client, paid_order["genuine"])
    bogus = fake_wechat.notification(
        url=paid_order["genuine"].url, event_type="REFUND.SUCCESS", original_type="refund", summary="退款成功",
        resource={"mchid": fake_wechat.mchid, "out_trade_no": paid_order["order_no"], "out_refund_no": "X1",
                  "refund_status": "SUCCESS", "refund_id": "50" + "0" * 28})
    assert deliver(client, bogus).status_code == 400
    assert status_of(app, paid_order["order_no"]) == "fulfilled"


def test_an_oversized_or_non_utf8_notification_is_refused(app, client, paid_order):
    headers = paid_order["genuine"].headers
    assert client.post("/api/pay/wechat/notify", data=b"x" * 20_000, headers=headers).status_code == 413
    assert client.post("/api/pay/wechat/notify", data=b"\xff\xfe", headers=headers).status_code == 400
    assert status_of(app, paid_order["order_no"]) == "reserved"
