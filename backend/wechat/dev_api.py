"""Development only: what a phone does with WeChat, for curl. POST /api/dev/wx-login hands out a wx.login code;
POST /api/dev/pay/<order_no> makes the fake WeChat pay an order and send its notification.

Registered only with ``WECHAT_MODE=fake`` outside production, so that login → quote → order → pay → certificate
can be walked with curl and no phone. Like WeChat's, a code works for one login within five minutes. The
notification goes over real HTTP to WECHATPAY_NOTIFY_URL, as WeChat's would; if it cannot arrive (say the server
runs on another port), the order-status query still finds the payment.
"""

from __future__ import annotations

import requests
from flask import Blueprint, Flask, request

from backend import wechat
from backend.db import read
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.orders import service
from backend.wechat.fake import LOGIN_CODE_LIFETIME, FakeWeChatError

bp = Blueprint("dev_pay", __name__, url_prefix="/api/dev")


LOOPBACK = {"127.0.0.1", "::1"}
DEFAULT_PERSON = "demo-citizen"


@bp.post("/wx-login")
def wx_login():
    """``{"person": "…"}`` (optional): a fresh code for that WeChat user, as wx.login() gives the phone."""
    if request.remote_addr not in LOOPBACK:
        raise Forbidden("仅限本机调用 (development endpoint: loopback only)")
    person = (request.get_json(silent=True) or {}).get("person", DEFAULT_PERSON)
    if not isinstance(person, str) or not 1 <= len(person) <= 64:
        raise InvalidInput("person", "应为 1–64 个字符，代表一位微信用户 (1–64 characters naming a WeChat user)")
    code = wechat.fake_server().login_code(person)
    return {"code": code, "expires_in": int(LOGIN_CODE_LIFETIME.total_seconds()),
            "next": "POST /api/mp/v1/auth/login {\"code\": …} (once, within 5 minutes)"}


@bp.post("/pay/<order_no>")
def pay(order_no: str):
    if request.remote_addr not in LOOPBACK:  # a development box on a shared network pays nobody's orders
        raise Forbidden("仅限本机调用 (development endpoint: loopback only)")
    order = read(lambda s: service.get_order(s, order_no))  # no transaction stays open while the fake calls us
    fake = wechat.fake_server()
    try:
        notification = fake.pay(order.order_no, deliver=False)
    except FakeWeChatError as error:
        raise Conflict(f"模拟支付失败 (the fake WeChat refused: {error})", code="fake_pay_refused") from None
    try:
        status = fake.sender(notification)
    except requests.RequestException as error:  # paid all the same: GET the order and it asks the fake
        status = f"not delivered: {error.__class__.__name__}"
    return {"order_no": order_no, "paid_fen": order.amount_fen, "notification_status": status,
            "next": f"GET /api/mp/v1/orders/{order_no}"}


def init_app(app: Flask) -> None:
    if app.config["WECHAT_MODE"] == "fake" and app.config["APP_ENV"] != "production":
        app.register_blueprint(bp)
