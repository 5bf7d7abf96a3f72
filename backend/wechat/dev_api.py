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
from pydantic import BaseModel, ConfigDict, Field

from backend import wechat
from backend.db import read
from backend.errors import Conflict, Forbidden
from backend.http import Route, anchored, register
from backend.orders import service
from backend.schemas import Out
from backend.wechat.fake import LOGIN_CODE_LIFETIME, FakeWeChatError

bp = Blueprint("dev_pay", __name__, url_prefix="/api/dev")


LOOPBACK = {"127.0.0.1", "::1"}
DEFAULT_PERSON = "demo-citizen"


class DevLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person: str = Field(default=DEFAULT_PERSON, min_length=1, max_length=64,
                        description="names a WeChat user: the same person gets the same openid")


class DevLoginOut(Out):
    code: str
    expires_in: int
    next: str


def wx_login(body: DevLoginIn):
    """A fresh code for that WeChat user, as wx.login() gives the phone."""
    if request.remote_addr not in LOOPBACK:
        raise Forbidden("仅限本机调用 (development endpoint: loopback only)")
    code = wechat.fake_server().login_code(body.person)
    return {"code": code, "expires_in": int(LOGIN_CODE_LIFETIME.total_seconds()),
            "next": "POST /api/mp/v1/auth/login {\"code\": …} (once, within 5 minutes)"}


class DevPaid(Out):
    order_no: str
    paid_fen: int
    notification_status: int | str
    next: str


def pay(order_no: str):
    """The fake WeChat pays the order and POSTs its signed notification to WECHATPAY_NOTIFY_URL."""
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


register(bp, [Route("POST", "/wx-login", wx_login, "Development only: a wx.login code for a WeChat user",
                    body=DevLoginIn, response=DevLoginOut, errors=(503,), tags=("development",)),
              Route("POST", "/pay/<order_no>", pay, "Development only: the fake WeChat pays an order",
                    response=DevPaid, params={"order_no": anchored(service.ORDER_NO_PATTERN)}, errors=(409, 503),
                    tags=("development",))])


def init_app(app: Flask) -> None:
    if app.config["WECHAT_MODE"] == "fake" and app.config["APP_ENV"] != "production":
        app.register_blueprint(bp)
