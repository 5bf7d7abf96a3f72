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


def test_a_payment_unlike_the_order_waits_for_an_operator_who_refunds_it_by_hand(
        app, client, runner, operator, shop, citizen, fake_wechat):
    listing_id = shop["listing"]["id"]
    order = citizen.order(listing_id, 100_000)  # 8 yuan
    fake_wechat.pay(order["order_no"], deliver=False)
    fake_wechat.transactions[order["order_no"]]["total"] = 1  # WeChat's record says 1 fen was paid
    app.config["CLOCK"].advance(minutes=25)  # past the deadline and the ledger's grace

    # The sweeper finds the payment, refuses to deliver against it, and queues the order instead of failing.
    assert "1 queued for an operator" in sweep(runner)
    assert queue(operator) == [(order["order_no"], "reserved")]
    shown = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert shown["status"] == "reserved" and "does not match" in shown["attention"]
    assert available(client, listing_id) == 900_000  # held until someone decides
    # From now on the sweeper leaves it alone.
    assert sweep(runner).startswith("0 expired, 0 found paid, 0 refunds sent to WeChat\n")

    # The operator refunds the payment on the merchant platform, then closes the order: the credits go back on sale.
    resolved = operator.ok(operator.post(f"/orders/{order['order_no']}/resolve",
                                         {"note": "商户平台全额退款 50300000000000 (refunded by hand)"}))
    assert (resolved["status"], resolved["attention"], resolved["certificate_no"]) == ("expired", None, None)
    assert available(client, listing_id) == 1_000_000
    assert queue(operator) == []
    refused(operator.post(f"/orders/{order['order_no']}/resolve", {"note": "again"}), 409, "nothing_to_resolve")
    with app.app_context():
        trail = read(lambda s: [(e.action, e.actor, (e.after or {}).get("note")) for e in s.execute(
            select(AuditEvent).where(AuditEvent.object_id == order["order_no"]).order_by(AuditEvent.seq)).scalars()])
    assert trail[-2:] == [("order.attention", "sweeper", None),
                          ("order.resolved", "operator", "商户平台全额退款 50300000000000 (refunded by hand)")]


def test_a_refund_wechat_could_not_make_waits_for_an_operator(app, client, runner, operator, shop, citizen,
                                                             fake_wechat):
    order = citizen.order(shop["listing"]["id"], 300_000, purpose="keep")
    fake_wechat.pay(order["order_no"])
    assert citizen.post(f"/orders/{order['order_no']}/refund").get_json()["status"] == "refunding"
    refund_no, record = next(iter(fake_wechat.refunds.items()))

    # The payer's bank card was closed: WeChat reports the refund ABNORMAL.
    resource = {"mchid": fake_wechat.transactions[order["order_no"]]["mchid"], "out_trade_no": order["order_no"],
                "transaction_id": record["transaction_id"], "out_refund_no": refund_no,
                "refund_id": record["refund_id"], "refund_status": "ABNORMAL",
                "user_received_account": "招商银行信用卡0403",
                "amount": {"total": record["total"], "refund": record["refund"], "payer_total": record["total"],
                           "payer_refund": record["refund"]}}
    abnormal = fake_wechat.notification(url=record["notify_url"], event_type="REFUND.ABNORMAL",
                                        original_type="refund", resource=resource, summary="退款异常")
    answer = client.post(urlsplit(abnormal.url).path, data=abnormal.body, headers=abnormal.headers)
    assert answer.status_code == 200  # heard and recorded; WeChat need not send it again

    assert queue(operator) == [(order["order_no"], "refunding")]
    assert "ABNORMAL" in citizen.get(f"/orders/{order['order_no']}").get_json()["attention"]
    assert "0 refunds sent" in sweep(runner)

    resolved = operator.ok(operator.post(f"/orders/{order['order_no']}/resolve",
                                         {"note": "已在商户平台转账退款 (paid by hand to the payer's new card)"}))
    assert (resolved["status"], resolved["attention"]) == ("refunded", None)
    assert queue(operator) == []


def test_resolving_needs_a_note_and_an_order_in_the_queue(operator, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    refused(operator.post(f"/orders/{order['order_no']}/resolve", {}), 400, field="note")
    refused(operator.post(f"/orders/{order['order_no']}/resolve", {"note": ""}), 400, field="note")
    refused(operator.post(f"/orders/{order['order_no']}/resolve", {"note": "x"}), 409, "nothing_to_resolve")
    refused(operator.post("/orders/TH2026031200000000000X/resolve", {"note": "x"}), 404)
