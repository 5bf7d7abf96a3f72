"""WeChat Pay APIv3 through wechatpayv3, in public-key mode: JSAPI and Native prepay, query, close, refund,
notifications.

wechatpayv3 has no gateway argument; the gateway is its private ``_core._gate_way``, set here from
``WECHATPAY_GATEWAY`` (tests/wechat checks the attribute still exists, so an upgrade that renames it fails loudly).
It verifies the signatures of 2xx responses itself. For notifications it checks signature and decryption but not
freshness, and on an unknown key id it first fetches /v3/certificates (so every forged notification would make
us call WeChat; with certificates loaded it crashes, wechatpayv3#76); ``read_notification`` therefore checks the
signature type, the key id and the timestamp before the library sees the notification.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import load_public_key, rsa_verify

from backend.wechat.errors import NotificationRejected, WeChatUnavailable

log = logging.getLogger(__name__)
CHINA = ZoneInfo("Asia/Shanghai")
TIMEOUT_SECONDS = (5, 10)
MAX_CLOCK_SKEW_SECONDS = 300  # WeChat's own guidance: refuse notifications more than 5 minutes off
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

# The query's trade_state (https://pay.weixin.qq.com/docs/merchant/apis/query-order/direct-jsons/
# query-by-out-trade-no.html): SUCCESS 支付成功, REFUND 转入退款 (paid, then refunded in part or whole), NOTPAY 未支付,
# CLOSED 已关闭, REVOKED 已撤销, USERPAYING 用户支付中, PAYERROR 支付失败 (the last three "仅付款码支付会返回").
# Only the first two mean WeChat took money; an unknown state is never read as paid, nor as unpaid for good.
PAID_STATES = frozenset({"SUCCESS", "REFUND"})
UNPAYABLE_STATES = frozenset({"CLOSED", "REVOKED", "PAYERROR"})  # no payment can follow ("请重新下单支付")
PAYING_STATE = "USERPAYING"
# Native's code_url: "weixin://wxpay/bizpayurl?pr=" and 7 characters in practice (35); String(64) as WeChat
# documents it (v2 统一下单: "code_url String(64)"; v3's example value, "weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&
# groupid=00", has 49). It is kept in the order's prepay_id column (64): a longer one is refused here, not by the
# database.
CODE_URL_MAX_LENGTH = 64
CODE_URL_PATTERN = re.compile(r"weixin://[\x21-\x7e]{1,%d}" % (CODE_URL_MAX_LENGTH - len("weixin://")))


class Amount(BaseModel):
    """Payment: total, payer_total, currency, payer_currency. Refund notification: total, refund, payer_total,
    payer_refund (no currency; the refund query adds it). Fen, integers."""

    model_config = ConfigDict(extra="ignore", strict=True)
    total: int
    refund: int | None = None
    currency: str | None = Field(default=None, max_length=16)


class Resource(BaseModel):
    """The decrypted part of a payment or refund notification, as far as we act on it (WeChat may add fields)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    mchid: str = Field(max_length=32)
    appid: str | None = Field(default=None, max_length=32)
    out_trade_no: str = Field(min_length=1, max_length=32)
    transaction_id: str | None = Field(default=None, min_length=1, max_length=32)
    trade_state: str | None = Field(default=None, max_length=32)
    out_refund_no: str | None = Field(default=None, max_length=64)
    refund_id: str | None = Field(default=None, max_length=64)
    refund_status: str | None = Field(default=None, max_length=32)
    amount: Amount


class Notification(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    id: str = Field(min_length=1, max_length=64)
    event_type: str = Field(max_length=40)
    resource: Resource


@dataclass(frozen=True)
class PayCredentials:
    appid: str
    mchid: str
    private_key_pem: str
    cert_serial_no: str
    apiv3_key: str
    public_key_pem: str
    public_key_id: str
    gateway: str
    notify_url: str


def wechat_time(moment: datetime) -> str:
    """RFC 3339 in Beijing time, as APIv3 writes times: 2026-03-12T17:15:00+08:00."""
    return moment.astimezone(CHINA).replace(microsecond=0).isoformat()


class Pay:
    def __init__(self, credentials: PayCredentials) -> None:
        self.credentials = credentials
        self.client = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG, mchid=credentials.mchid, private_key=credentials.private_key_pem,
            cert_serial_no=credentials.cert_serial_no, appid=credentials.appid, apiv3_key=credentials.apiv3_key,
            notify_url=credentials.notify_url, public_key=credentials.public_key_pem,
            public_key_id=credentials.public_key_id, timeout=TIMEOUT_SECONDS)
        self.client._core._gate_way = credentials.gateway
        self._public_key = load_public_key(credentials.public_key_pem)

    def _request(self, what: str, call) -> tuple[int, Any]:
        """(status, parsed JSON or None); WeChatUnavailable when WeChat is unreachable or its answer is forged."""
        try:
            status, text = call()
        except requests.RequestException as error:
            log.warning("WeChat Pay %s unreachable: %s", what, error)
            raise WeChatUnavailable(f"微信支付暂不可用，请稍后再试 (WeChat Pay {what} unreachable)") from None
        except Exception as error:  # wechatpayv3 raises bare Exception when a response signature does not verify
            log.error("WeChat Pay %s: %s", what, error)
            raise WeChatUnavailable(f"微信支付应答无法验证 (WeChat Pay {what}: {error})") from None
        if not text:
            return status, None
        try:
            return status, json.loads(text)
        except (TypeError, ValueError):
            raise WeChatUnavailable(f"微信支付应答无法解析 (WeChat Pay {what} answered no JSON)") from None

    @staticmethod
    def _refused(what: str, status: int, answer: Any) -> WeChatUnavailable:
        code = (answer or {}).get("code") if isinstance(answer, dict) else None
        log.warning("WeChat Pay %s refused: HTTP %s %s", what, status, answer)
        return WeChatUnavailable(f"微信支付拒绝了请求 (WeChat Pay {what}: {code or status})",
                                 details={"wechat_code": code, "status": status})

    def prepay(self, *, order_no: str, description: str, amount_fen: int, openid: str,
               expires_at: datetime) -> str:
        """The JSAPI prepay_id. WeChat answers the same id for the same order, so a retry is safe."""
        status, answer = self._request("prepay", lambda: self.client.pay(
            description=description, out_trade_no=order_no, amount={"total": amount_fen, "currency": "CNY"},
            payer={"openid": openid}, time_expire=wechat_time(expires_at), pay_type=WeChatPayType.MINIPROG))
        if status != 200 or not isinstance(answer, dict) or not answer.get("prepay_id"):
            raise self._refused("prepay", status, answer)
        return answer["prepay_id"]

    def prepay_native(self, *, order_no: str, description: str, amount_fen: int, expires_at: datetime) -> str:
        """The Native code_url, to show as a QR code on a PC screen; whoever scans it pays (there is no payer to
        name). WeChat answers again for the same order with the same fields, so a retry is safe. The code_url
        lapses two hours after the prepay ("code_url有效期为2小时"), whatever ``expires_at`` says."""
        status, answer = self._request("native prepay", lambda: self.client.pay(
            description=description, out_trade_no=order_no, amount={"total": amount_fen, "currency": "CNY"},
            time_expire=wechat_time(expires_at), pay_type=WeChatPayType.NATIVE))
        code_url = answer.get("code_url") if isinstance(answer, dict) else None
        if status != 200 or not code_url:
            raise self._refused("native prepay", status, answer)
        if not isinstance(code_url, str) or not CODE_URL_PATTERN.fullmatch(code_url):
            log.error("WeChat Pay native prepay of %s answered an unusable code_url %r", order_no, code_url)
            raise WeChatUnavailable("微信支付二维码链接无法使用 (WeChat Pay answered a code_url that is not a weixin:// "
                                    f"URL of at most {CODE_URL_MAX_LENGTH} characters)")
        return code_url

    def pay_params(self, prepay_id: str, now: datetime) -> dict[str, str]:
        """What ``wx.requestPayment`` needs, signed with the merchant key (RSA over appId, time, nonce, package)."""
        timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        signature = self.client.sign([self.credentials.appid, timestamp, nonce, package])
        return {"appId": self.credentials.appid, "timeStamp": timestamp, "nonceStr": nonce, "package": package,
                "signType": "RSA", "paySign": signature}

    def query(self, order_no: str) -> Resource | None:
        """The transaction as WeChat sees it, or None when WeChat has no such order."""
        status, answer = self._request("query", lambda: self.client.query(out_trade_no=order_no))
        if status == 404:
            return None
        if status != 200 or not isinstance(answer, dict):
            raise self._refused("query", status, answer)
        try:
            return Resource.model_validate(answer)
        except ValidationError:
            raise WeChatUnavailable("微信支付查询应答格式异常 (WeChat Pay answered a malformed transaction)") from None

    def close(self, order_no: str) -> int:
        """Ask WeChat to close the order; the HTTP status, which proves nothing on its own.

        A 204 comes for an order closed before and, reportedly, for an unknown number; a 202 USER_PAYING closed
        nothing; what closing a paid order answers in APIv3 is undocumented (v2 said ORDERPAID). So the caller
        asks ``query`` afterwards and acts on the trade_state, never on this answer's spelling.
        """
        status, answer = self._request("close", lambda: self.client.close(out_trade_no=order_no))
        if not 200 <= status < 300:
            log.info("WeChat Pay close of %s: HTTP %s %s", order_no, status, answer)
        return status

    def refund(self, *, order_no: str, refund_no: str, total_fen: int, refund_fen: int, reason: str) -> dict[str, Any]:
        status, answer = self._request("refund", lambda: self.client.refund(
            out_refund_no=refund_no, out_trade_no=order_no, reason=reason,
            amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            notify_url=self.credentials.notify_url))
        if status != 200 or not isinstance(answer, dict):
            raise self._refused("refund", status, answer)
        return answer

    def read_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Notification:
        """The verified, decrypted, well-formed notification, or NotificationRejected (which says why)."""
        if headers.get("Wechatpay-Signature-Type") != SIGNATURE_TYPE:
            raise NotificationRejected(f"signature type {headers.get('Wechatpay-Signature-Type')!r}", 401)
        if headers.get("Wechatpay-Serial") != self.credentials.public_key_id:
            raise NotificationRejected(f"unknown platform key id {headers.get('Wechatpay-Serial')!r}", 401)
        stamp = headers.get("Wechatpay-Timestamp", "")
        if not re.fullmatch(r"[0-9]{1,12}", stamp):  # isdigit() takes "²"; int() refuses 4,300+ digits
            raise NotificationRejected(f"timestamp {stamp[:20]!r} is not a number", 401)
        skew = int(stamp) - int(now.timestamp())
        if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
            raise NotificationRejected(f"timestamp {skew:+d} s from now, outside ±{MAX_CLOCK_SKEW_SECONDS} s", 401)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationRejected("body is not UTF-8", 400) from None
        if not rsa_verify(stamp, headers.get("Wechatpay-Nonce", ""), text, headers.get("Wechatpay-Signature", ""),
                          self._public_key):
            raise NotificationRejected("signature does not verify with the platform public key", 401)
        try:
            notification = self.client.callback(headers, text)
        except Exception as error:  # an algorithm wechatpayv3 does not know raises bare Exception
            raise NotificationRejected(f"cannot decrypt: {error}", 400) from None
        if not isinstance(notification, dict) or not isinstance(notification.get("resource"), dict):
            raise NotificationRejected("signed, but the resource does not decrypt with the APIv3 key", 400)
        try:
            return Notification.model_validate(notification)
        except ValidationError as error:
            raise NotificationRejected(f"signed, but malformed: {error.errors(include_url=False)[:3]}") from None
