"""32 people buy the last tonne of a batch at the same moment, then all pay at once (PostgreSQL, row locks).

Nobody is sold credits that are not there, nobody who was refused is asked to pay, and every payment ends in a
certificate: the invariant checker runs after the test as after every other.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from backend.certificates.models import Certificate
from backend.db import read
from backend.orders.models import Order
from tests.miniprogram.conftest import Citizen
from tests.miniprogram.test_purchase import listing_of

BUYERS = 32
EACH_G = 50_000  # 32 × 50 kg = 1.6 t wanted, 1 t on sale: exactly 20 can be served


def all_at_once(work, items):
    start = threading.Barrier(len(items))
    results: list = [None] * len(items)

    def run(index, item):
        start.wait()
        results[index] = work(item)

    threads = [threading.Thread(target=run, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.services_only
def test_32_buyers_race_for_the_last_tonne_and_nobody_pays_for_credits_they_do_not_get(app, client, shop,
                                                                                     fake_wechat):
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000  # all 32 log in from one test address
    buyers = [Citizen(app.test_client(), f"racer-{n}") for n in range(BUYERS)]
    listing_id = shop["listing"]["id"]

    def order(buyer):
        return buyer.post("/orders", {"listing_id": listing_id, "quantity_g": EACH_G, "purpose": "personal"},
                          key="race")

    answers = all_at_once(order, buyers)
    placed = [a.get_json() for a in answers if a.status_code == 201]
    refused = [a.get_json() for a in answers if a.status_code != 201]
    assert len(placed) == 20
    assert {r["error"]["code"] for r in refused} == {"insufficient_credits"} and len(refused) == 12
    assert listing_of(client, listing_id)["available_g"] == 0
    assert all(p["pay_params"]["paySign"] for p in placed)
    assert len(fake_wechat.transactions) == 20  # the refused were never sent to WeChat to pay

    def deliver(notification):  # each notification on its own connection, as WeChat would
        return app.test_client().post(urlsplit(notification.url).path, data=notification.body,
                                      headers=notification.headers).status_code

    fake_wechat.sender = deliver
    all_at_once(lambda p: fake_wechat.pay(p["order_no"]), placed)
    with app.app_context():
        statuses = read(lambda s: s.execute(select(Order.status, func.count()).group_by(Order.status)).all())
        made = read(lambda s: s.execute(select(func.count()).select_from(Certificate)).scalar_one())
    assert dict(statuses) == {"fulfilled": 20} and made == 20
    paid = sum(t["total"] for t in fake_wechat.transactions.values() if t["trade_state"] == "SUCCESS")
    assert paid == 20 * 400  # 50 kg at 80 yuan a tonne is 4 yuan each


@pytest.mark.services_only
def test_payments_new_orders_and_operator_retirements_of_one_batch_at_once_never_deadlock(
        app, client, operator, shop, fake_wechat, caplog):
    """Notifications settle orders (post, then retire with a certificate) while others order the same batch and an
    operator retires some of its inventory: they lock the same accounts (and, before issue 17, the certificate
    counter, the log head and the audit head) and must all take them in one order, or PostgreSQL breaks a deadlock
    after a second and retries — which bench/purchase.py found under gunicorn."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    payers = [Citizen(app.test_client(), f"payer-{n}") for n in range(8)]
    newcomers = [Citizen(app.test_client(), f"newcomer-{n}") for n in range(4)]
    listing_id, batch_id = shop["listing"]["id"], shop["batch"]["id"]
    placed = [payer.order(listing_id, EACH_G) for payer in payers]

    def act(item):
        kind, who = item
        if kind == "pay":
            notification = fake_wechat.pay(who["order_no"], deliver=False)
            return app.test_client().post(urlsplit(notification.url).path, data=notification.body,
                                          headers=notification.headers).status_code
        if kind == "order":
            return who.post("/orders", {"listing_id": listing_id, "quantity_g": EACH_G, "purpose": "personal"},
                            key="newcomer").status_code
        return app.test_client().post("/api/admin/v1/ledger/retirements", headers={
            **operator.headers, "Idempotency-Key": f"operator-retire-{who}"}, json={
            "batch_id": batch_id, "holder": "platform", "amount_g": 10_000, "purpose": "personal",
            "beneficiary_name": "测试"}).status_code

    work = ([("pay", p) for p in placed] + [("order", n) for n in newcomers]
            + [("retire", n) for n in range(4)])
    with caplog.at_level("INFO", logger="backend.db"):
        answers = all_at_once(act, work)
    assert answers == [200] * 8 + [201] * 8
    assert "deadlock" not in caplog.text
    with app.app_context():
        statuses = read(lambda s: s.execute(select(Order.status, func.count()).group_by(Order.status)).all())
        made = read(lambda s: s.execute(select(func.count()).select_from(Certificate)).scalar_one())
    assert dict(statuses) == {"fulfilled": 8, "reserved": 4} and made == 8 + 4
