"""The console's money pages for orders: every order with filters (the attention queue is one of them), refunds,
and one order's page where finance resolves what waits for an operator and records an offline order's bank
transfer — a second finance user confirms one above OFFLINE_SECOND_CONFIRMATION_FEN (four eyes). The same domain
functions as the operator API (backend/orders/service.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Literal

from flask import current_app, flash, redirect, request
from pydantic import Field
from sqlalchemy import Select, select
from sqlmodel import Session

from admin import exports, listing
from admin.listing import Sorts, page_of
from admin.schemas import Body, ListDay, Query
from backend import certificates
from backend.access.identity import staff_principal
from backend.audit.models import AuditEvent
from backend.clock import CHINA, as_utc, beijing_text
from backend.db import atomic, read
from backend.errors import DomainError, InvalidInput
from backend.ledger.holders import mask_name
from backend.money import fen_from_yuan, yuan
from backend.orders import service as orders
from backend.orders.models import ORDER_CHANNELS, ORDER_STATES, Order
from backend.staff.web import field_errors, page, page_blueprint, parse_form

bp = page_blueprint("admin_orders", __name__)
ORDERS = Sorts({"created": Order.created_at, "amount": Order.amount_fen, "id": Order.id}, default="created",
               unique=Order.id)
STATE_LABELS = {"reserved": "待支付", "paid": "已支付", "fulfilled": "已完成", "expired": "已过期", "refunding": "退款中",
                "refunded": "已退款"}
CHANNEL_LABELS = {"jsapi": "小程序", "native": "扫码 (Native)", "offline": "线下转账"}


class OrderFilters(Query):
    status: Literal[ORDER_STATES] | None = None
    channel: Literal[ORDER_CHANNELS] | None = None
    purpose: str | None = Field(default=None, max_length=16, pattern=r"^[a-z_]+$")
    attention: Literal["1"] | None = Field(default=None, description="1: only what waits for an operator")
    order_no: str | None = Field(default=None, max_length=32, pattern=r"^[0-9A-Za-z]+$")
    since: ListDay | None = None
    until: ListDay | None = None

    def where(self, statement: Select) -> Select:
        if self.status:
            statement = statement.where(Order.status == self.status)
        if self.channel:
            statement = statement.where(Order.channel == self.channel)
        if self.purpose:
            statement = statement.where(Order.purpose == self.purpose)
        if self.attention:
            statement = statement.where(Order.attention.is_not(None))
        if self.order_no:
            statement = statement.where(Order.order_no.startswith(self.order_no.upper(), autoescape=True))
        if self.since:  # Beijing days, the dates the page shows
            statement = statement.where(Order.created_at >= as_utc(datetime.combine(self.since, time(), CHINA)))
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time(), CHINA)
            statement = statement.where(Order.created_at < as_utc(end))
        return statement


class ResolveForm(Body):
    note: str = Field(min_length=1, max_length=500, description="what was done on the merchant platform")


class OfflinePaymentForm(Body):
    reference: str = Field(min_length=1, max_length=64)
    amount: str = Field(min_length=1, max_length=20, description="yuan, as the bank statement shows it")


def filters_of(args: Mapping[str, str]) -> OrderFilters:
    """The list's filters from a query string's arguments (the page's, or an export's): a 400 names a bad one."""
    return listing.filters_of(OrderFilters, args)


def order_list():
    filters = filters_of(request.args)
    listed = read(lambda s: page_of(s, filters.where(select(Order)), ORDERS))
    return page("admin/orders/list.html", listed=listed, orders=[row[0] for row in listed.rows], filters=filters,
                sorts=ORDERS, states=STATE_LABELS, channels=CHANNEL_LABELS)


def _csv_lines(session, rows) -> list[tuple]:
    return [(o.order_no, o.status, o.channel, o.purpose, o.quantity_g, o.amount_fen, o.fee_bp,
             beijing_text(o.created_at), beijing_text(o.paid_at), beijing_text(o.refunded_at),
             o.payment_reference or "", o.attention or "") for o, in rows]


exports.register("orders", exports.Exportable(
    label="订单", list_endpoint="admin_orders.list",
    columns=("订单号", "状态", "渠道", "用途", "数量(克)", "金额(分)", "费率(基点)", "下单(北京)", "支付(北京)", "退款(北京)",
             "转账凭证", "待处理原因"),
    statement=lambda args: filters_of(args).where(select(Order)), lines=_csv_lines, unique=Order.id))


def order_page(order_no: str, status: int = 200, error: DomainError | None = None):
    _check_order_no(order_no)

    def look(session: Session):
        order = orders.get_order(session, order_no)
        history = list(session.execute(select(AuditEvent).where(AuditEvent.object_type == "order",
                                                                AuditEvent.object_id == order.order_no)
                                       .order_by(AuditEvent.id)).scalars())
        return order, orders.order_view(session, order, for_operator=True), history

    order, view, history = read(look)
    threshold = current_app.config["OFFLINE_SECOND_CONFIRMATION_FEN"]
    payable = order.channel == "offline" and order.status in ("reserved", "expired") and order.resolved_at is None
    return page("admin/orders/order.html", status, order=order, view=view, history=history, error=error,
                errors=field_errors(error), states=STATE_LABELS, channels=CHANNEL_LABELS, payable=payable,
                needs_second=order.amount_fen >= threshold, threshold=threshold,
                beneficiary=mask_name(order.beneficiary_name) if order.beneficiary_name else None)


def resolve(order_no: str):
    actor = staff_principal().actor
    _check_order_no(order_no)
    try:
        form = parse_form(ResolveForm)
        atomic(lambda s: orders.resolve(s, current_app.config["CLOCK"](), order_no, note=form.note, actor=actor))
    except DomainError as error:
        return order_page(order_no, error.status, error)
    flash(f"订单 {order_no} 已处理完毕")
    return redirect(f"/admin/orders/{order_no}")


def record_offline_payment(order_no: str):
    """As the operator API's offline-payment route: the first record of a large transfer waits for a second
    finance user; their matching record fulfils the order."""
    actor, certify = staff_principal().actor, certificates.certify()
    _check_order_no(order_no)
    try:
        form = parse_form(OfflinePaymentForm)
        amount_fen = fen_from_yuan(form.amount, "amount")
        order = atomic(lambda s: orders.settle_offline(
            s, current_app.config["CLOCK"](), order_no=order_no, reference=form.reference, amount_fen=amount_fen,
            actor=actor, certify=certify,
            second_confirmation_fen=current_app.config["OFFLINE_SECOND_CONFIRMATION_FEN"]))
    except DomainError as error:
        return order_page(order_no, error.status, error)
    if order.status == "fulfilled":
        flash(f"已入账 {yuan(order.amount_fen)} 元，订单已完成，证书已生成")
    else:
        flash(f"已登记凭证 {order.payment_reference}，待另一位财务人员复核 (awaiting a second finance user)")
    return redirect(f"/admin/orders/{order_no}")


def _check_order_no(order_no: str) -> None:
    if not orders.ORDER_NO_PATTERN.fullmatch(order_no):
        raise InvalidInput("order_no", "订单号格式不正确 (not an order number)")


bp.add_url_rule("/admin/orders", endpoint="list", view_func=order_list, methods=["GET"])
bp.add_url_rule("/admin/orders/<order_no>", endpoint="order", view_func=order_page, methods=["GET"])
bp.add_url_rule("/admin/orders/<order_no>/resolve", endpoint="resolve", view_func=resolve, methods=["POST"])
bp.add_url_rule("/admin/orders/<order_no>/offline-payment", endpoint="record_offline_payment",
                view_func=record_offline_payment, methods=["POST"])
