"""POST /api/pay/wechat/notify: WeChat Pay's payment and refund notifications.

Answers as WeChat expects: 200 ``{"code": "SUCCESS"}`` once the notification is acted on (or was already), and a
4xx ``{"code": "FAIL", "message": …}`` for one we refuse, which changes nothing; the reason goes to the log. The
one refusal that does more: a genuine refund notification whose money differs from the order's refund also puts
the order in the operators' queue (in a transaction of its own, after the refused one rolled back).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify, request

from backend import certificates, wechat
from backend.db import atomic
from backend.http import Route, register
from backend.orders import notices, service
from backend.orders.schemas import NotificationAnswer, NotificationIn
from backend.wechat.errors import NotificationRejected

log = logging.getLogger(__name__)
bp = Blueprint("wechat_pay", __name__, url_prefix="/api/pay/wechat")
MAX_NOTIFICATION_BYTES = 16 * 1024  # a real one is about 1 KB


def _fail(status: int, message: str):
    return jsonify({"code": "FAIL", "message": message}), status


def notify():
    """Verified over its exact bytes (Wechatpay-Signature with the platform public key, timestamp within ±5
    minutes), decrypted with the APIv3 key, checked against the order (amount, merchant) and deduplicated by id."""
    body = request.stream.read(MAX_NOTIFICATION_BYTES + 1)  # bounded, whatever Content-Length says (or not)
    if len(body) > MAX_NOTIFICATION_BYTES:
        log.warning("payment notification refused: larger than %d bytes", MAX_NOTIFICATION_BYTES)
        return _fail(413, "body too large")
    pay = wechat.pay()
    clock = current_app.config["CLOCK"]
    try:
        notification = pay.read_notification(request.headers, body, clock())
        certify = certificates.certify()
        outcome = atomic(lambda s: _record(s, clock(), notification, pay, certify))
    except NotificationRejected as rejected:
        log.warning("payment notification refused (%s): %s", request.headers.get("Request-ID", "-"), rejected.reason)
        if isinstance(rejected, service.RefundMismatch):
            order_no, mismatch = rejected.order_no, rejected.mismatch
            atomic(lambda s: service.flag_refund_mismatch(s, clock(), order_no, mismatch, actor=service.PAYER_ACTOR))
        return _fail(rejected.status, "refused")
    log.info("payment notification %s %s: %s", notification.id, notification.event_type, outcome)
    notices.after_fulfilment(notification.resource.out_trade_no, outcome)
    return jsonify({"code": "SUCCESS", "message": "成功"}), 200


def _record(session, now, notification, pay, certify) -> str:
    return service.record_notification(session, now, notification, appid=pay.credentials.appid,
                                       mchid=pay.credentials.mchid, certify=certify)


SIGNED = {"type": "string", "minLength": 1}
ROUTES = [Route(
    "POST", "/notify", notify, "WeChat Pay's payment and refund notifications", body=NotificationIn, parse=False,
    response=NotificationAnswer, tags=("payments",), errors=(503,),
    headers={"Wechatpay-Signature-Type": (True, {"type": "string", "const": "WECHATPAY2-SHA256-RSA2048"}, ""),
             "Wechatpay-Serial": (True, SIGNED, "the platform public key's id (PUB_KEY_ID_…)"),
             "Wechatpay-Timestamp": (True, {"type": "string", "pattern": "^[0-9]{1,12}$"}, "epoch seconds"),
             "Wechatpay-Nonce": (True, SIGNED, ""),
             "Wechatpay-Signature": (True, SIGNED, "RSA-SHA256 over timestamp, nonce and body (base64)")},
    responses={400: ("拒绝：无法解密或格式错误 (refused: not decryptable or malformed)", NotificationAnswer),
               401: ("拒绝：签名或时间戳无效 (refused: signature, key id or timestamp)", NotificationAnswer),
               413: ("拒绝：过大 (refused: larger than 16 KB)", NotificationAnswer)})]
register(bp, ROUTES)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
