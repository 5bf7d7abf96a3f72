"""The fake WeChat, driven through the real client libraries: wechatpy for the mini-program APIs and wechatpayv3
(public-key mode, response signatures verified) for WeChat Pay. If these pass, the app's adapters talk to the
fake exactly as they would to WeChat.

A refusal is WeChat's documented answer (an errcode, or a 4xx with its code), asserted exactly; a crash of the fake
(a 500, recorded in ``fake.crashes``) fails the test that caused it, whatever that test asserted.
"""

from __future__ import annotations

import functools
import io
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException

from backend.wechat.fake import BEIJING, FakeWeChat, FakeWeChatError, Notification, rsa_verify
from tests.conftest import FakeClock

NOTIFY_URL = "https://tanhui.example.cn/api/pay/wechat/notify"  # delivered by hand or by `sender`, never POSTed
OPENID = "oFakeOpenid000000000000000001"


@functools.cache
def stranger_key() -> rsa.RSAPrivateKey:
    """A key WeChat never issued, for forged notifications and a merchant signing with the wrong key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def stranger_key_pem() -> str:
    return stranger_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 2026-03-12 09:00 UTC, 17:00 in Beijing


@pytest.fixture
def fake(clock):
    wechat = FakeWeChat(clock=clock).start()
    yield wechat
    wechat.close()
    assert wechat.crashes == [], wechat.crashes  # a 500 is the fake's bug, never a refusal


def mini_client(fake: FakeWeChat, secret: str | None = None) -> WeChatClient:
    """wechatpy's client with its hard-coded URLs pointed at the fake (the app's adapter does the same)."""

    class FakeBackedClient(WeChatClient):
        API_BASE_URL = fake.url + "/cgi-bin/"

        def fetch_access_token(self):
            return self._fetch_access_token(url=fake.url + "/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})

    client = FakeBackedClient(fake.appid, secret or fake.secret, timeout=5)
    client.wxa.API_BASE_URL = fake.url + "/"
    return client


def pay_client(fake: FakeWeChat, private_key_pem: str | None = None, public_key_pem: str | None = None) -> WeChatPay:
    wxpay = WeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=fake.mchid,
                      private_key=private_key_pem or fake.merchant_private_key_pem,
                      cert_serial_no=fake.merchant_serial_no, appid=fake.appid, apiv3_key=fake.apiv3_key,
                      notify_url=NOTIFY_URL, public_key=public_key_pem or fake.platform_public_key_pem,
                      public_key_id=fake.public_key_id)
    assert wxpay._core._gate_way == "https://api.mch.weixin.qq.com"  # the private attribute the adapter sets
    wxpay._core._gate_way = fake.url
    return wxpay


@pytest.fixture
def wxpay(fake) -> WeChatPay:
    return pay_client(fake)


def place(wxpay: WeChatPay, out_trade_no: str, total: int = 100, **extra) -> tuple[int, dict]:
    status, text = wxpay.pay(description="碳汇+ 认购 1 吨", out_trade_no=out_trade_no,
                             amount={"total": total, "currency": "CNY"}, payer={"openid": OPENID}, **extra)
    return status, json.loads(text)


def decrypted(wxpay: WeChatPay, notification: Notification) -> dict | None:
    """What wechatpayv3 makes of a notification: the envelope with the plaintext resource, or None if refused.

    Anything it raises propagates: a library that crashes on a forgery has not refused it (the app must catch
    that itself, see backend/wechat/pay.py), and a test must say which of the two it expects.
    """
    return wxpay.callback(notification.headers, notification.body)


# ---------------------------------------------------------------------------------------------- mini-program


def test_each_login_gets_a_fresh_code_and_one_person_is_one_openid(fake):
    client = mini_client(fake)
    codes = [fake.login_code(person) for person in ("alice", "alice", "bob")]
    assert len(set(codes)) == 3 and all(len(code) == 32 for code in codes)
    first, again, bob = (client.wxa.code_to_session(code) for code in codes)
    assert first["openid"] == again["openid"] != bob["openid"]
    assert len(first["openid"]) == 28 and first["openid"].startswith("o")
    assert first["session_key"] != again["session_key"]
    assert fake.calls[0] == ("GET", "/cgi-bin/token")  # wechatpy fetches a token even for jscode2session
    assert fake.calls.count(("GET", "/cgi-bin/token")) == 1


def test_no_unionid_unless_the_app_is_bound_to_an_open_platform_account(fake):
    client = mini_client(fake)
    assert "unionid" not in client.wxa.code_to_session(fake.login_code("alice"))
    fake.bound_to_open_platform = True
    first, again, bob = (client.wxa.code_to_session(fake.login_code(person)) for person in ("alice", "alice", "bob"))
    assert first["unionid"] == again["unionid"] != bob["unionid"]


def login_refusal(fake: FakeWeChat, code: str) -> tuple[int, str]:
    with pytest.raises(WeChatClientException) as refused:
        mini_client(fake).wxa.code_to_session(code)
    return refused.value.errcode, refused.value.errmsg


def test_a_login_code_works_once(fake):
    code = fake.login_code("alice")
    assert mini_client(fake).wxa.code_to_session(code)["openid"]
    assert login_refusal(fake, code) == (40163, "code been used")


def test_a_login_code_lapses_after_five_minutes(fake, clock):
    in_time, too_late = fake.login_code("alice"), fake.login_code("alice")
    clock.advance(minutes=5)
    assert mini_client(fake).wxa.code_to_session(in_time)["openid"]
    clock.advance(seconds=1)
    assert login_refusal(fake, too_late) == (40029, "invalid code")


@pytest.mark.parametrize("code", ["bad code!", "x" * 65, "never-issued-by-wx-login"])
def test_a_code_wx_login_never_issued_is_40029(fake, code):
    assert login_refusal(fake, code)[0] == 40029


def test_token_needs_the_right_secret_and_every_api_needs_a_token(fake):
    with pytest.raises(WeChatClientException) as refused:
        mini_client(fake, secret="0" * 32).fetch_access_token()
    assert refused.value.errcode == 40125
    answer = requests.post(fake.url + "/wxa/msg_sec_check?access_token=made-up", json={}, timeout=5).json()
    assert answer["errcode"] == 40001
    answer = requests.get(fake.url + "/cgi-bin/token", timeout=5, params={
        "grant_type": "client_credential", "appid": "wx0000000000000000", "secret": fake.secret}).json()
    assert answer["errcode"] == 40013


def test_fail_next_fails_only_the_next_call(fake):
    client = mini_client(fake)
    code = fake.login_code("alice")
    fake.fail_next("/sns/jscode2session", 45011, "api minute-quota reach limit mustslower retry next minute")
    with pytest.raises(WeChatClientException) as refused:
        client.wxa.code_to_session(code)
    assert (refused.value.errcode, refused.value.errmsg) == (45011, "api minute-quota reach limit mustslower "
                                                                    "retry next minute")
    assert client.wxa.code_to_session(code)["openid"]  # the refused call did not spend the code


def test_a_mini_program_code_is_a_scannable_jpeg(fake):
    response = mini_client(fake).wxa.get_wxa_code_unlimited("sku=42&u=7", width=430, page="pages/shop/item")
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.content.startswith(b"\xff\xd8\xff")
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG" and 280 <= image.width <= 600
    [code] = zxingcpp.read_barcodes(image.convert("L"))
    assert code.text == "pages/shop/item?scene=sku=42&u=7"


def test_a_transparent_mini_program_code_is_a_png_still_labelled_jpeg(fake):
    response = mini_client(fake).wxa.get_wxa_code_unlimited("sku=42", page="pages/shop/item", is_hyaline=True)
    assert response.headers["Content-Type"] == "image/jpeg"  # as WeChat labels it: only the bytes tell
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(response.content))
    assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0  # the quiet zone shows what lies beneath
    on_white = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    [code] = zxingcpp.read_barcodes(on_white.convert("L"))
    assert code.text == "pages/shop/item?scene=sku=42"


@pytest.mark.parametrize("scene", ["", "x" * 33, "中文"])
def test_bad_scene_is_40169(fake, scene):
    with pytest.raises(WeChatClientException) as refused:
        mini_client(fake).wxa.get_wxa_code_unlimited(scene)
    assert refused.value.errcode == 40169


def sec_check(client: WeChatClient, fake: FakeWeChat, **data) -> dict:
    return client.post("wxa/msg_sec_check", api_base_url=fake.url + "/", data=data)


def test_msg_sec_check_v2(fake):
    client = mini_client(fake)
    passed = sec_check(client, fake, content="我在内蒙古种了一棵樟子松", openid=OPENID, scene=1, version=2)
    assert passed["result"] == {"suggest": "pass", "label": 100}
    assert passed["detail"][0]["strategy"] == "content_model" and passed["trace_id"]
    risky = sec_check(client, fake, content="来赌博吧", openid=OPENID, scene=2, version=2)
    assert risky["result"] == {"suggest": "risky", "label": 20006}
    fake.risky_words.add("樟子松")
    assert sec_check(client, fake, content="樟子松", openid=OPENID, scene=1, version=2)["result"]["suggest"] == "risky"


@pytest.mark.parametrize(("data", "errcode"), [
    ({"content": "你好"}, 47001),  # the v1 shape: no version, no openid, no scene
    ({"content": "你好", "openid": OPENID, "scene": 5, "version": 2}, 47001),
    ({"content": "你好", "openid": "", "scene": 1, "version": 2}, 40003),
])
def test_msg_sec_check_refuses_malformed_requests(fake, data, errcode):
    with pytest.raises(WeChatClientException) as refused:
        sec_check(mini_client(fake), fake, **data)
    assert refused.value.errcode == errcode


def test_subscribe_message_is_recorded_or_refused(fake):
    client = mini_client(fake)
    data = {"thing1": {"value": "樟子松 1 吨"}, "amount2": {"value": "100.00元"}}
    answer = client.wxa.send_subscribe_message(OPENID, "TPL-paid", data, page="pages/orders/index")
    assert answer["errcode"] == 0 and isinstance(answer["msgid"], int)
    assert fake.subscribe_messages == [{"touser": OPENID, "template_id": "TPL-paid", "page": "pages/orders/index",
                                        "data": data}]
    fake.refuse_subscribe = True
    with pytest.raises(WeChatClientException) as refused:
        client.wxa.send_subscribe_message(OPENID, "TPL-paid", data)
    assert refused.value.errcode == 43101
    with pytest.raises(WeChatClientException) as malformed:
        client.wxa.send_subscribe_message(OPENID, "TPL-paid", {})
    assert malformed.value.errcode == 47001
    assert len(fake.subscribe_messages) == 1


# ---------------------------------------------------------------------------------------------- WeChat Pay


def test_prepay_is_idempotent_and_conflicts_are_refused(fake, wxpay):
    status, first = place(wxpay, "T20260312000001")
    assert status == 200 and first["prepay_id"].startswith("wx") and len(first["prepay_id"]) == 34
    assert place(wxpay, "T20260312000001") == (200, first)
    assert place(wxpay, "T20260312000001", total=101) == (400, {"code": "INVALID_REQUEST",
                                                                "message": "201 商户订单号重复"})
    assert fake.transactions["T20260312000001"]["trade_state"] == "NOTPAY"


@pytest.mark.parametrize(("out_trade_no", "extra", "field"), [
    ("T1", {}, "out_trade_no"),
    ("T20260312000002", {"time_expire": "2026-03-12 17:15:00"}, "time_expire"),
    ("T20260312000003", {"description": "碳" * 43}, "description"),  # 129 UTF-8 bytes
])
def test_prepay_names_the_bad_field(wxpay, out_trade_no, extra, field):
    description = extra.pop("description", "碳汇+ 认购")
    status, text = wxpay.pay(description=description, out_trade_no=out_trade_no, amount={"total": 1},
                             payer={"openid": OPENID}, **extra)
    answer = json.loads(text)
    assert (status, answer["code"]) == (400, "PARAM_ERROR")
    assert answer["message"].startswith(field)


@pytest.mark.parametrize("notify_url", [
    "http://tanhui.example.cn/api/pay/wechat/notify",       # WeChat Pay: "有效性：1. HTTPS"
    "https://tanhui.example.cn/api/pay/wechat/notify?o=1",  # "2. 不允许携带查询串"
    "http://127.0.0.1:5000/api/pay/wechat/notify",          # loopback, unless the app running the fake allows it
])
def test_prepay_refuses_a_notify_url_wechat_would_refuse(wxpay, notify_url):
    status, answer = place(wxpay, "T20260312000005", notify_url=notify_url)
    assert (status, answer["code"]) == (400, "PARAM_ERROR") and answer["message"].startswith("notify_url")


def test_the_app_running_the_fake_may_name_its_own_loopback_address_over_http(fake, wxpay):
    fake.allow_loopback_http_notify = True
    assert place(wxpay, "T20260312000006", notify_url="http://127.0.0.1:5000/api/pay/wechat/notify")[0] == 200
    status, answer = place(wxpay, "T20260312000007", notify_url="http://tanhui.example.cn/api/pay/wechat/notify")
    assert (status, answer["code"]) == (400, "PARAM_ERROR")  # only loopback: a real host must speak https
    status, text = wxpay.refund(out_refund_no="R1", out_trade_no="T20260312000006", notify_url="http://10.0.0.7/n",
                                amount={"refund": 1, "total": 100, "currency": "CNY"})
    assert (status, json.loads(text)["message"][:10]) == (400, "notify_url")


def test_pay_query_and_payment_notification(fake, wxpay, clock):
    place(wxpay, "T20260312000010", total=2500, attach="listing=7")
    status, text = wxpay.query(out_trade_no="T20260312000010")
    unpaid = json.loads(text)
    assert (status, unpaid["trade_state"]) == (200, "NOTPAY")
    assert "transaction_id" not in unpaid and "success_time" not in unpaid

    clock.advance(minutes=3)
    notification = fake.pay("T20260312000010", deliver=False)
    status, text = wxpay.query(out_trade_no="T20260312000010")
    paid = json.loads(text)
    assert (paid["trade_state"], paid["trade_state_desc"], paid["attach"]) == ("SUCCESS", "支付成功", "listing=7")
    assert paid["success_time"] == "2026-03-12T17:03:00+08:00"
    assert paid["transaction_id"].startswith("4200") and len(paid["transaction_id"]) == 28
    assert paid["amount"] == {"total": 2500, "payer_total": 2500, "currency": "CNY", "payer_currency": "CNY"}

    assert notification.url == NOTIFY_URL
    assert notification.headers["Wechatpay-Timestamp"] == str(int(clock().timestamp()))
    envelope = decrypted(wxpay, notification)
    assert (envelope["event_type"], envelope["summary"]) == ("TRANSACTION.SUCCESS", "支付成功")
    assert envelope["create_time"] == "2026-03-12T17:03:00+08:00"
    assert envelope["resource"] == paid
    assert fake.notifications == [notification]


def test_paying_twice_or_an_unknown_order_raises(fake, wxpay):
    place(wxpay, "T20260312000011")
    fake.pay("T20260312000011", deliver=False)
    with pytest.raises(FakeWeChatError, match="SUCCESS"):
        fake.pay("T20260312000011", deliver=False)
    with pytest.raises(FakeWeChatError, match="no order"):
        fake.pay("T20260312999999", deliver=False)
    assert place(wxpay, "T20260312000011") == (400, {"code": "ORDERPAID", "message": "该订单已支付"})


def test_time_expire_is_judged_by_the_clock(fake, wxpay, clock):
    expires = (clock() + timedelta(minutes=15)).astimezone(BEIJING).isoformat()
    assert expires == "2026-03-12T17:15:00+08:00"
    place(wxpay, "T20260312000020", time_expire=expires)
    place(wxpay, "T20260312000021", time_expire=expires)
    clock.advance(minutes=14)
    fake.pay("T20260312000020", deliver=False)
    clock.advance(minutes=1)
    with pytest.raises(FakeWeChatError, match="expired"):
        fake.pay("T20260312000021", deliver=False)
    assert json.loads(wxpay.query(out_trade_no="T20260312000021")[1])["trade_state"] == "NOTPAY"


def forgeries(fake: FakeWeChat, genuine: Notification) -> dict[str, Notification]:
    resource = {"out_trade_no": "T20260312000030", "trade_state": "SUCCESS"}
    forge = functools.partial(fake.notification, url=NOTIFY_URL, event_type="TRANSACTION.SUCCESS",
                              original_type="transaction", resource=resource, summary="支付成功")
    return {
        "tampered body": Notification(genuine.url, genuine.headers, genuine.body.replace(b"\"summary\":\"",
                                                                                         b"\"summary\":\"!")),
        "another signing key": forge(signing_key=stranger_key()),
        "another APIv3 key": forge(apiv3_key="0" * 32),
        "unknown public key id": forge(serial="PUB_KEY_ID_0000000000000000000000"),
        "unknown certificate serial": forge(serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1"),
    }


def test_forged_notifications_do_not_decrypt(fake, wxpay):
    place(wxpay, "T20260312000030")
    genuine = fake.pay("T20260312000030", deliver=False)
    assert decrypted(wxpay, genuine)["resource"]["out_trade_no"] == "T20260312000030"
    for name, forged in forgeries(fake, genuine).items():
        assert decrypted(wxpay, forged) is None, name


def test_wechatpayv3_does_not_judge_notification_freshness(fake, wxpay, clock):
    """So the adapter must: a day-old, correctly signed notification still decrypts in the library."""
    stale = fake.notification(url=NOTIFY_URL, event_type="TRANSACTION.SUCCESS", original_type="transaction",
                              resource={"out_trade_no": "T1"}, summary="支付成功",
                              timestamp=int((clock() - timedelta(days=1)).timestamp()))
    assert decrypted(wxpay, stale)["resource"] == {"out_trade_no": "T1"}


def test_close(fake, wxpay):
    place(wxpay, "T20260312000040")
    assert wxpay.close(out_trade_no="T20260312000040") == (204, b"")  # a 204 comes back as bytes, signed over ""
    assert wxpay.close(out_trade_no="T20260312000040") == (204, b"")
    assert json.loads(wxpay.query(out_trade_no="T20260312000040")[1])["trade_state"] == "CLOSED"
    assert place(wxpay, "T20260312000040") == (400, {"code": "ORDER_CLOSED", "message": "订单已关闭"})
    with pytest.raises(FakeWeChatError, match="CLOSED"):
        fake.pay("T20260312000040", deliver=False)

    status, text = wxpay.close(out_trade_no="T20260312000041")
    assert (status, json.loads(text)["code"]) == (404, "ORDER_NOT_EXIST")


def test_closing_a_paid_order_is_refused_in_a_spelling_no_one_should_rely_on(fake, wxpay):
    """APIv3 documents no answer for closing a paid order (v2 said ORDERPAID): the fake picks the documented
    403 TRADE_ERROR, and the order's query is what tells that it was paid."""
    place(wxpay, "T20260312000042")
    fake.pay("T20260312000042", deliver=False)
    status, text = wxpay.close(out_trade_no="T20260312000042")
    assert (status, json.loads(text)["code"]) == (403, "TRADE_ERROR")
    assert json.loads(wxpay.query(out_trade_no="T20260312000042")[1])["trade_state"] == "SUCCESS"


def test_a_payer_typing_the_password_makes_close_answer_202_and_close_nothing(fake, wxpay):
    place(wxpay, "T20260312000043")
    fake.set_trade_state("T20260312000043", "USERPAYING")
    status, text = wxpay.close(out_trade_no="T20260312000043")
    assert (status, json.loads(text)["code"]) == (202, "USER_PAYING")  # a 2xx, yet nothing closed
    assert json.loads(wxpay.query(out_trade_no="T20260312000043")[1])["trade_state"] == "USERPAYING"
    fake.pay("T20260312000043", deliver=False)  # the password goes through
    assert json.loads(wxpay.query(out_trade_no="T20260312000043")[1])["trade_state"] == "SUCCESS"


@pytest.mark.parametrize(("state", "description"), [("USERPAYING", "用户支付中，需要输入密码"),
                                                    ("PAYERROR", "支付失败，请重新下单支付"),
                                                    ("REVOKED", "订单已撤销")])
def test_the_query_answers_every_documented_trade_state_none_of_them_paid(fake, wxpay, state, description):
    place(wxpay, "T20260312000044")
    fake.set_trade_state("T20260312000044", state)
    answer = json.loads(wxpay.query(out_trade_no="T20260312000044")[1])
    assert (answer["trade_state"], answer["trade_state_desc"]) == (state, description)
    assert "transaction_id" not in answer and "success_time" not in answer and "payer_total" not in answer["amount"]
    if state != "USERPAYING":
        with pytest.raises(FakeWeChatError, match=state):
            fake.pay("T20260312000044", deliver=False)
        assert place(wxpay, "T20260312000044") == (400, {"code": "ORDER_CLOSED", "message": "订单已关闭"})
    with pytest.raises(FakeWeChatError, match="payer's side"):
        fake.set_trade_state("T20260312000044", "SUCCESS")  # paying is fake.pay, with its notification


def refund(wxpay: WeChatPay, out_refund_no: str, amount: int, total: int = 100,
           out_trade_no: str = "T20260312000050") -> tuple[int, dict]:
    status, text = wxpay.refund(out_refund_no=out_refund_no, out_trade_no=out_trade_no, reason="用户取消",
                                amount={"refund": amount, "total": total, "currency": "CNY"})
    return status, json.loads(text)


def test_refunds(fake, wxpay, clock):
    assert refund(wxpay, "R1", 30, out_trade_no="T20260312999999")[0] == 404
    place(wxpay, "T20260312000050")
    assert refund(wxpay, "R1", 30)[1]["message"] == "订单未支付"
    fake.pay("T20260312000050", deliver=False)

    status, first = refund(wxpay, "R1", 30)
    assert (status, first["status"], first["amount"]["refund"]) == (200, "PROCESSING", 30)
    assert first["refund_id"].startswith("50") and len(first["refund_id"]) == 30
    assert refund(wxpay, "R1", 30) == (200, first)
    assert refund(wxpay, "R2", 80)[1]["code"] == "INVALID_REQUEST"
    assert refund(wxpay, "R2", 70, total=99)[1]["code"] == "INVALID_REQUEST"

    clock.advance(minutes=1)
    notification = fake.settle_refund("R1", deliver=False)
    envelope = decrypted(wxpay, notification)
    assert (envelope["event_type"], envelope["summary"]) == ("REFUND.SUCCESS", "退款成功")
    assert envelope["resource"]["refund_status"] == "SUCCESS"
    assert envelope["resource"]["refund_id"] == first["refund_id"]
    assert envelope["resource"]["amount"] == {"total": 100, "refund": 30, "payer_total": 100, "payer_refund": 30}
    queried = json.loads(wxpay.query_refund("R1")[1])
    assert (queried["status"], queried["success_time"]) == ("SUCCESS", "2026-03-12T17:01:00+08:00")
    assert json.loads(wxpay.query(out_trade_no="T20260312000050")[1])["trade_state"] == "SUCCESS"

    assert refund(wxpay, "R2", 70)[0] == 200
    fake.settle_refund("R2", deliver=False)
    assert json.loads(wxpay.query(out_trade_no="T20260312000050")[1])["trade_state"] == "REFUND"
    with pytest.raises(FakeWeChatError):
        fake.settle_refund("R2", deliver=False)
    assert json.loads(wxpay.query_refund("R404")[1])["code"] == "RESOURCE_NOT_EXISTS"


def test_refunds_settle_by_themselves_when_asked(fake, wxpay):
    delivered: list[Notification] = []
    arrived = threading.Event()

    def collect(notification: Notification) -> int:
        delivered.append(notification)
        arrived.set()
        return 200

    fake.sender, fake.auto_settle_refunds = collect, True
    place(wxpay, "T20260312000050")
    fake.pay("T20260312000050")
    arrived.clear()
    assert refund(wxpay, "R1", 100)[1]["status"] == "PROCESSING"
    assert arrived.wait(5)
    assert [decrypted(wxpay, n)["event_type"] for n in delivered] == ["TRANSACTION.SUCCESS", "REFUND.SUCCESS"]
    assert fake.refunds["R1"]["status"] == "SUCCESS"


def test_requests_signed_with_another_merchant_key_are_401(fake):
    impostor = pay_client(fake, private_key_pem=stranger_key_pem())
    status, text = impostor.query(out_trade_no="T20260312000060")
    assert (status, json.loads(text)) == (401, {"code": "SIGN_ERROR", "message": "签名错误"})
    unsigned = requests.get(f"{fake.url}/v3/pay/transactions/out-trade-no/T1?mchid={fake.mchid}", timeout=5)
    assert unsigned.status_code == 401
    signed_over = f"{unsigned.headers['Wechatpay-Timestamp']}\n{unsigned.headers['Wechatpay-Nonce']}\n{unsigned.text}\n"
    assert rsa_verify(fake.platform_private_key.public_key(), signed_over, unsigned.headers["Wechatpay-Signature"])


def test_wechatpayv3_refuses_answers_not_signed_by_the_platform(fake):
    public_pem = stranger_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    suspicious = pay_client(fake, public_key_pem=public_pem)
    with pytest.raises(Exception, match="failed to verify the signature"):
        place(suspicious, "T20260312000070")


def test_default_sender_posts_the_signed_bytes(fake, wxpay):
    received: list[tuple[dict, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append((dict(self.headers.items()), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            return None  # keep the test output quiet

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, args=(0.02,), daemon=True).start()
    fake.allow_loopback_http_notify = True  # as the app that runs the fake sets it
    try:
        place(wxpay, "T20260312000080", notify_url=f"http://127.0.0.1:{receiver.server_address[1]}/wechat/notify")
        notification = fake.pay("T20260312000080")
    finally:
        receiver.shutdown()
        receiver.server_close()
    [(headers, body)] = received
    assert body == notification.body
    assert {name: headers[name] for name in notification.headers} == notification.headers


def test_a_crash_of_the_fake_is_a_500_on_record_not_a_refusal(fake, wxpay, monkeypatch):
    """Refusals are WeChat's answers (4xx with a code); a bug in the fake must never pass for one."""
    status, text = wxpay.query(out_trade_no="T20260312000095")
    assert (status, json.loads(text)["code"]) == (404, "ORDER_NOT_EXIST") and fake.crashes == []
    place(wxpay, "T20260312000095")

    def broken(*args):
        raise KeyError("trade_state")

    monkeypatch.setattr(FakeWeChat, "_transaction_view", broken)
    assert wxpay.query(out_trade_no="T20260312000095")[0] == 500
    assert fake.crashes == ["GET /v3/pay/transactions/out-trade-no/T20260312000095: KeyError: 'trade_state'"]
    fake.crashes.clear()  # this test's crash was on purpose; the fixture fails any other


def test_calls_and_restart(fake, wxpay):
    wxpay.query(out_trade_no="T20260312000090")
    assert fake.calls == [("GET", "/v3/pay/transactions/out-trade-no/T20260312000090")]
    assert fake.start() is fake
    fake.close()
    fake.close()
    assert isinstance(fake.clock(), datetime)
