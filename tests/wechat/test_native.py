"""WeChat Pay Native (a QR code on a PC screen): the fake's /v3/pay/transactions/native refuses what WeChat refuses,
answers a code_url, and pays, queries, closes and notifies a Native order like a JSAPI one — except that nobody is
its payer until someone scans the code. ``Pay.prepay_native`` is the app's side of it.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from wechatpayv3 import WeChatPayType

from backend.wechat.errors import WeChatUnavailable
from backend.wechat.fake import BEIJING, CODE_URL_PREFIX, FakeWeChat, FakeWeChatError, derived_id
from backend.wechat.pay import Pay, PayCredentials
from tests.wechat.test_fake import NOTIFY_URL, OPENID, clock, decrypted, fake, place, wxpay  # noqa: F401

DESCRIPTION = "碳汇+ 林草碳汇 94.14 吨 (NJ-2023-01)"


def native(wxpay, out_trade_no: str, total: int = 564_840, **extra) -> tuple[int, dict]:
    status, text = wxpay.pay(description=extra.pop("description", DESCRIPTION), out_trade_no=out_trade_no,
                             amount={"total": total, "currency": "CNY"}, pay_type=WeChatPayType.NATIVE, **extra)
    return status, json.loads(text)


def app_pay(fake: FakeWeChat) -> Pay:
    """The app's adapter, built as backend.wechat builds it against the fake."""
    return Pay(PayCredentials(appid=fake.appid, mchid=fake.mchid, private_key_pem=fake.merchant_private_key_pem,
                              cert_serial_no=fake.merchant_serial_no, apiv3_key=fake.apiv3_key,
                              public_key_pem=fake.platform_public_key_pem, public_key_id=fake.public_key_id,
                              gateway=fake.url, notify_url=NOTIFY_URL))


def test_a_native_order_answers_a_code_url_again_for_the_same_order_and_refuses_another(fake, wxpay):
    status, first = native(wxpay, "TH20260312000000000001")
    assert status == 200 and list(first) == ["code_url"]
    assert first["code_url"].startswith(CODE_URL_PREFIX) and len(first["code_url"]) == len(CODE_URL_PREFIX) + 7
    assert ("POST", "/v3/pay/transactions/native") in fake.calls
    assert native(wxpay, "TH20260312000000000001") == (200, first)
    conflict = (400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"})
    assert native(wxpay, "TH20260312000000000001", total=564_841) == conflict
    assert native(wxpay, "TH20260312000000000001", description="另一件商品") == conflict
    # out_trade_no is unique per merchant, whatever kind of order took it
    assert place(wxpay, "TH20260312000000000001", total=564_840) == conflict
    place(wxpay, "TH20260312000000000002")
    assert native(wxpay, "TH20260312000000000002", total=100) == conflict
    record = fake.transactions["TH20260312000000000001"]
    assert (record["trade_type"], record["trade_state"], record["openid"]) == ("NATIVE", "NOTPAY", None)


@pytest.mark.parametrize(("extra", "field"), [
    ({"appid": "wx0000000000000002"}, "appid"),     # an app not bound to the merchant
    ({"mchid": "1999999999"}, "appid"),             # another merchant in the body than in the signature
    ({"out_trade_no": "T1"}, "out_trade_no"),       # 6–32 characters
    ({"out_trade_no": "TH2026 0312"}, "out_trade_no"),
    ({"description": "碳" * 43}, "description"),    # 129 UTF-8 bytes, over WeChat's 127
    ({"total": 0}, "amount.total"),
    ({"amount": {"total": 100, "currency": "USD"}}, "amount.currency"),
    ({"notify_url": "http://tanhui.example.cn/api/pay/wechat/notify"}, "notify_url"),
    ({"notify_url": "https://tanhui.example.cn/api/pay/wechat/notify?o=1"}, "notify_url"),
    ({"notify_url": "http://127.0.0.1:5000/api/pay/wechat/notify"}, "notify_url"),  # unless the app allows loopback
    ({"time_expire": "2026-03-12 17:15:00"}, "time_expire"),
    ({"attach": "x" * 129}, "attach"),
])
def test_the_native_prepay_names_the_field_wechat_refuses(fake, wxpay, extra, field):
    fields = {"description": DESCRIPTION, "out_trade_no": "TH20260312000000000003",
              "amount": {"total": extra.pop("total", 100), "currency": "CNY"}, **extra}
    status, text = wxpay.pay(pay_type=WeChatPayType.NATIVE, **fields)
    answer = json.loads(text)
    assert (status, answer["code"]) == (400, "PARAM_ERROR")
    assert answer["message"].startswith(field if field != "appid" else "appid和mch_id不匹配")
    assert fake.transactions == {}


def test_a_native_order_needs_no_payer_and_is_paid_by_whoever_scans_it(fake, wxpay, clock):
    native(wxpay, "TH20260312000000000004", time_expire="2026-03-12T17:30:00+08:00")
    status, text = wxpay.query(out_trade_no="TH20260312000000000004")
    unpaid = json.loads(text)
    assert (status, unpaid["trade_type"], unpaid["trade_state"]) == (200, "NATIVE", "NOTPAY")
    assert "payer" not in unpaid and "transaction_id" not in unpaid

    clock.advance(minutes=4)
    notification = fake.pay("TH20260312000000000004", deliver=False, scanned_by="zhang-san")
    paid = json.loads(wxpay.query(out_trade_no="TH20260312000000000004")[1])
    assert (paid["trade_type"], paid["trade_state"], paid["appid"]) == ("NATIVE", "SUCCESS", fake.appid)
    assert paid["payer"] == {"openid": derived_id("o", fake.appid, "zhang-san")}  # the scanner, as in the app
    assert paid["amount"] == {"total": 564_840, "payer_total": 564_840, "currency": "CNY", "payer_currency": "CNY"}
    envelope = decrypted(wxpay, notification)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS" and envelope["resource"] == paid
    assert notification.url == NOTIFY_URL


def test_only_a_native_order_is_paid_by_a_scanner(fake, wxpay):
    place(wxpay, "TH20260312000000000005")
    with pytest.raises(FakeWeChatError, match="JSAPI"):
        fake.pay("TH20260312000000000005", deliver=False, scanned_by="zhang-san")


def test_a_native_order_cannot_be_paid_after_its_deadline_or_once_its_code_lapses(fake, wxpay, clock):
    deadline = (clock() + timedelta(minutes=15)).astimezone(BEIJING).isoformat()
    native(wxpay, "TH20260312000000000006", time_expire=deadline)
    native(wxpay, "TH20260312000000000007", time_expire="2026-03-13T17:00:00+08:00")  # a day: the code lapses first
    clock.advance(minutes=15)
    with pytest.raises(FakeWeChatError, match="expired"):
        fake.pay("TH20260312000000000006", deliver=False)
    clock.advance(hours=1, minutes=45)  # two hours after the prepay
    with pytest.raises(FakeWeChatError, match="lapsed"):
        fake.pay("TH20260312000000000007", deliver=False)


def test_closing_an_unpaid_native_order(fake, wxpay):
    native(wxpay, "TH20260312000000000009")
    status, _ = wxpay.close(out_trade_no="TH20260312000000000009")
    assert status == 204
    closed = json.loads(wxpay.query(out_trade_no="TH20260312000000000009")[1])
    assert (closed["trade_type"], closed["trade_state"]) == ("NATIVE", "CLOSED")
    with pytest.raises(FakeWeChatError, match="CLOSED"):
        fake.pay("TH20260312000000000009", deliver=False)
    assert native(wxpay, "TH20260312000000000009") == (400, {"code": "ORDER_CLOSED", "message": "订单已关闭"})


# ---------------------------------------------------------------------------------------------- the app's adapter


def test_the_adapter_gets_the_code_url_and_retries_safely(fake, clock):
    pay = app_pay(fake)
    expires = clock() + timedelta(minutes=15)
    code_url = pay.prepay_native(order_no="TH20260312000000000010", description=DESCRIPTION, amount_fen=564_840,
                                 expires_at=expires)
    assert code_url == fake.transactions["TH20260312000000000010"]["code_url"]
    assert fake.transactions["TH20260312000000000010"]["time_expire"] == "2026-03-12T17:15:00+08:00"
    assert pay.prepay_native(order_no="TH20260312000000000010", description=DESCRIPTION, amount_fen=564_840,
                             expires_at=expires) == code_url


def test_the_adapter_turns_a_refusal_into_wechat_unavailable(fake, clock):
    with pytest.raises(WeChatUnavailable) as refused:
        app_pay(fake).prepay_native(order_no="TH20260312000000000011", description="碳" * 43, amount_fen=100,
                                    expires_at=clock() + timedelta(minutes=15))
    assert refused.value.details == {"wechat_code": "PARAM_ERROR", "status": 400}


@pytest.mark.parametrize("code_url", [
    "weixin://wxpay/bizpayurl?pr=" + "x" * 37,  # 65 characters: more than WeChat documents, more than we store
    "https://example.com/pay",                   # not a weixin:// link at all
    "weixin://wxpay/bizpayurl?pr=a b",
])
def test_the_adapter_refuses_a_code_url_it_could_not_store_or_show(fake, clock, monkeypatch, code_url):
    monkeypatch.setattr(FakeWeChat, "_code_url", staticmethod(lambda: code_url))
    with pytest.raises(WeChatUnavailable, match="code_url"):
        app_pay(fake).prepay_native(order_no="TH20260312000000000012", description=DESCRIPTION, amount_fen=100,
                                    expires_at=clock() + timedelta(minutes=15))


def test_the_longest_code_url_wechat_documents_is_taken(fake, clock, monkeypatch):
    longest = "weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=" + "0" * 17  # 64 characters
    monkeypatch.setattr(FakeWeChat, "_code_url", staticmethod(lambda: longest))
    assert len(longest) == 64
    assert app_pay(fake).prepay_native(order_no="TH20260312000000000013", description=DESCRIPTION,
                                       amount_fen=100, expires_at=clock() + timedelta(minutes=15)) == longest
