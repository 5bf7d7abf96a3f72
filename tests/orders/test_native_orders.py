"""WeChat Pay Native, an organisation's channel: the clerk of 南靖县人民法院 orders a defendant's restoration on a PC,
the screen shows a QR code, the defendant scans it with WeChat and pays. The notification fulfils the order as a
mini-program payment would: the credits retire for the case, with a certificate, and the case moves on.

An order nobody scans is released at its deadline, once WeChat confirms nobody paid; a notification with other money
than the order's changes nothing.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from backend import certificates, jobs, wechat
from backend.db import read
from backend.errors import NotFound
from backend.orders import workflow
from backend.orders.models import Order, PaymentNotification
from backend.wechat.errors import WeChatUnavailable
from backend.wechat.fake import CODE_URL_PREFIX, derived_id
from backend.wechat.pay import Pay
from tests.scenarios.judicial.conftest import PRICE_FEN_PER_T, court, key, open_case

REQUIRED_G = 95_000_000  # 47.07 t × 2, rounded up to the whole tonne
HALF_G = 47_500_000


def place(app, court_, case: dict, listing: int, quantity_g: int, *, payer: int = 0, channel: str = "native",
          idempotency_key: str | None = None, ttl_seconds: int = 900) -> dict:
    """What the court's PC page does when the clerk chooses 微信扫码支付: the order, and the code to show."""
    with app.app_context():
        return workflow.place_for_organisation(
            wechat.pay(), app.config["CLOCK"], org_id=court_.id, actor=court_.clerk.actor, channel=channel,
            idempotency_key=idempotency_key or key("native"), listing_id=listing, quantity_g=quantity_g,
            purpose="judicial", reference={"claim_code": case["payers"][payer]["claim_code"]},
            ttl_seconds=ttl_seconds)


def sweep(app) -> workflow.SweepReport:
    with app.app_context():
        return workflow.sweep(wechat.pay(), app.config["CLOCK"], certificates.certify())


def order_row(app, order_no: str) -> Order:
    with app.app_context():
        return read(lambda s: s.execute(select(Order).where(Order.order_no == order_no)).scalar_one())


def case_of(client, court_, case: dict) -> dict:
    return court_.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()


def test_two_defendants_scan_the_courts_codes_and_the_case_is_restored(app, client, nanjing_court, county_listing,
                                                                      fake_wechat):
    case = open_case(client, nanjing_court, payers=[{"name": "张三", "share_percent": "50"},
                                                    {"name": "李四", "share_percent": "50"}])

    # The clerk orders 张三's half: a code_url for the screen, nothing paid yet, his half held for him.
    first = place(app, nanjing_court, case, county_listing, HALF_G)
    assert (first["status"], first["channel"], first["purpose"]) == ("reserved", "native", "judicial")
    assert first["amount_fen"] == HALF_G * PRICE_FEN_PER_T // 1_000_000
    assert first["placed_by"] == nanjing_court.clerk.actor and first["org_id"] == nanjing_court.id
    assert first["code_url"].startswith(CODE_URL_PREFIX)
    at_wechat = fake_wechat.transactions[first["order_no"]]
    assert (at_wechat["trade_type"], at_wechat["total"], at_wechat["openid"]) == ("NATIVE", first["amount_fen"], None)
    assert at_wechat["time_expire"] == "2026-03-12T17:15:00+08:00"  # the order's deadline, in Beijing time
    assert order_row(app, first["order_no"]).prepay_id == first["code_url"]  # kept where a prepay_id is kept
    assert case_of(client, nanjing_court, case)["owed_g"] == HALF_G  # the other half

    # The PC page draws the code; WeChat's scanner reads back exactly the code_url.
    png = workflow.native_qr_png(first["code_url"])
    [scanned] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert scanned.text == first["code_url"]

    # 张三 scans and pays; WeChat's notification reaches the app and the order is fulfilled.
    app.config["CLOCK"].advance(minutes=3)
    notification = fake_wechat.pay(first["order_no"], scanned_by="zhangsan")
    assert notification in fake_wechat.notifications
    with app.app_context():
        done = read(lambda s: s.get(PaymentNotification, json.loads(notification.body)["id"]))
    assert done is not None and done.outcome == "fulfilled"
    paid = order_row(app, first["order_no"])
    assert (paid.status, paid.transaction_id) == ("fulfilled", fake_wechat.transactions[first["order_no"]]
                                                  ["transaction_id"])
    assert fake_wechat.transaction(first["order_no"])["payer"] == {
        "openid": derived_id("o", fake_wechat.appid, "zhangsan")}
    halfway = case_of(client, nanjing_court, case)
    assert (halfway["status"], halfway["paid_g"], halfway["owed_g"]) == ("partially_paid", HALF_G, HALF_G)
    [certificate] = halfway["certificates"]
    assert certificate["channel"] == "native" and certificate["quantity_g"] == HALF_G
    shown = client.get(f"/api/v1/certificates/{certificate['certificate_no']}").get_json()
    assert shown["payload"]["purpose"] == "judicial" and shown["payload"]["purpose_ref"] == "(2024)闽0627刑初***号"

    # 李四 pays his half the same way: the case is restored and the court gets its witness certificate.
    second = place(app, nanjing_court, case, county_listing, HALF_G, payer=1)
    assert second["code_url"] != first["code_url"]
    fake_wechat.pay(second["order_no"], scanned_by="lisi")
    restored = case_of(client, nanjing_court, case)
    assert (restored["status"], restored["paid_g"], restored["owed_g"]) == ("restored", REQUIRED_G, 0)
    assert restored["witness_certificate_no"]
    assert {c["channel"] for c in restored["certificates"]} == {"native"}


def test_the_same_request_answers_the_same_order_and_code_and_none_once_paid(app, client, nanjing_court,
                                                                            county_listing, fake_wechat):
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G, idempotency_key="court-pc-1")
    again = place(app, nanjing_court, case, county_listing, REQUIRED_G, idempotency_key="court-pc-1")
    assert (again["order_no"], again["code_url"]) == (placed["order_no"], placed["code_url"])
    assert fake_wechat.calls.count(("POST", "/v3/pay/transactions/native")) == 1

    fake_wechat.pay(placed["order_no"])
    after = place(app, nanjing_court, case, county_listing, REQUIRED_G, idempotency_key="court-pc-1")
    assert (after["order_no"], after["status"], after["code_url"]) == (placed["order_no"], "fulfilled", None)
    assert after["certificate_no"]
    assert case_of(client, nanjing_court, case)["status"] == "restored"


def test_an_unscanned_native_order_is_released_once_wechat_confirms_nobody_paid(app, client, nanjing_court,
                                                                              county_listing, fake_wechat):
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G)
    assert case_of(client, nanjing_court, case)["owed_g"] == 0  # held for the order while it can be paid

    app.config["CLOCK"].advance(minutes=14)
    assert sweep(app).expired == 0  # not due yet: WeChat is not even asked
    assert ("GET", f"/v3/pay/transactions/out-trade-no/{placed['order_no']}") not in fake_wechat.calls

    app.config["CLOCK"].advance(minutes=1)  # the deadline
    fake_wechat.calls.clear()
    report = sweep(app)
    assert (report.expired, report.failed, report.for_operator) == (1, [], [])
    order_path = f"/v3/pay/transactions/out-trade-no/{placed['order_no']}"
    assert [call for call in fake_wechat.calls if call[1].startswith(order_path)] == [
        ("GET", order_path), ("POST", f"{order_path}/close"), ("GET", order_path)]  # asked, closed, asked again
    assert fake_wechat.transactions[placed["order_no"]]["trade_state"] == "CLOSED"
    assert order_row(app, placed["order_no"]).status == "expired"
    released = case_of(client, nanjing_court, case)
    assert (released["status"], released["owed_g"], released["paid_g"]) == ("ordered", REQUIRED_G, 0)

    # The code on the screen is no longer offered, and nobody can pay it at WeChat.
    shown = place(app, nanjing_court, case, county_listing, REQUIRED_G,
                  idempotency_key=order_row(app, placed["order_no"]).idempotency_key)
    assert (shown["status"], shown["code_url"]) == ("expired", None)


def test_a_native_order_paid_at_the_last_moment_is_settled_by_the_sweeper_not_released(
        app, client, nanjing_court, county_listing, fake_wechat):
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G)
    app.config["CLOCK"].advance(minutes=14, seconds=50)
    fake_wechat.pay(placed["order_no"], deliver=False)  # paid in time; the notification is lost
    app.config["CLOCK"].advance(seconds=10)
    report = sweep(app)
    assert (report.settled, report.expired) == (1, 0)
    assert ("POST", f"/v3/pay/transactions/out-trade-no/{placed['order_no']}/close") not in fake_wechat.calls
    assert order_row(app, placed["order_no"]).status == "fulfilled"
    assert case_of(client, nanjing_court, case)["status"] == "restored"


def test_a_native_notification_for_other_money_than_the_order_is_refused(app, client, nanjing_court, county_listing,
                                                                         fake_wechat):
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G)
    genuine = fake_wechat.pay(placed["order_no"], deliver=False)
    resource = fake_wechat.transaction(placed["order_no"])
    assert resource["trade_type"] == "NATIVE"
    for total in (resource["amount"]["total"] - 1, resource["amount"]["total"] + 1):
        forged = fake_wechat.notification(
            url=genuine.url, event_type="TRANSACTION.SUCCESS", original_type="transaction", summary="支付成功",
            resource={**resource, "amount": {**resource["amount"], "total": total, "payer_total": total}})
        refused = client.post("/api/pay/wechat/notify", data=forged.body, headers=forged.headers)
        assert refused.status_code == 400 and refused.get_json()["code"] == "FAIL"
    row = order_row(app, placed["order_no"])
    assert (row.status, row.transaction_id, row.retirement_id) == ("reserved", None, None)
    with app.app_context():
        assert read(lambda s: s.execute(select(PaymentNotification)).scalars().all()) == []
    assert case_of(client, nanjing_court, case)["paid_g"] == 0

    delivered = client.post("/api/pay/wechat/notify", data=genuine.body, headers=genuine.headers)
    assert delivered.get_json() == {"code": "SUCCESS", "message": "成功"}
    assert order_row(app, placed["order_no"]).status == "fulfilled"


def test_the_pc_page_polling_finds_a_payment_whose_notification_was_lost(app, client, operator, nanjing_court,
                                                                         county_listing, fake_wechat):
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G)

    def poll(org_id: int = nanjing_court.id) -> dict:
        with app.app_context():
            return workflow.organisation_order_status(wechat.pay(), app.config["CLOCK"], certificates.certify(),
                                                      order_no=placed["order_no"], org_id=org_id,
                                                      query_interval_seconds=5)

    waiting = poll()
    assert (waiting["status"], waiting["code_url"]) == ("reserved", placed["code_url"])
    fake_wechat.pay(placed["order_no"], deliver=False)
    assert poll()["status"] == "reserved"  # asked WeChat a moment ago: the next ask waits its turn
    app.config["CLOCK"].advance(seconds=5)
    done = poll()
    assert (done["status"], done["code_url"]) == ("fulfilled", None) and done["certificate_no"]

    other = court(operator, app, "平和县人民法院", 3)
    with pytest.raises(NotFound):
        poll(other.id)


def test_an_offline_order_has_no_code_and_never_reaches_wechat(app, client, nanjing_court, county_listing,
                                                               fake_wechat):
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G, channel="offline", ttl_seconds=86_400)
    assert (placed["channel"], placed["status"], placed["code_url"]) == ("offline", "reserved", None)
    assert not [call for call in fake_wechat.calls if call[1].startswith("/v3/")]


def test_a_native_order_is_given_no_longer_than_its_code_lives(app, client, nanjing_court, county_listing,
                                                              fake_wechat):
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G, ttl_seconds=6 * 86_400)
    assert datetime.fromisoformat(placed["expires_at"].replace("Z", "+00:00")) == \
        app.config["CLOCK"]() + timedelta(hours=2)
    assert fake_wechat.transactions[placed["order_no"]]["time_expire"] == "2026-03-12T19:00:00+08:00"


def test_no_code_is_made_in_the_last_minute_before_the_deadline(app, client, monkeypatch, nanjing_court,
                                                               county_listing, fake_wechat):
    case = open_case(client, nanjing_court)

    def unreachable(self, **_):
        raise WeChatUnavailable("微信支付暂不可用，请稍后再试 (WeChat Pay native prepay unreachable)")

    with monkeypatch.context() as down:
        down.setattr(Pay, "prepay_native", unreachable)
        with pytest.raises(WeChatUnavailable):
            place(app, nanjing_court, case, county_listing, REQUIRED_G, idempotency_key="court-pc-2")
    order_no = _only_order(app).order_no
    assert order_row(app, order_no).prepay_id is None  # the order and its reservation stay: the retry asks again

    app.config["CLOCK"].advance(minutes=14, seconds=30)  # too near the deadline: the sweeper may be closing it
    late = place(app, nanjing_court, case, county_listing, REQUIRED_G, idempotency_key="court-pc-2")
    assert (late["order_no"], late["status"], late["code_url"]) == (order_no, "reserved", None)
    assert ("POST", "/v3/pay/transactions/native") not in fake_wechat.calls

    app.config["CLOCK"].advance(seconds=30)
    assert sweep(app).expired == 1  # WeChat never heard of it: nobody can have paid
    assert case_of(client, nanjing_court, case)["owed_g"] == REQUIRED_G


def _only_order(app) -> Order:
    with app.app_context():
        return read(lambda s: s.execute(select(Order)).scalar_one())


def test_a_native_payment_queues_no_follow_up_that_fails_for_want_of_a_citizen(app, client, nanjing_court,
                                                                              county_listing, fake_wechat):
    """A citizen's paid order updates their board score and sends them a WeChat message; an organisation has
    neither, and its paid order must not leave jobs that fail (and pile up as dead letters) looking for one."""
    app.config["WECHAT_CERTIFICATE_TEMPLATE_ID"] = "TPL-certificate-ready"
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G)
    fake_wechat.pay(placed["order_no"])
    assert order_row(app, placed["order_no"]).status == "fulfilled"
    jobs.drain(app)
    with app.app_context():
        assert jobs.status()["dead"] == 0 and jobs.status()["later"] == 0, jobs.dead_letters()
    assert fake_wechat.subscribe_messages == []


def test_a_native_payment_for_a_case_closed_meanwhile_goes_back_through_wechat(app, client, nanjing_court,
                                                                             county_listing, fake_wechat):
    case = open_case(client, nanjing_court)
    placed = place(app, nanjing_court, case, county_listing, REQUIRED_G)
    closed = nanjing_court.api(client).post(f"/api/org/v1/cases/{case['id']}/close",
                                            {"reason": "判决改为补种复绿 (restoration in kind ordered instead)"})
    assert closed.status_code == 200, closed.get_json()

    fake_wechat.pay(placed["order_no"])  # the defendant had the code on screen and paid anyway
    refunding = order_row(app, placed["order_no"])
    assert (refunding.status, refunding.refund_reason, refunding.retirement_id) == ("refunding", "no_longer_owed",
                                                                                   None)
    assert refunding.refund_id is None  # decided here; WeChat is asked by the sweeper, outside the notification
    report = sweep(app)
    assert (report.refunds_sent, report.failed) == (1, [])
    [refund] = fake_wechat.refunds.values()
    assert (refund["out_trade_no"], refund["refund"]) == (placed["order_no"], placed["amount_fen"])
    fake_wechat.settle_refund(refund["out_refund_no"])
    assert order_row(app, placed["order_no"]).status == "refunded"
    assert case_of(client, nanjing_court, case)["paid_g"] == 0
