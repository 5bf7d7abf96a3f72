"""Every paid order is fulfilled or being refunded, and each order's state agrees with the ledger."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from backend.ledger.models import PendingResolution, Retirement, Transfer
from backend.ledger.violation import Violation
from backend.orders.models import Order


def check_orders(session: Session) -> list[Violation]:
    found: list[Violation] = []
    resolutions = {r.pending_id: r.outcome for r in session.execute(select(PendingResolution)).scalars()}
    posts = {t.client_id: t for t in session.execute(
        select(Transfer).where(Transfer.code == "POST", Transfer.client_id.like("order:%"))).scalars()}
    corrected = set(session.execute(select(Transfer.corrects_id).where(Transfer.code == "CORRECT")).scalars())
    for order in session.execute(select(Order).order_by(Order.id)).scalars():
        name = f"order {order.order_no} ({order.status})"
        outcome = resolutions.get(order.reservation_id)
        paid = order.status in ("paid", "fulfilled", "refunding", "refunded")
        if order.status == "paid":
            found.append(Violation("order", f"{name} is paid but neither fulfilled nor being refunded"))
        if paid and ((order.transaction_id is None and order.payment_reference is None) or order.paid_at is None):
            found.append(Violation("order", f"{name} has neither a WeChat transaction nor an offline voucher"))
        if order.status == "reserved" and outcome is not None:
            found.append(Violation("order", f"{name}: its reservation is already {outcome}"))
        if order.status == "expired" and outcome not in ("voided", "expired"):
            found.append(Violation("order", f"{name}: its reservation is {outcome or 'still open'}"))
        delivered = order.status == "fulfilled" or (order.status in ("refunding", "refunded")
                                                     and order.refund_reason == "requested_by_buyer")
        post = posts.get(f"order:{order.order_no}:post") or posts.get(f"order:{order.order_no}:post-again")
        if delivered and (post is None or post.amount_g != order.quantity_g or post.batch_id != order.batch_id):
            found.append(Violation("order", f"{name}: no POST of {order.quantity_g} g to the buyer"))
        if order.status in ("refunding", "refunded") and order.refund_reason == "requested_by_buyer" and (
                post is None or post.id not in corrected):
            found.append(Violation("order", f"{name}: refunded, but its credits were not taken back"))
        if order.status in ("refunding", "refunded") and order.refund_reason != "requested_by_buyer" and post:
            found.append(Violation("order", f"{name}: refunded as undeliverable, yet the credits were delivered"))
        if order.status == "fulfilled" and order.purpose != "keep":
            retirement = session.get(Retirement, order.retirement_id) if order.retirement_id else None
            buyer = f"user:{order.user_id}" if order.user_id is not None else f"org:{order.org_id}"
            purpose = "personal" if order.purpose in ("personal", "gift") else order.purpose
            if (retirement is None or retirement.holder != buyer or retirement.purpose != purpose
                    or retirement.quantity_g != order.quantity_g or retirement.batch_id != order.batch_id):
                found.append(Violation("order", f"{name}: no {purpose} retirement of {order.quantity_g} g for the "
                                                "buyer"))
        if order.purpose == "keep" and order.retirement_id is not None:
            found.append(Violation("order", f"{name}: a keep-in-account order was retired"))
    return found
