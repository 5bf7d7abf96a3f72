"""Orders, as a state machine over the ledger (DESIGN.md §4).

reserved ──paid──▶ fulfilled ──refund (keep orders)──▶ refunding ──refund notification──▶ refunded
   │                  ▲
   └──deadline──▶ expired        paid but the credits are gone ──▶ refunding

A payment arrives by notification, by the order-status query or by the sweeper; all three call ``settle_payment``
under the order's row lock, so whichever comes first acts and the others find the work done. WeChat network calls
never run inside a database transaction: the caller makes them before or after its unit of work.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend import audit
from backend.accounts.models import MiniUser
from backend.accounts.service import display_name, get_user
from backend.canonical import sha256_hex
from backend.certificates.service import certificate_of
from backend.clock import as_utc, isoformat_utc
from backend.errors import Conflict, DomainError, IdempotencyConflict, InsufficientCredits, InvalidInput, NotFound
from backend.ledger import operations
from backend.ledger.errors import CorrectionRefused, ProjectNotRegistered, ReservationResolved
from backend.ledger.models import PendingResolution, Transfer
from backend.orders.models import ORDER_CHANNELS, ORDER_CLIENT_PREFIX, ORDER_PURPOSES, Order, PaymentNotification
from backend.orders.purposes import NoLongerOwed, Retiring, scenario_for
from backend.privacy.fingerprint import fingerprint
from backend.registry.models import Organisation
from backend.shop import service as shop
from backend.wechat.errors import NotificationRejected
from backend.wechat.pay import Notification, Resource

log = logging.getLogger(__name__)
CHINA = ZoneInfo("Asia/Shanghai")
PAYER_ACTOR = "wechatpay"
# The ledger holds the credits this much longer than WeChat accepts payment, so a notification that arrives a
# little after the deadline still finds its reservation.
NOTIFICATION_GRACE_SECONDS = 300
RETIRING_PURPOSES = {"personal", "gift"}
REFUND_FAILED_NOTE = "微信退款未成功"
REFUND_REASONS = {"credits_unavailable": "碳汇已售罄，全额退款", "project_suspended": "项目暂停交易，全额退款",
                  "requested_by_buyer": "买家申请退款", "released_before_payment": "订单已关闭，全额退款",
                  "no_longer_owed": "已由他人付清，无需再购，全额退款"}
OFFLINE_REFERENCE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:/\-]{2,63}$")


class RefundRefused(Conflict):
    code = "refund_refused"


class RefundMismatch(NotificationRejected):
    """WeChat's signed refund notification names this order's refund but other money: refused, and the order goes
    to the operators (WeChat signed it, so it is not a forgery to shrug off)."""

    def __init__(self, order_no: str, reason: str) -> None:
        super().__init__(f"order {order_no}: {reason}")
        self.order_no = order_no
        self.mismatch = reason


class UnpaidLimitReached(DomainError):
    """One user's unpaid orders already hold as much as one user may: a 429 until one is paid or expires."""

    status = 429

    def __init__(self, message: str, *, code: str, retry_after: int, details: dict[str, Any]) -> None:
        super().__init__(message, code=code, details={**details, "retry_after": retry_after})
        self.retry_after = retry_after


ORDER_NO_PATTERN = re.compile(r"TH[0-9]{8}[0-9A-F]{12}")


def new_order_no(now: datetime) -> str:
    """TH + Beijing date + 12 random hex digits: 22 characters, within WeChat's 6–32 for out_trade_no."""
    return f"TH{now.astimezone(CHINA):%Y%m%d}{secrets.token_hex(6).upper()}"


def _check_beneficiary(purpose: str, beneficiary_name: str | None) -> str | None:
    if purpose not in ORDER_PURPOSES:
        raise InvalidInput("purpose", f"应为 {', '.join(ORDER_PURPOSES)} 之一 (unknown purpose)")
    if purpose == "gift":
        name = " ".join((beneficiary_name or "").split())
        if not 1 <= len(name) <= 50:
            raise InvalidInput("beneficiary_name", "赠送须写明受赠人姓名，1–50 个字符 (a gift names its beneficiary)")
        return name
    if beneficiary_name is not None:
        raise InvalidInput("beneficiary_name", "仅赠送时填写 (only a gift names a beneficiary)")
    return None


def _check_reference(purpose: str, reference: dict[str, Any] | None) -> dict[str, Any] | None:
    """A scenario purpose needs its record named (``claim_code`` …); no other purpose may name one."""
    given = {name: value for name, value in (reference or {}).items() if value is not None}
    scenario = scenario_for(purpose)
    if scenario is None:
        if purpose not in ("personal", "gift", "keep"):
            raise InvalidInput("purpose", f"暂不支持用途 {purpose} (purpose {purpose} is not available)")
        if given:
            field = sorted(given)[0]
            raise InvalidInput(field, f"用途为 {purpose} 时不填此项 (not used with purpose {purpose})")
        return None
    unknown = sorted(set(given) - set(scenario.reference_fields))
    if unknown:
        raise InvalidInput(unknown[0], f"用途为 {purpose} 时不填此项 (not used with purpose {purpose})")
    missing = [name for name in scenario.reference_fields if name not in given]
    if missing:
        raise InvalidInput(missing[0], f"用途为 {purpose} 时必填 (required with purpose {purpose})")
    return scenario.canonical(given)


def get_order(session: Session, order_no: str, *, user_id: int | None = None, lock: bool = False) -> Order:
    """The order; NotFound also when it belongs to someone else (whose orders are not ours to confirm exist)."""
    order = None
    if ORDER_NO_PATTERN.fullmatch(order_no):  # anything else names no order, and is not echoed back
        query = select(Order).where(Order.order_no == order_no)
        order = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if order is None or (user_id is not None and order.user_id != user_id):
        raise NotFound("订单不存在 (unknown order)")
    return order


def _unpaid(session: Session, now: datetime, user_id: int) -> tuple[int, int, datetime | None]:
    """How many of the user's orders await payment, the grams they hold, and the earliest deadline among them.

    An order past its deadline is no longer payable, so it no longer counts, even before the sweeper releases it.
    """
    count, held_g, earliest = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.quantity_g), 0), func.min(Order.expires_at))
        .where(Order.user_id == user_id, Order.status == "reserved", Order.expires_at > now)).one()
    return count, int(held_g), as_utc(earliest) if earliest is not None else None


def _check_unpaid_limits(session: Session, now: datetime, user_id: int, quantity_g: int, *, field: str,
                         max_unpaid_orders: int, max_reserved_g: int) -> None:
    """Refuse an order that would let one user hold more than their share unpaid (issue 12).

    Called under the user's row lock, so two orders of one user cannot both squeeze under the limit.
    """
    if quantity_g > max_reserved_g:  # no wait would help: a 400, not a 429
        raise InvalidInput(field, f"单笔订单不能超过 {tonnes(max_reserved_g)} 吨 "
                                  f"(one order may hold at most {tonnes(max_reserved_g)} t)",
                           code="reserved_quantity_limit")
    count, held_g, earliest = _unpaid(session, now, user_id)
    if earliest is None:
        return
    retry_after = max(1, math.ceil((earliest - now).total_seconds()))  # when the first of them is paid or expires
    if count >= max_unpaid_orders:
        raise UnpaidLimitReached(
            f"已有 {count} 笔未支付订单，请先支付或等待其过期 "
            f"({count} unpaid orders already; pay one or wait until it expires)",
            code="too_many_unpaid_orders", retry_after=retry_after,
            details={"limit": "unpaid_orders", "allowed": max_unpaid_orders, "unpaid_orders": count})
    if held_g + quantity_g > max_reserved_g:
        raise UnpaidLimitReached(
            f"未支付订单合计不能超过 {tonnes(max_reserved_g)} 吨，请先支付或等待其过期 "
            f"(unpaid orders may hold at most {tonnes(max_reserved_g)} t together; pay one or wait until it "
            "expires)", code="reserved_quantity_limit", retry_after=retry_after,
            details={"limit": "reserved_g", "allowed_g": max_reserved_g, "reserved_g": held_g,
                     "requested_g": quantity_g})


def create(session: Session, now: datetime, *, user_id: int, idempotency_key: str, listing_id: int,
           quantity_g: int | None, footprint_id: str | None, purpose: str, beneficiary_name: str | None,
           ttl_seconds: int, max_unpaid_orders: int, max_reserved_g: int, name_key: bytes,
           reference: dict[str, Any] | None = None) -> tuple[Order, MiniUser]:
    """Price, reserve the credits and record the order; the same key and request gives back the same order.
    Returns it with its buyer (whose row this unit of work has locked).

    A new order must keep the user within ``max_unpaid_orders`` and ``max_reserved_g`` (UnpaidLimitReached); a
    replay of one already placed is answered whatever the limits say now. The request hash covers a gift's
    beneficiary as a keyed fingerprint (``name_key``, backend.privacy): a copy of the order, once its name is
    erased, cannot confirm a guessed one. A scenario purpose names its record in ``reference`` (``claim_code`` …),
    which the scenario checks (backend.orders.purposes).
    """
    beneficiary_name = _check_beneficiary(purpose, beneficiary_name)
    reference = _check_reference(purpose, reference)
    request = {"listing_id": listing_id, "quantity_g": quantity_g, "footprint_id": footprint_id, "purpose": purpose,
               "beneficiary": fingerprint(name_key, beneficiary_name) if beneficiary_name else None}
    if reference is not None:  # only then: orders of the other purposes keep the hashes they had
        request["reference"] = reference
    digest = sha256_hex(request)
    user = get_user(session, user_id, lock=True, active=True)  # one user's orders are made one at a time: a key acts once
    existing = session.execute(select(Order).where(Order.user_id == user_id,
                                                   Order.idempotency_key == idempotency_key)).scalar_one_or_none()
    if existing is not None:
        return _replayed(existing, digest), user
    if reference is not None and footprint_id is not None:
        raise InvalidInput("footprint_id", f"用途为 {purpose} 时按应付数量购买 (give quantity_g with purpose {purpose})")
    priced = _priced(session, now, purpose=purpose, reference=reference, buyer=user.holder, listing_id=listing_id,
                     quantity_g=quantity_g, footprint_id=footprint_id)
    # A scenario whose record bounds what its orders may hold (a case's owed part) lifts the grams limit.
    _check_unpaid_limits(session, now, user_id, priced["quantity_g"],
                         field="quantity_g" if footprint_id is None else "footprint_id",
                         max_unpaid_orders=max_unpaid_orders,
                         max_reserved_g=(operations.MAX_AMOUNT_G
                                         if reference is not None and scenario_for(purpose).bounds_quantity
                                         else max_reserved_g))
    return _reserve_and_record(
        session, now, buyer=user.holder, priced=priced, ttl_seconds=ttl_seconds, reference=reference,
        order=Order(user_id=user_id, idempotency_key=idempotency_key, request_hash=digest, purpose=purpose,
                    beneficiary_name=beneficiary_name, footprint_id=footprint_id, channel="jsapi")), user


def create_for_organisation(session: Session, now: datetime, *, org_id: int, actor: str, channel: str,
                            idempotency_key: str, listing_id: int, quantity_g: int | None, purpose: str,
                            reference: dict[str, Any] | None, ttl_seconds: int) -> Order:
    """An organisation's order, placed by one of its people (``actor``): paid offline by bank transfer, which a
    platform ``finance`` user records (``settle_offline``), or by WeChat Pay Native. Same key, same order."""
    if channel not in ORDER_CHANNELS or channel == "jsapi":
        raise InvalidInput("payment", "应为 offline 或 native (offline or native)")
    _check_beneficiary(purpose, None)
    reference = _check_reference(purpose, reference)
    if reference is None:  # an organisation buys for a record of its own (a case, an event), never to keep
        raise InvalidInput("purpose", "机构订单须用于案件、活动等记录 (an organisation's order is for a record)")
    request = {"listing_id": listing_id, "quantity_g": quantity_g, "purpose": purpose, "channel": channel,
               "reference": reference}
    digest = sha256_hex(request)
    organisation = session.execute(select(Organisation).where(Organisation.id == org_id)
                                   .with_for_update()).scalar_one_or_none()  # one organisation's orders in turn
    if organisation is None:
        raise NotFound("机构不存在 (unknown organisation)")
    existing = session.execute(select(Order).where(Order.org_id == org_id,
                                                   Order.idempotency_key == idempotency_key)).scalar_one_or_none()
    if existing is not None:
        return _replayed(existing, digest)
    priced = _priced(session, now, purpose=purpose, reference=reference, buyer=organisation.holder,
                     listing_id=listing_id, quantity_g=quantity_g, footprint_id=None)
    return _reserve_and_record(
        session, now, buyer=organisation.holder, priced=priced, ttl_seconds=ttl_seconds, reference=reference,
        order=Order(org_id=org_id, placed_by=actor, idempotency_key=idempotency_key, request_hash=digest,
                    purpose=purpose, channel=channel))


def _priced(session: Session, now: datetime, *, purpose: str, reference: dict[str, Any] | None, buyer: str,
            listing_id: int, quantity_g: int | None, footprint_id: str | None) -> dict[str, Any]:
    """The price: for the quantity asked, or — where the scenario prices its orders — for the amount it asks. Not
    whether that much is on sale: the reservation finds out, under lock."""
    scenario = scenario_for(purpose) if reference is not None else None
    if scenario is not None and scenario.prices_orders:
        if quantity_g is not None:
            raise InvalidInput("quantity_g", f"用途为 {purpose} 时金额由规则确定，不填数量 (the rule sets the amount: "
                                             "give no quantity)")
        due = scenario.due(session, now, reference=reference, buyer=buyer)
        return shop.price_amount(session, listing_id=listing_id, amount_fen=due.amount_fen, shares=due.shares)
    return shop.price(session, listing_id=listing_id, quantity_g=quantity_g, footprint_id=footprint_id,
                      min_g=1 if reference is not None else shop.MIN_ORDER_G)


def _replayed(existing: Order, digest: str) -> Order:
    if existing.request_hash != digest:
        raise IdempotencyConflict("该幂等键已用于另一笔订单 (Idempotency-Key already used for another order)",
                                  details={"order_no": existing.order_no})
    return existing


def _reserve_and_record(session: Session, now: datetime, *, buyer: str, priced: dict[str, Any], ttl_seconds: int,
                        reference: dict[str, Any] | None, order: Order) -> Order:
    """Bind the order to its scenario's record (if any), reserve its credits, and store it."""
    listing = shop.get_listing(session, priced["listing_id"], for_sale=True)
    bound = None
    if reference is not None:  # the record is locked here, before the ledger's accounts: one lock order
        bound = scenario_for(order.purpose).bind(
            session, now, reference=reference, buyer=buyer, listing_id=listing.id, quantity_g=priced["quantity_g"],
            amount_fen=priced["amount_fen"], price_fen_per_t=listing.price_fen_per_t)
        if priced["quantity_g"] < bound.min_g:
            raise InvalidInput("quantity_g", f"至少 {bound.min_g} 克 (at least {bound.min_g} g)")
        order.purpose_ref = bound.purpose_ref
    order.order_no = new_order_no(now)
    reservation = operations.reserve(
        session, now, client_id=f"order:{order.order_no}", batch_id=listing.batch_id, from_holder=listing.seller,
        to_holder=buyer, amount_g=priced["quantity_g"], ttl_seconds=ttl_seconds + NOTIFICATION_GRACE_SECONDS,
        actor=order.placed_by or buyer)
    order.listing_id, order.batch_id = listing.id, listing.batch_id
    order.quantity_g, order.price_fen_per_t, order.amount_fen = (priced["quantity_g"], listing.price_fen_per_t,
                                                                 priced["amount_fen"])
    order.fee_bp = listing.fee_bp
    order.status, order.reservation_id = "reserved", reservation.id
    order.expires_at, order.created_at, order.updated_at = now + timedelta(seconds=ttl_seconds), now, now
    session.add(order)
    session.flush()
    if bound is not None and bound.on_created is not None:
        bound.on_created(session, order)
    _audit(session, now, order, order.placed_by or buyer, "order.create", quantity_g=order.quantity_g,
           amount_fen=order.amount_fen, purpose=order.purpose, purpose_ref=order.purpose_ref, channel=order.channel,
           reservation_id=reservation.id)
    return order


def _audit(session: Session, now: datetime, order: Order, actor: str, action: str, **after: Any) -> None:
    audit.append(session, now, actor=actor, action=action, object_type="order", object_id=order.order_no,
                 after={"status": order.status, **after})


def attach_prepay(session: Session, order_no: str, prepay_id: str) -> Order:
    order = get_order(session, order_no, lock=True)
    if order.prepay_id is None:
        order.prepay_id = prepay_id
        session.add(order)
    return order


def tonnes(grams: int) -> str:
    """Exact, in fixed point: 1234567 g is "1.234567" t, as on the certificate (no float rounding)."""
    return format(Decimal(grams).scaleb(-6).normalize(), "f")


def description(order: Order, batch_code: str) -> str:
    """What the payer sees on WeChat's receipt: at most 127 bytes of UTF-8, WeChat's limit."""
    text = f"碳汇+ 林草碳汇 {tonnes(order.quantity_g)} 吨 ({batch_code})"
    return text.encode()[:127].decode(errors="ignore")


# --- payment ---------------------------------------------------------------------------------------------------

def _check_transaction(order: Order, transaction: Resource) -> None:
    """Refuse a payment that is not exactly this order's (the money or the order would drift)."""
    if transaction.trade_state != "SUCCESS":
        raise NotificationRejected(f"order {order.order_no}: trade_state {transaction.trade_state!r}, not SUCCESS")
    if transaction.amount.total != order.amount_fen:
        raise NotificationRejected(f"order {order.order_no}: paid {transaction.amount.total} fen, "
                                   f"the order is {order.amount_fen} fen")
    if transaction.amount.currency not in (None, "CNY"):  # we only ever ask for CNY; fen of anything else are not
        raise NotificationRejected(f"order {order.order_no}: paid in {transaction.amount.currency!r}, not CNY")
    if transaction.transaction_id is None:
        raise NotificationRejected(f"order {order.order_no}: no transaction_id")
    if order.transaction_id is not None and order.transaction_id != transaction.transaction_id:
        raise NotificationRejected(f"order {order.order_no}: already paid by transaction {order.transaction_id}, "
                                   f"not {transaction.transaction_id}")


def settle_payment(session: Session, now: datetime, *, order_no: str, transaction: Resource, via: str,
                   certify) -> str:
    """WeChat says the order is paid: post the credits, retire them for the order's purpose, certify.

    Returns what happened (``fulfilled``, ``already fulfilled`` …); NotificationRejected for a payment that does
    not match the order, which changes nothing.
    """
    return _settle_locked(session, now, get_order(session, order_no, lock=True), transaction=transaction, via=via,
                          certify=certify)


def _settle_locked(session: Session, now: datetime, order: Order, *, transaction: Resource, via: str,
                   certify) -> str:
    if order.resolved_at is not None:  # an operator settled it by hand: it stays so
        if order.status == "expired" and order.transaction_id is None and _matches(order, transaction):
            # The operator released it unpaid (WeChat was still asking for the password, or had lost it), and the
            # payment went through after all: nobody will deliver, so the money goes back.
            order.transaction_id, order.paid_at = transaction.transaction_id, now
            _audit_paid(session, now, order, via)
            _decide_refund(session, now, order, "released_before_payment")
            session.add(order)
            return "refunding: released_before_payment"
        return "resolved by an operator"  # e.g. the mismatched payment the operator refunded by hand
    _check_transaction(order, transaction)
    if order.status not in ("reserved", "expired"):
        return f"already {order.status}"
    retiring, refusal = _before_retire(session, now, order)  # the record first, as in bind: one lock order
    _clear_attention(session, now, order)  # queued while unpaid (still paying, unknown at WeChat): paid now
    order.status, order.transaction_id = "paid", transaction.transaction_id
    order.paid_at = order.updated_at = now
    return _fulfil(session, now, order, via=via, certify=certify, retiring=retiring, refusal=refusal)


def _before_retire(session: Session, now: datetime, order: Order) -> tuple[Retiring | None, NoLongerOwed | None]:
    """A scenario order's record, locked and asked whether it still needs the order (see purposes.py)."""
    scenario = scenario_for(order.purpose) if order.purpose_ref is not None else None
    if scenario is None:
        return None, None
    try:
        return scenario.before_retire(session, now, order), None
    except NoLongerOwed as refused:
        return None, refused


def _fulfil(session: Session, now: datetime, order: Order, *, via: str, certify, retiring: Retiring | None,
            refusal: NoLongerOwed | None, actor: str = PAYER_ACTOR) -> str:
    """Deliver a paid order: post its credits, retire them for its purpose, certify — or, if that cannot be done,
    release the credits and decide the refund. Returns ``fulfilled`` or ``refunding: <reason>``."""
    buyer = get_user(session, order.user_id) if order.org_id is None else None  # None: an organisation's order
    holder = f"org:{order.org_id}" if buyer is None else buyer.holder
    try:
        if refusal is not None:
            raise refusal
        with session.begin_nested():  # all or nothing: delivered and retired, or neither and refunded
            posted_id = _deliver(session, now, order, holder)
            if posted_id is None:
                raise InsufficientCredits("credits gone")
            if retiring is not None or order.purpose in RETIRING_PURPOSES:
                if retiring is None:  # a citizen's own purchase
                    retiring = Retiring(purpose_ref=None,
                                        beneficiary_name=order.beneficiary_name or display_name(buyer))
                # Exactly the serials this order delivered: the lowest the buyer holds may be a kept order's,
                # whose refund must still find them.
                retirement = operations.retire(
                    session, now, client_id=f"order:{order.order_no}:retire", batch_id=order.batch_id,
                    holder=holder, amount_g=order.quantity_g,
                    purpose="personal" if order.purpose in RETIRING_PURPOSES else order.purpose,
                    purpose_ref=retiring.purpose_ref, beneficiary_name=retiring.beneficiary_name,
                    actor=holder, certify=certify, serials_of=posted_id)
                order.retirement_id = retirement.id
                if order.purpose_ref is not None:
                    scenario_for(order.purpose).after_retire(session, now, order, retirement, certify)
    except (InsufficientCredits, ProjectNotRegistered, NoLongerOwed) as error:
        log.warning("order %s paid but cannot be fulfilled, refunding: %s", order.order_no, error)
        reason = {InsufficientCredits: "credits_unavailable", ProjectNotRegistered: "project_suspended",
                  NoLongerOwed: "no_longer_owed"}[next(kind for kind in (InsufficientCredits, ProjectNotRegistered,
                                                                          NoLongerOwed) if isinstance(error, kind))]
        order.retirement_id = None
        if session.get(PendingResolution, order.reservation_id) is None:  # release what the buyer will not get
            reservation = session.get(Transfer, order.reservation_id)
            operations.void(session, now, client_id=f"order:{order.order_no}:void", actor=actor,
                            reservation_id=order.reservation_id, expired=as_utc(reservation.expires_at) <= now)
        _audit_paid(session, now, order, via, actor)
        _decide_refund(session, now, order, reason)
        session.add(order)
        return f"refunding: {reason}"
    _audit_paid(session, now, order, via, actor)
    order.status, order.fulfilled_at = "fulfilled", now
    session.add(order)
    _audit(session, now, order, actor, "order.fulfilled", retirement_id=order.retirement_id)
    return "fulfilled"


def settle_offline(session: Session, now: datetime, *, order_no: str, reference: str, amount_fen: int, actor: str,
                   certify, second_confirmation_fen: int) -> Order:
    """A platform ``finance`` user records the bank transfer that paid an offline order: the order is fulfilled
    as a WeChat payment would fulfil it. From ``second_confirmation_fen`` up, a first record only notes the voucher
    and a second ``finance`` user (another account) must record the same voucher and amount (DESIGN.md §11).
    Recording the same voucher again answers the order; anything the order cannot take (other money, a voucher
    already used, a record no longer owed, credits gone, an order withdrawn) is refused and changes nothing — the
    money goes back the way it came, by bank."""
    if not isinstance(reference, str) or not OFFLINE_REFERENCE.fullmatch(reference):
        raise InvalidInput("reference", "应为 3–64 位字母、数字或 ._:/- 的转账凭证号 (the transfer's voucher reference)")
    reference = reference.upper()  # one voucher, however it is typed
    order = get_order(session, order_no, lock=True)
    if order.channel != "offline":
        raise Conflict("该订单不是线下支付订单 (not an offline order)", code="not_offline",
                       details={"order_no": order_no, "channel": order.channel})
    if order.status == "fulfilled" and order.payment_reference == reference and order.amount_fen == amount_fen:
        return order  # recorded already: the same answer
    if order.status not in ("reserved", "expired") or order.resolved_at is not None:
        raise Conflict(f"订单状态为 {order.status}，不能再入账 (the order is {order.status})", code="order_not_payable",
                       details={"order_no": order_no, "status": order.status})
    if amount_fen != order.amount_fen:
        raise Conflict(f"入账金额 {amount_fen} 分与订单金额 {order.amount_fen} 分不符 (the amount differs from the "
                       "order's)", code="amount_mismatch",
                       details={"order_no": order_no, "amount_fen": order.amount_fen, "recorded_fen": amount_fen})
    if order.payment_reference not in (None, reference):
        raise Conflict(f"本单已登记凭证 {order.payment_reference}，待复核 (another voucher awaits confirmation)",
                       code="reference_mismatch", details={"order_no": order_no})
    retiring, refusal = _before_retire(session, now, order)
    if refusal is not None:
        raise refusal
    first = order.payment_recorded_by
    if amount_fen >= second_confirmation_fen and (first is None or _account_of(first) == _account_of(actor)):
        if first is not None:
            raise Conflict("须由另一位财务人员复核 (a second finance user must confirm this payment)",
                           code="second_confirmation_required", details={"order_no": order_no})
        order.payment_recorded_by, order.updated_at = actor, now
        _claim_reference(session, order, reference)
        _audit(session, now, order, actor, "order.offline_payment_recorded", reference=reference,
               amount_fen=amount_fen)
        return order
    order.status, order.paid_at, order.updated_at = "paid", now, now
    _claim_reference(session, order, reference)
    outcome = _fulfil(session, now, order, via="offline", certify=certify, retiring=retiring, refusal=None,
                      actor=actor)
    if outcome != "fulfilled":  # the caller's unit of work rolls back: nothing was paid here
        raise Conflict(f"订单无法完成，未入账 (the order cannot be fulfilled: {outcome})", code="cannot_fulfil",
                       details={"order_no": order_no, "reason": outcome.partition(": ")[2]})
    return order


def _account_of(actor: str) -> str:
    """``staff:<id>:<username>``, without the token an API call adds: the person, however they called."""
    return actor.split(" ")[0]


def _claim_reference(session: Session, order: Order, reference: str) -> None:
    """Write the voucher now: its unique index makes a second order recording it at the same moment wait for this
    one and then fail, instead of both being paid by one transfer."""
    order_no = order.order_no
    session.flush()  # the rest of the unit of work, outside the savepoint
    try:
        with session.begin_nested():
            order.payment_reference = reference
            session.flush()
    except IntegrityError:
        raise Conflict(f"凭证 {reference} 已用于另一订单 (the voucher already paid another order)",
                       code="reference_used", details={"order_no": order_no}) from None


def cancel_unpaid(session: Session, now: datetime, order_no: str, *, org_id: int, actor: str) -> Order:
    """An organisation withdraws its unpaid offline order: the credits it held go back on sale."""
    order = get_order(session, order_no, lock=True)
    if order.org_id != org_id:
        raise NotFound("订单不存在 (unknown order)")
    if order.status != "reserved" or order.channel != "offline":
        raise Conflict(f"订单状态为 {order.status}，不能撤销 (only an unpaid offline order can be withdrawn)",
                       code="order_not_cancellable", details={"order_no": order_no, "status": order.status})
    if session.get(PendingResolution, order.reservation_id) is None:
        operations.void(session, now, client_id=f"order:{order_no}:void", reservation_id=order.reservation_id,
                        actor=actor)
    # Settled by its organisation: never paid afterwards (settle_offline refuses a resolved order).
    order.status, order.updated_at, order.resolved_at = "expired", now, now
    session.add(order)
    _audit(session, now, order, actor, "order.withdrawn")
    return order


def _matches(order: Order, transaction: Resource) -> bool:
    try:
        _check_transaction(order, transaction)
    except NotificationRejected:
        return False
    return True


def _clear_attention(session: Session, now: datetime, order: Order) -> None:
    """A payment settles an unpaid order an operator was asked to look at: there is nothing left for them."""
    if order.attention is not None:
        before, order.attention = order.attention, None
        _audit(session, now, order, PAYER_ACTOR, "order.attention_cleared", attention=before)


def _audit_paid(session: Session, now: datetime, order: Order, via: str, actor: str = PAYER_ACTOR) -> None:
    # Written after the ledger moved, in the order things happened. (Audit events lock nothing since issue 17;
    # when appending locked the chain's head, taking it here first deadlocked with orders being placed.)
    _audit(session, now, order, actor, "order.paid", transaction_id=order.transaction_id, via=via,
           amount_fen=order.amount_fen, **({"reference": order.payment_reference} if order.payment_reference else {}))


def _deliver(session: Session, now: datetime, order: Order, holder: str) -> int | None:
    """Post the order's credits to the buyer; if the reservation is gone, reserve afresh.

    Returns the POST transfer's id, or None if no credits are left.
    """
    prefix = f"order:{order.order_no}"
    open_until = operations.open_until(session, order.reservation_id)
    if open_until is not None and open_until > now:
        return operations.post(session, now, client_id=f"{prefix}:post", reservation_id=order.reservation_id,
                               actor=PAYER_ACTOR).id
    if open_until is not None:  # paid within WeChat's deadline, heard of after the ledger's grace: release, re-take
        operations.void(session, now, client_id=f"{prefix}:void", reservation_id=order.reservation_id,
                        actor=PAYER_ACTOR, expired=True)
    listing = shop.get_listing(session, order.listing_id)
    try:
        with session.begin_nested():
            again = operations.reserve(session, now, client_id=f"{prefix}:again", batch_id=order.batch_id,
                                       from_holder=listing.seller, to_holder=holder, amount_g=order.quantity_g,
                                       ttl_seconds=60, actor=PAYER_ACTOR)
            posted = operations.post(session, now, client_id=f"{prefix}:post-again", reservation_id=again.id,
                                     actor=PAYER_ACTOR)
    except InsufficientCredits:
        return None
    return posted.id


def _decide_refund(session: Session, now: datetime, order: Order, reason: str) -> None:
    order.status, order.refund_no, order.refund_reason = "refunding", f"{order.order_no}R", reason
    order.updated_at = now
    _audit(session, now, order, f"user:{order.user_id}" if reason == "requested_by_buyer" else PAYER_ACTOR,
           "order.refund", refund_no=order.refund_no, reason=reason)


def _refund_mismatch(order: Order, refund: Resource) -> str | None:
    """What in WeChat's refund record differs from the refund we asked for: always the whole order, in CNY."""
    amount = refund.amount
    if amount.total != order.amount_fen:
        return f"refund of a {amount.total} fen payment, the order is {order.amount_fen} fen"
    if amount.refund != order.amount_fen:
        return f"refunded {amount.refund} fen, we asked for {order.amount_fen} fen"
    if amount.currency not in (None, "CNY"):  # the notification carries no currency; the refund query does
        return f"refunded in {amount.currency!r}, not CNY"
    return None


def settle_refund(session: Session, now: datetime, *, refund: Resource) -> str:
    """WeChat says a refund went through (or failed). RefundMismatch if its amount is not this order's refund."""
    try:
        order = get_order(session, refund.out_trade_no, lock=True)
    except NotFound:
        raise NotificationRejected(f"refund for unknown order {refund.out_trade_no!r}") from None
    if order.refund_no is None or refund.out_refund_no != order.refund_no:
        raise NotificationRejected(f"order {order.order_no}: refund {refund.out_refund_no!r} was never asked for")
    if (mismatch := _refund_mismatch(order, refund)) is not None:
        raise RefundMismatch(order.order_no, mismatch)
    order.refund_id = order.refund_id or refund.refund_id  # WeChat has it: the sweeper must never send it again
    if order.status == "refunded":
        if refund.refund_status == "SUCCESS" and order.resolved_at is not None:  # an operator paid it by hand too
            _flag(session, now, order, "人工退款后微信退款也已成功，买家获两次退款 (refunded by hand and by WeChat: "
                                       "the buyer was refunded twice)", actor=PAYER_ACTOR)
            return "refunded twice"
        return "already refunded"
    if refund.refund_status != "SUCCESS":  # ABNORMAL (the payer's card was closed …) or CLOSED: done by hand
        log.error("order %s: refund %s ended %s; an operator must act", order.order_no, order.refund_no,
                  refund.refund_status)
        _flag(session, now, order, f"{REFUND_FAILED_NOTE} (WeChat refund ended {refund.refund_status}); "
                                   "请在商户平台处理 (settle it on the merchant platform)", actor=PAYER_ACTOR)
        return f"refund {refund.refund_status}"
    # An abnormal refund WeChat completed after all needs no operator any more; any other flag (a refund reported
    # with other money) still does, refunded or not.
    cleared = order.attention if order.attention and order.attention.startswith(REFUND_FAILED_NOTE) else None
    order.status, order.refunded_at, order.updated_at = "refunded", now, now
    if cleared:
        order.attention = None
    session.add(order)
    _audit(session, now, order, PAYER_ACTOR, "order.refunded", refund_id=order.refund_id, cleared=cleared)
    return "refunded"


def record_notification(session: Session, now: datetime, notification: Notification, *, appid: str, mchid: str,
                        certify) -> str:
    """Act on a verified, decrypted notification once: a notification id already acted on changes nothing."""
    resource, event = notification.resource, notification.event_type
    if resource.mchid != mchid or (event.startswith("TRANSACTION.") and resource.appid != appid):
        raise NotificationRejected(f"{event} for another merchant or app: {resource.mchid!r}")
    try:
        order = get_order(session, resource.out_trade_no, lock=True)  # the lock the duplicate check relies on
    except NotFound:
        raise NotificationRejected(f"{event} for unknown order {resource.out_trade_no!r}") from None
    if session.get(PaymentNotification, notification.id) is not None:
        return "duplicate"
    if event == "TRANSACTION.SUCCESS":
        outcome = _settle_locked(session, now, order, transaction=resource, via="notification", certify=certify)
    elif event.startswith("REFUND."):
        outcome = settle_refund(session, now, refund=resource)
    else:
        outcome = f"ignored {event}"
    session.add(PaymentNotification(id=notification.id, event_type=event, order_no=resource.out_trade_no,
                                    outcome=outcome[:40], received_at=now))
    return outcome


# --- expiry and refunds --------------------------------------------------------------------------------------

def due_for_expiry(session: Session, now: datetime, *, limit: int = 200) -> list[str]:
    return list(session.execute(select(Order.order_no).where(Order.status == "reserved", Order.expires_at <= now,
                                                             Order.attention.is_(None))
                                .order_by(Order.expires_at).limit(limit)).scalars())


def due_for_refund(session: Session, *, limit: int = 200) -> list[str]:
    """Refunds decided here that WeChat has not accepted yet."""
    return list(session.execute(select(Order.order_no).where(Order.status == "refunding", Order.refund_id.is_(None),
                                                             Order.attention.is_(None))
                                .order_by(Order.updated_at).limit(limit)).scalars())


# --- orders an operator must resolve ---------------------------------------------------------------------------

def _flag(session: Session, now: datetime, order: Order, reason: str, *, actor: str) -> None:
    reason = reason[:200]
    if order.attention != reason:
        order.attention, order.updated_at = reason, now
        session.add(order)
        _audit(session, now, order, actor, "order.attention", attention=reason)


def flag_payment_mismatch(session: Session, now: datetime, order_no: str, reason: str, *, actor: str,
                          transaction_id: str | None = None) -> None:
    """Queue an unpaid order whose WeChat payment does not match it; the sweeper leaves it alone from now on.
    An order settled meanwhile (an operator resolved it) is not queued again. The payment's transaction id is
    kept: once an operator has refunded it by hand, word of that same payment changes nothing, while a payment
    of an order they released unpaid is refunded (settle_payment)."""
    flag_unpaid(session, now, order_no, f"微信支付记录与订单不符 (WeChat's payment does not match the order): {reason}",
                actor=actor)
    order = get_order(session, order_no, lock=True)
    if order.attention is not None and order.transaction_id is None and transaction_id:
        order.transaction_id = transaction_id
        session.add(order)


def flag_unpaid(session: Session, now: datetime, order_no: str, reason: str, *, actor: str) -> None:
    """Queue a still-reserved order that the code must neither deliver nor release on its own (``reason`` says
    why); an order settled meanwhile is left as it is."""
    order = get_order(session, order_no, lock=True)
    if order.status == "reserved" and order.resolved_at is None:
        _flag(session, now, order, reason, actor=actor)


def flag_refund_mismatch(session: Session, now: datetime, order_no: str, reason: str, *, actor: str) -> None:
    """Queue an order whose refund WeChat reports with other money than was asked; it stays as it was until an
    operator has compared it with the merchant platform and resolves it."""
    _flag(session, now, get_order(session, order_no, lock=True),
          f"微信退款通知金额与订单不符 (WeChat's refund does not match the order): {reason}", actor=actor)


def resolve(session: Session, now: datetime, order_no: str, *, note: str, actor: str) -> Order:
    """An operator settled the order by hand on the WeChat Pay merchant platform (``note``: its reference).

    A refund WeChat could not make was paid by hand: the order is refunded. A payment WeChat records unlike the
    order was refunded there in full: the order delivers nothing, its credits are released, it is expired. An
    order refunded twice stays refunded: the operator recovered the money, or wrote it off.
    """
    order = get_order(session, order_no, lock=True)
    if order.attention is None:
        raise Conflict("该订单无需人工处理 (the order is not waiting for an operator)", code="nothing_to_resolve",
                       details={"order_no": order_no, "status": order.status})
    before = order.attention
    if order.status == "refunding":
        order.status, order.refunded_at = "refunded", now
    elif order.status in ("reserved", "expired"):
        if session.get(PendingResolution, order.reservation_id) is None:
            operations.void(session, now, client_id=f"order:{order_no}:void", reservation_id=order.reservation_id,
                            actor=actor)
        order.status = "expired"
    elif order.status != "refunded":  # no path flags an order in another state; refuse rather than guess
        raise Conflict(f"订单状态 {order.status} 不能这样处理 (cannot resolve an order in this state)",
                       code="nothing_to_resolve", details={"order_no": order_no, "status": order.status})
    order.attention, order.updated_at, order.resolved_at = None, now, now
    session.add(order)
    _audit(session, now, order, actor, "order.resolved", attention=before, note=note)
    return order


def expire(session: Session, now: datetime, order_no: str) -> str:
    """Release an unpaid order's credits (its WeChat order is already closed)."""
    order = get_order(session, order_no, lock=True)
    if order.status != "reserved":
        return f"already {order.status}"
    if as_utc(order.expires_at) > now:
        return "not due"
    try:
        operations.void(session, now, client_id=f"order:{order_no}:void", reservation_id=order.reservation_id,
                        actor="sweeper")
    except ReservationResolved:  # `flask ledger sweep` released it first: nothing left to release
        log.info("order %s: its reservation was already released", order_no)
    order.status, order.updated_at = "expired", now
    session.add(order)
    _audit(session, now, order, "sweeper", "order.expired")
    return "expired"


def request_refund(session: Session, now: datetime, *, order_no: str, user_id: int) -> Order:
    """A ``keep`` order's credits go back to the seller and its money back to the buyer.

    Only before retirement: the POST is corrected exactly, which the ledger refuses once any of those serials
    has moved on (retired, given away).
    """
    order = get_order(session, order_no, user_id=user_id, lock=True)
    if order.status in ("refunding", "refunded"):
        return order
    if order.status != "fulfilled" or order.purpose != "keep":
        raise RefundRefused("只有已完成、存入账户且未注销的订单可以退款 (only a fulfilled keep order can be refunded)",
                            details={"order_no": order_no, "status": order.status, "purpose": order.purpose})
    posted = session.execute(select(Transfer).where(Transfer.code == "POST", Transfer.client_id.in_(
        (f"order:{order_no}:post", f"order:{order_no}:post-again")))).scalar_one()
    try:
        operations.correct(session, now, client_id=f"order:{order_no}:refund", transfer_id=posted.id,
                           reason=f"refund of order {order_no}", actor=f"user:{user_id}")
    except CorrectionRefused as error:
        raise RefundRefused("这些碳汇已使用，不能退款 (the credits have been used and cannot be refunded)",
                            details={"order_no": order_no}) from error
    _decide_refund(session, now, order, "requested_by_buyer")
    session.add(order)
    return order


def refuse_reversing_a_record(session: Session, transfer_id: int) -> None:
    """Credits retired for a scenario's record (a court case, an event …) stay retired: a document (the witness
    certificate) vouches for them, and they must never return to sale. A mistake there is a revocation and a new
    order, not a reversed retirement."""
    transfer = session.get(Transfer, transfer_id)
    if transfer is None or not transfer.client_id.startswith(ORDER_CLIENT_PREFIX):
        return
    order_no = transfer.client_id.split(":")[1]
    order = session.execute(select(Order).where(Order.order_no == order_no)).scalar_one_or_none()
    if order is not None and order.purpose_ref is not None:
        raise CorrectionRefused(f"订单 {order_no} 为{order.purpose}记录购买，其碳汇不能退回 (credits bought for a "
                                "record cannot be taken back)", details={"transfer_id": transfer_id,
                                                                         "order_no": order_no})


def record_refund_accepted(session: Session, order_no: str, refund_id: str) -> None:
    order = get_order(session, order_no, lock=True)
    if order.refund_id is None:
        order.refund_id = refund_id
        session.add(order)


# --- views ---------------------------------------------------------------------------------------------------

def order_view(session: Session, order: Order, *, for_operator: bool = False) -> dict[str, Any]:
    """What the buyer sees (``under_review`` while an operator must act); ``for_operator`` adds why, and who."""
    certificate = certificate_of(session, order.retirement_id) if order.retirement_id else None
    scenario = scenario_for(order.purpose) if order.purpose_ref is not None else None
    if certificate is not None and hasattr(scenario, "document_for"):
        certificate = scenario.document_for(session, order) or certificate
    view = {"order_no": order.order_no, "status": order.status, "purpose": order.purpose,
            "listing_id": order.listing_id, "batch_id": order.batch_id, "quantity_g": order.quantity_g,
            "price_fen_per_t": order.price_fen_per_t, "amount_fen": order.amount_fen,
            "beneficiary_name": order.beneficiary_name, "footprint_id": order.footprint_id,
            "expires_at": isoformat_utc(order.expires_at), "created_at": isoformat_utc(order.created_at),
            "paid_at": isoformat_utc(order.paid_at) if order.paid_at else None,
            "fulfilled_at": isoformat_utc(order.fulfilled_at) if order.fulfilled_at else None,
            "certificate_no": certificate.number if certificate else None,
            "refund_reason": order.refund_reason, "under_review": order.attention is not None,
            "refunded_at": isoformat_utc(order.refunded_at) if order.refunded_at else None,
            "channel": order.channel, "purpose_ref": order.purpose_ref}
    if for_operator:
        view.update(user_id=order.user_id, org_id=order.org_id, placed_by=order.placed_by,
                    payment_reference=order.payment_reference, payment_recorded_by=order.payment_recorded_by,
                    transaction_id=order.transaction_id,
                    refund_no=order.refund_no,
                    attention=order.attention,
                    resolved_at=isoformat_utc(order.resolved_at) if order.resolved_at else None)
    return view


def orders_of(session: Session, user_id: int, *, limit: int = 50) -> list[Order]:
    return list(session.execute(select(Order).where(Order.user_id == user_id)
                                .order_by(Order.id.desc()).limit(limit)).scalars())
