"""The order steps that talk to WeChat Pay: each network call sits between two units of work, never inside one.

Two WeChat channels: JSAPI (a citizen in the mini-program, ``place``) and Native (an organisation's staff on a PC
shows a QR code that the payer scans, ``place_for_organisation``). Both are settled by the same notification, query
and sweeper; a Native order keeps its code_url where a JSAPI order keeps its prepay_id (``Order.prepay_id``: both
are what WeChat answered the prepay with, at most 64 characters).

These take the WeChat Pay client, the clock and the certifier explicitly, so the sweeper (CLI or background job)
and the HTTP handlers run the very same code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis

from backend.cache import get_redis, key
from backend.certificates import render
from backend.clock import as_utc
from backend.db import atomic, read
from backend.errors import NotFound
from backend.orders import notices, service
from backend.orders.models import Order
from backend.registry.models import Batch
from backend.wechat.errors import NotificationRejected, WeChatUnavailable
from backend.wechat.pay import PAID_STATES, PAYING_STATE, UNPAYABLE_STATES, Pay, Resource

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


# No prepay this close to the deadline: the sweeper may be closing the WeChat order. RESERVATION_TTL_SECONDS has a
# floor well above this (settings.MIN_RESERVATION_TTL_SECONDS), so every order is payable for minutes.
PREPAY_MARGIN = timedelta(minutes=1)


def _prepay_due(clock: Clock, order: Order) -> bool:
    """No WeChat order yet, and its deadline not too near (the sweeper may be closing it)."""
    return order.prepay_id is None and order.status == "reserved" and clock() < as_utc(order.expires_at) - PREPAY_MARGIN


def place(pay: Pay, clock: Clock, *, user_id: int, idempotency_key: str, ttl_seconds: int,
          max_unpaid_orders: int, max_reserved_g: int, name_key: bytes, **request: Any) -> dict[str, Any]:
    """Create (or find again, by key) the order, get its prepay id, and answer what wx.requestPayment needs.

    Two units of work around the one WeChat call: the order with what the prepay needs (the buyer's openid, the
    batch's code), then the prepay id with the answer.
    If WeChat is unreachable the order and its reservation stay; the same request with the same key retries the
    prepay, and the sweeper releases the credits at the deadline if nobody does.
    """
    def create(session) -> tuple[Order, str, str, dict[str, Any]]:
        order, buyer = service.create(session, clock(), user_id=user_id, idempotency_key=idempotency_key,
                                      ttl_seconds=ttl_seconds, max_unpaid_orders=max_unpaid_orders,
                                      max_reserved_g=max_reserved_g, name_key=name_key, **request)
        return order, buyer.openid, session.get(Batch, order.batch_id).code, service.order_view(session, order)

    def attach(session, order_no: str, prepay_id: str) -> tuple[Order, dict[str, Any]]:
        order = service.attach_prepay(session, order_no, prepay_id)
        return order, service.order_view(session, order)

    order, openid, batch_code, view = atomic(create)
    if _prepay_due(clock, order):
        order_no = order.order_no
        prepay_id = pay.prepay(order_no=order_no, description=service.description(order, batch_code),
                               amount_fen=order.amount_fen, openid=openid, expires_at=order.expires_at)
        order, view = atomic(lambda session: attach(session, order_no, prepay_id))
    payable = order.status == "reserved" and order.prepay_id is not None and order.attention is None
    view["pay_params"] = pay.pay_params(order.prepay_id, clock()) if payable else None
    return view


# WeChat's Native code_url lapses two hours after the prepay ("code_url有效期为2小时"): a Native order is not given
# longer than that to be paid, so that its deadline here and the last moment its QR code can be paid coincide.
NATIVE_MAX_TTL_SECONDS = 2 * 3600


def _ensure_native_prepay(pay: Pay, clock: Clock, order: Order) -> Order:
    """Create the Native WeChat order (its code_url), unless it exists or its deadline is too near."""
    if not _prepay_due(clock, order):
        return order
    batch_code = read(lambda s: s.get(Batch, order.batch_id).code)
    code_url = pay.prepay_native(order_no=order.order_no, description=service.description(order, batch_code),
                                 amount_fen=order.amount_fen, expires_at=order.expires_at)
    return atomic(lambda s: service.attach_prepay(s, order.order_no, code_url))


def payable_code_url(clock: Clock, order: Order) -> str | None:
    """The code_url to show while a Native order can still be paid by scanning it; None otherwise."""
    if (order.channel != "native" or order.status != "reserved" or order.attention is not None
            or clock() >= as_utc(order.expires_at)):
        return None
    return order.prepay_id


def place_for_organisation(pay: Pay, clock: Clock, *, org_id: int, actor: str, channel: str, idempotency_key: str,
                           listing_id: int, quantity_g: int, purpose: str, reference: dict[str, Any] | None,
                           ttl_seconds: int) -> dict[str, Any]:
    """Create (or find again, by key) an organisation's order; for a Native one, get its code_url from WeChat.

    Answers the order as its staff see it, plus ``code_url``: what the PC page shows as a QR code (``native_qr_png``)
    while the order can be paid; None for an offline order (finance records its bank transfer) and once the order
    is paid, expired or waiting for an operator. A Native order's ``ttl_seconds`` is capped at the code_url's two
    hours. If WeChat is unreachable the order and its reservation stay (WeChatUnavailable); the same request with
    the same key retries the prepay, and the sweeper releases the credits at the deadline if nobody does.
    """
    if channel == "native":
        ttl_seconds = min(ttl_seconds, NATIVE_MAX_TTL_SECONDS)
    order = atomic(lambda s: service.create_for_organisation(
        s, clock(), org_id=org_id, actor=actor, channel=channel, idempotency_key=idempotency_key,
        listing_id=listing_id, quantity_g=quantity_g, purpose=purpose, reference=reference, ttl_seconds=ttl_seconds))
    if order.channel == "native":
        order = _ensure_native_prepay(pay, clock, order)
    return read(lambda s: _organisation_view(s, clock, order))


def organisation_order_status(pay: Pay, clock: Clock, certify, *, order_no: str, org_id: int,
                              query_interval_seconds: int) -> dict[str, Any]:
    """An organisation's order as its staff should see it now, for the page that shows the QR code and polls:
    a reserved Native order asks WeChat first (at most once per ``query_interval_seconds``, as ``status`` does).
    Another organisation's order is NotFound."""
    order = read(lambda s: service.get_order(s, order_no))
    if order.org_id != org_id:
        raise NotFound("订单不存在 (unknown order)")
    if order.channel == "native" and order.status == "reserved" and _query_due(clock, order_no, query_interval_seconds):
        try:
            settle_from_query(pay, clock, certify, order_no, via="query")
        except WeChatUnavailable as error:  # show what we know; the notification or the sweeper will settle it
            log.warning("order %s: status query failed: %s", order_no, error.message)
    return read(lambda s: _organisation_view(s, clock, service.get_order(s, order_no)))


def _organisation_view(session, clock: Clock, order: Order) -> dict[str, Any]:
    return {**service.order_view(session, order, for_operator=True), "code_url": payable_code_url(clock, order)}


def native_qr_png(code_url: str) -> bytes:
    """The PNG of a Native order's code_url, for the organisation's PC page (WeChat leaves drawing it to us)."""
    return render.qr_png(code_url)


def settle_from_query(pay: Pay, clock: Clock, certify, order_no: str, *, via: str) -> str:
    """Ask WeChat whether a still-reserved order was paid (a notification may be late or lost) and act on it."""
    transaction = pay.query(order_no)
    if transaction is None or transaction.trade_state != "SUCCESS":  # USERPAYING, PAYERROR …: nothing paid yet
        return transaction.trade_state if transaction else "unknown at WeChat"
    return _settle(clock, certify, order_no, transaction, via=via)


def _settle(clock: Clock, certify, order_no: str, transaction: Resource, *, via: str) -> str:
    """Deliver against WeChat's SUCCESS record of the order, or queue the order if the record is unlike it."""
    try:
        outcome = atomic(lambda s: service.settle_payment(s, clock(), order_no=order_no, transaction=transaction,
                                                          via=via, certify=certify))
    except NotificationRejected as rejected:  # never deliver against a payment unlike the order: an operator acts
        log.error("order %s: WeChat's record does not match: %s", order_no, rejected.reason)
        reason = rejected.reason
        atomic(lambda s: service.flag_payment_mismatch(s, clock(), order_no, reason, actor=via,
                                                       transaction_id=transaction.transaction_id))
        return "mismatch"
    notices.after_fulfilment(order_no, outcome)
    return outcome


def _query_due(clock: Clock, order_no: str, interval_seconds: int) -> bool:
    """Whether this poll may ask WeChat about the order: no query for it in the last ``interval_seconds``.

    Claimed with SET NX EX, one round trip, in Redis so that every app process counts. The stored claim time is
    compared with the app clock too: where that is not Redis's clock (a test's clock, a skewed host) a claim
    the app clock says is over is taken over, under WATCH so that of two polls only one wins it.
    """
    if interval_seconds <= 0:
        return True
    now = clock().timestamp()
    name = key("wxq", order_no)
    client = get_redis()
    try:
        if client.set(name, repr(now), nx=True, ex=interval_seconds):
            return True
        with client.pipeline() as pipe:
            pipe.watch(name)
            last = pipe.get(name)
            if last is not None and now - float(last) < interval_seconds:
                return False
            pipe.multi()
            pipe.set(name, repr(now), ex=interval_seconds)
            pipe.execute()
            return True
    except redis.WatchError:  # another poll took the claim over a moment ago
        return False
    except redis.RedisError as error:  # rather a query too many than a buyer who never sees the payment
        log.warning("order %s: WeChat query not throttled, Redis unavailable: %s", order_no, error)
        return True


def status(pay: Pay, clock: Clock, certify, *, order_no: str, user_id: int,
           query_interval_seconds: int) -> dict[str, Any]:
    """The order as the buyer should see it now: a reserved order asks WeChat first.

    The mini-program polls while its buyer pays; WeChat is asked at most once per ``query_interval_seconds`` per
    order, and a poll in between answers what we know (a 200, not a 429: the limit spares WeChat's query quota,
    the buyer did nothing wrong, and the payment notification usually settles the order before the next ask).
    """
    def look(session) -> tuple[Order, dict[str, Any]]:
        order = service.get_order(session, order_no, user_id=user_id)
        return order, service.order_view(session, order)

    order, view = read(look)
    if order.status != "reserved" or not _query_due(clock, order_no, query_interval_seconds):
        return view
    try:
        settle_from_query(pay, clock, certify, order_no, via="query")
    except WeChatUnavailable as error:  # show what we know; the notification or the sweeper will settle it
        log.warning("order %s: status query failed: %s", order_no, error.message)
    return read(lambda s: service.order_view(s, service.get_order(s, order_no)))


def request_refund(pay: Pay, clock: Clock, *, order_no: str, user_id: int) -> dict[str, Any]:
    atomic(lambda s: service.request_refund(s, clock(), order_no=order_no, user_id=user_id))
    try:
        send_refund(pay, order_no)
    except WeChatUnavailable as error:  # decided and recorded; the sweeper asks WeChat again
        log.warning("order %s: refund request failed, the sweeper will retry: %s", order_no, error.message)
    return read(lambda s: service.order_view(s, service.get_order(s, order_no)))


def send_refund(pay: Pay, order_no: str) -> None:
    order = read(lambda s: service.get_order(s, order_no))
    answer = pay.refund(order_no=order_no, refund_no=order.refund_no, total_fen=order.amount_fen,
                        refund_fen=order.amount_fen, reason=service.REFUND_REASONS.get(order.refund_reason, "退款"))
    atomic(lambda s: service.record_refund_accepted(s, order_no, answer.get("refund_id") or order.refund_no))


@dataclass
class SweepReport:
    expired: int = 0
    settled: int = 0
    refunds_sent: int = 0
    failed: list[str] = field(default_factory=list)
    for_operator: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        failed = f", {len(self.failed)} failed ({', '.join(self.failed[:5])})" if self.failed else ""
        queued = (f", {len(self.for_operator)} queued for an operator ({', '.join(self.for_operator[:5])})"
                  if self.for_operator else "")
        waiting = (f", {len(self.waiting)} still being paid ({', '.join(self.waiting[:5])})"
                   if self.waiting else "")
        return (f"{self.expired} expired, {self.settled} found paid, {self.refunds_sent} refunds sent to WeChat"
                f"{failed}{queued}{waiting}")


def _expire(clock: Clock, order_no: str) -> str:
    return "expired" if atomic(lambda s: service.expire(s, clock(), order_no)) == "expired" else "gone"


def _queue(clock: Clock, order_no: str, reason: str) -> str:
    log.error("sweeper: order %s goes to the operators: %s", order_no, reason)
    atomic(lambda s: service.flag_unpaid(s, clock(), order_no, reason, actor="sweeper"))
    return "for_operator"


def _act_on(clock: Clock, certify, order: Order, transaction: Resource | None) -> str | None:
    """What WeChat's record settles for an order past its deadline; None when only closing it can tell."""
    if transaction is None:
        if order.prepay_id is None:  # the prepay never reached WeChat: nobody can have paid
            return _expire(clock, order.order_no)
        return _queue(clock, order.order_no, f"微信支付查无此单，但曾下单 (WeChat Pay knows no order {order.order_no}, "
                                             f"though it gave us prepay id {order.prepay_id})")
    state = transaction.trade_state
    if state == "SUCCESS":
        return "for_operator" if _settle(clock, certify, order.order_no, transaction, via="sweeper") == "mismatch" \
            else "settled"
    if state in PAID_STATES:  # REFUND: paid, and refunded since on the merchant platform; nothing for us to undo
        return _queue(clock, order.order_no, f"微信支付记录为已支付后退款 (WeChat records the order paid, then "
                                             f"refunded: {state}); 请在商户平台核对 (check the merchant platform)")
    if state in UNPAYABLE_STATES:
        return _expire(clock, order.order_no)
    if state == PAYING_STATE:  # the payer is typing the password: wait, then ask an operator
        grace = timedelta(seconds=service.NOTIFICATION_GRACE_SECONDS)
        if clock() < as_utc(order.expires_at) + grace:
            return "waiting"
        return _queue(clock, order.order_no, f"微信支付仍显示用户支付中 (WeChat still reports {state} "
                                             f"{service.NOTIFICATION_GRACE_SECONDS} s after the deadline)")
    return None


def sweep_due_order(pay: Pay, clock: Clock, certify, order_no: str) -> str:
    """Settle an order past its deadline by what WeChat Pay records: ``expired``, ``settled``, ``for_operator``,
    ``waiting`` (or ``gone``: settled meanwhile by someone else); WeChatUnavailable to try again next run.

    The rule: an order is released only once WeChat says no payment can come (CLOSED, REVOKED, PAYERROR), or when
    it never reached WeChat at all. Its query is asked before the close and again after it — the close API's
    answer proves nothing (see ``Pay.close``) — so an order any WeChat reports paid is settled, never expired.
    An order WeChat once gave a prepay id for but now says does not exist is not released either: WeChat lost it,
    or this is not the WeChat that took the order (another fake's process, another merchant account), and it
    may have been paid there; releasing could sell the credits a buyer paid for, delivering could give them away
    for nothing, so an operator compares it with the merchant platform.
    """
    order = read(lambda s: service.get_order(s, order_no))
    if order.channel == "offline":  # WeChat never took it: nobody paid it there, and finance records a transfer
        return _expire(clock, order_no)
    outcome = _act_on(clock, certify, order, pay.query(order_no))
    if outcome is not None:
        return outcome
    pay.close(order_no)  # NOTPAY (or a state we do not know): ask WeChat to stop taking payment, then ask again
    outcome = _act_on(clock, certify, order, pay.query(order_no))
    if outcome is not None:
        return outcome
    raise WeChatUnavailable(f"微信支付未能关闭订单 (WeChat Pay still reports order {order_no} payable after closing it)")


def sweep(pay: Pay, clock: Clock, certify, *, limit: int = 200) -> SweepReport:
    """Close and release orders past their deadline that WeChat confirms unpaid; settle those it says were paid;
    queue for an operator what cannot be decided; send decided refunds."""
    report = SweepReport()
    for order_no in read(lambda s: service.due_for_expiry(s, clock(), limit=limit)):
        try:
            outcome = sweep_due_order(pay, clock, certify, order_no)
        except Exception as error:  # one order's trouble must not stop the others being swept
            log.error("sweeper: order %s: %s", order_no, getattr(error, "message", error))
            report.failed.append(order_no)
            continue
        if outcome == "expired":
            report.expired += 1
        elif outcome == "settled":
            report.settled += 1
        elif outcome == "for_operator":
            report.for_operator.append(order_no)
        elif outcome == "waiting":
            report.waiting.append(order_no)
    for order_no in read(lambda s: service.due_for_refund(s, limit=limit)):
        try:
            send_refund(pay, order_no)
            report.refunds_sent += 1
        except Exception as error:
            log.error("sweeper: refund of order %s: %s", order_no, getattr(error, "message", error))
            report.failed.append(order_no)
    return report
