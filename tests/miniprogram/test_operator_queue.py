"""What the code must not settle on its own goes to the operators' queue: a payment WeChat records unlike the
order, and a refund WeChat could not make. The sweeper leaves such an order alone; an operator settles it on the
WeChat Pay merchant platform and closes it here with a note, which the audit chain keeps."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.db import read
from tests.envelope import refused


def sweep(runner) -> str:
    result = runner.invoke(args=["orders", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def queue(operator) -> list[tuple[str, str]]:
    items = operator.ok(operator.get("/orders?attention=true"))["items"]
    return [(item["order_no"], item["status"]) for item in items]


def available(client, listing_id: int) -> int:
    return client.get(f"/api/mp/v1/listings/{listing_id}").get_json()["available_g"]


def deliver(client, notification) -> int:
    return client.post(urlsplit(notification.url).path, data=notification.body,
                       headers=notification.headers).status_code


def paid_unlike_the_order(fake_wechat, citizen, listing_id: int) -> tuple[dict, object]:
    """An order WeChat records as paid 1 fen instead of its 8 yuan; its notification is held back."""
    order = citizen.order(listing_id, 100_000, key="mismatch")
    notification = fake_wechat.pay(order["order_no"], deliver=False)
    fake_wechat.transactions[order["order_no"]]["total"] = 1
    return order, notification


def test_a_payment_unlike_the_order_waits_for_an_operator_who_refunds_it_by_hand(
        app, client, runner, operator, shop, citizen, fake_wechat):
    listing_id = shop["listing"]["id"]
    order, _ = paid_unlike_the_order(fake_wechat, citizen, listing_id)
    app.config["CLOCK"].advance(minutes=25)  # past the deadline and the ledger's grace

    # The sweeper finds the payment, refuses to deliver against it, and queues the order instead of failing.
    assert "1 queued for an operator" in sweep(runner)
    [queued] = operator.ok(operator.get("/orders?attention=true"))["items"]
    assert (queued["order_no"], queued["status"]) == (order["order_no"], "reserved")
    assert "does not match" in queued["attention"] and "paid 1 fen" in queued["attention"]
    shown = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert shown["status"] == "reserved" and shown["under_review"] is True and "attention" not in shown
    assert available(client, listing_id) == 900_000  # held until someone decides
    # From now on the sweeper leaves it alone.
    assert sweep(runner).startswith("0 expired, 0 found paid, 0 refunds sent to WeChat\n")

    # The operator refunds the payment on the merchant platform, then closes the order: the credits go back on sale.
    resolved = operator.ok(operator.post(f"/orders/{order['order_no']}/resolve",
                                         {"note": "商户平台全额退款 50300000000000 (refunded by hand)"}))
    assert (resolved["status"], resolved["attention"], resolved["certificate_no"]) == ("expired", None, None)
    assert resolved["resolved_at"] is not None
    assert available(client, listing_id) == 1_000_000
    assert queue(operator) == []
    refused(operator.post(f"/orders/{order['order_no']}/resolve", {"note": "again"}), 409, "nothing_to_resolve")
    with app.app_context():
        trail = read(lambda s: [(e.action, e.actor, (e.after or {}).get("note")) for e in s.execute(
            select(AuditEvent).where(AuditEvent.object_id == order["order_no"]).order_by(AuditEvent.seq)).scalars()])
    assert trail[-2:] == [("order.attention", "sweeper", None),
                          ("order.resolved", operator.actor, "商户平台全额退款 50300000000000 (refunded by hand)")]


def test_a_buyer_asking_about_a_mismatched_payment_queues_it_and_is_not_asked_to_pay_again(
        client, operator, shop, citizen, fake_wechat):
    order, _ = paid_unlike_the_order(fake_wechat, citizen, shop["listing"]["id"])
    # Before any sweep: the buyer's own status query finds WeChat's record, and queues the order.
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["under_review"] is True
    assert queue(operator) == [(order["order_no"], "reserved")]
    # Placing it again with the same key answers the order, without payment parameters.
    again = citizen.order(shop["listing"]["id"], 100_000, key="mismatch")
    assert (again["order_no"], again["pay_params"]) == (order["order_no"], None)


def test_a_payment_heard_of_after_an_operator_resolved_the_order_changes_nothing(
        app, client, operator, shop, citizen, fake_wechat):
    listing_id = shop["listing"]["id"]
    order, notification = paid_unlike_the_order(fake_wechat, citizen, listing_id)
    citizen.get(f"/orders/{order['order_no']}")  # queued
    operator.ok(operator.post(f"/orders/{order['order_no']}/resolve", {"note": "refunded by hand"}))

    # WeChat's notification finally arrives (it was held back): acknowledged, and nothing is delivered.
    assert deliver(client, notification) == 200
    shown = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert (shown["status"], shown["certificate_no"], shown["under_review"]) == ("expired", None, False)
    assert available(client, listing_id) == 1_000_000 and queue(operator) == []


def abnormal_refund(fake_wechat, order_no: str, *, status: str = "ABNORMAL", **amount):
    """WeChat's refund notification for the order's refund, with this outcome (the payer's card was closed …) and,
    where ``amount`` says so, other money than WeChat recorded."""
    refund_no, record = next(iter(fake_wechat.refunds.items()))
    resource = {"mchid": fake_wechat.transactions[order_no]["mchid"], "out_trade_no": order_no,
                "transaction_id": record["transaction_id"], "out_refund_no": refund_no,
                "refund_id": record["refund_id"], "refund_status": status,
                "user_received_account": "招商银行信用卡0403",
                "amount": {"total": record["total"], "refund": record["refund"], "payer_total": record["total"],
                           "payer_refund": record["refund"], **amount}}
    return fake_wechat.notification(url=record["notify_url"], event_type=f"REFUND.{status}",
                                    original_type="refund", resource=resource, summary="退款异常")


def refunding_keep_order(citizen, fake_wechat, shop) -> dict:
    order = citizen.order(shop["listing"]["id"], 300_000, purpose="keep")
    fake_wechat.pay(order["order_no"])
    assert citizen.post(f"/orders/{order['order_no']}/refund").get_json()["status"] == "refunding"
    return order


def test_a_refund_wechat_could_not_make_waits_for_an_operator(app, client, runner, operator, shop, citizen,
                                                             fake_wechat):
    order = refunding_keep_order(citizen, fake_wechat, shop)
    assert deliver(client, abnormal_refund(fake_wechat, order["order_no"])) == 200  # heard; no need to resend

    assert queue(operator) == [(order["order_no"], "refunding")]
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["under_review"] is True
    sweep(runner)
    assert len(fake_wechat.refunds) == 1  # the sweeper does not ask WeChat to refund again

    resolved = operator.ok(operator.post(f"/orders/{order['order_no']}/resolve",
                                         {"note": "已在商户平台转账退款 (paid by hand to the payer's new card)"}))
    assert (resolved["status"], resolved["attention"]) == ("refunded", None)
    assert queue(operator) == []

    # Then WeChat's own refund goes through after all: the buyer has been refunded twice, and the operator is told.
    assert deliver(client, abnormal_refund(fake_wechat, order["order_no"], status="SUCCESS")) == 200
    [queued] = operator.ok(operator.get("/orders?attention=true"))["items"]
    assert queued["status"] == "refunded" and "refunded twice" in queued["attention"]
    operator.ok(operator.post(f"/orders/{order['order_no']}/resolve", {"note": "买家已退回多退的款项"}))
    assert queue(operator) == []


def test_a_refund_reported_for_less_than_the_order_is_refused_and_waits_for_an_operator(
        app, client, operator, shop, citizen, fake_wechat):
    """Her 3 kg cost 24 yuan; WeChat's signed notification says 23.99 yuan went back. Not refunded: queued."""
    order = refunding_keep_order(citizen, fake_wechat, shop)
    assert order["amount_fen"] == 2_400
    short = abnormal_refund(fake_wechat, order["order_no"], status="SUCCESS", refund=2_399, payer_refund=2_399)
    assert deliver(client, short) == 400  # refused: WeChat retries, and nothing is marked refunded
    [queued] = operator.ok(operator.get("/orders?attention=true"))["items"]
    assert (queued["order_no"], queued["status"]) == (order["order_no"], "refunding")
    assert "does not match" in queued["attention"] and "refunded 2399 fen" in queued["attention"]
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["under_review"] is True

    # The right one arriving afterwards settles the refund, and the operator still looks at the odd one.
    assert deliver(client, abnormal_refund(fake_wechat, order["order_no"], status="SUCCESS")) == 200
    [queued] = operator.ok(operator.get("/orders?attention=true"))["items"]
    assert (queued["status"], "does not match" in queued["attention"]) == ("refunded", True)
    operator.ok(operator.post(f"/orders/{order['order_no']}/resolve", {"note": "商户平台核对：全额 24.00 元已退"}))
    assert queue(operator) == []


def test_a_refund_of_another_payment_or_in_another_currency_is_refused_and_queued(client, operator, shop, citizen,
                                                                                fake_wechat):
    order = refunding_keep_order(citizen, fake_wechat, shop)
    for odd, named in (({"total": 9_999}, "9999 fen payment"), ({"currency": "USD"}, "'USD'")):
        assert deliver(client, abnormal_refund(fake_wechat, order["order_no"], status="SUCCESS", **odd)) == 400
        [queued] = operator.ok(operator.get("/orders?attention=true"))["items"]
        assert queued["status"] == "refunding" and named in queued["attention"], queued


def test_an_abnormal_refund_that_wechat_completes_leaves_the_queue_by_itself(client, operator, shop, citizen,
                                                                           fake_wechat):
    order = refunding_keep_order(citizen, fake_wechat, shop)
    deliver(client, abnormal_refund(fake_wechat, order["order_no"]))
    assert queue(operator) == [(order["order_no"], "refunding")]
    # The merchant retried it on the platform and it went through: WeChat's SUCCESS settles it.
    assert deliver(client, abnormal_refund(fake_wechat, order["order_no"], status="SUCCESS")) == 200
    shown = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert (shown["status"], shown["under_review"]) == ("refunded", False)
    assert queue(operator) == []


def test_resolving_needs_a_note_and_an_order_in_the_queue(operator, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    refused(operator.post(f"/orders/{order['order_no']}/resolve", {}), 400, field="note")
    refused(operator.post(f"/orders/{order['order_no']}/resolve", {"note": ""}), 400, field="note")
    refused(operator.post(f"/orders/{order['order_no']}/resolve", {"note": "x"}), 409, "nothing_to_resolve")
    refused(operator.post("/orders/TH2026031200000000000X/resolve", {"note": "x"}), 404)
