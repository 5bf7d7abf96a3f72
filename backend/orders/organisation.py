"""An organisation's order over HTTP, for every scenario whose record an organisation pays for (an event's offset,
a staff list's tree duty): place it — paid offline by bank transfer, which a platform ``finance`` user records, or
by WeChat Pay Native, a QR on the PC screen —, follow it while it is paid, and draw its QR.

The scenario's handler scopes its record first (another organisation's is a 404) and checks that the order is
the record's; these take the organisation the record belongs to, and the app's settings for the rest.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, make_response

from backend import certificates, wechat
from backend.db import read
from backend.errors import NotFound
from backend.orders import service, workflow

# How long each channel's order holds its credits: a transfer takes days, a QR is scanned at once.
TTL_SETTINGS = {"offline": "OFFLINE_ORDER_TTL_SECONDS", "native": "RESERVATION_TTL_SECONDS"}


def place(*, org_id: int, actor: str, payment: str, idempotency_key: str, listing_id: int, quantity_g: int | None,
          purpose: str, reference: dict[str, Any]) -> dict[str, Any]:
    """Place (or find again, by ``idempotency_key``: the JSON's header, a page form's one-time id) the
    organisation's order; the answer has the ``code_url`` a Native order's QR shows (None for an offline one)."""
    ttl_seconds = current_app.config[TTL_SETTINGS.get(payment, TTL_SETTINGS["offline"])]  # else: the service's 400
    return workflow.place_for_organisation(
        wechat.pay() if payment == "native" else None, current_app.config["CLOCK"], org_id=org_id, actor=actor,
        channel=payment, idempotency_key=idempotency_key, listing_id=listing_id, quantity_g=quantity_g,
        purpose=purpose, reference=reference, ttl_seconds=ttl_seconds)


def status(*, org_id: int, order_no: str) -> dict[str, Any]:
    """The order as the organisation should see it now: an unpaid Native order asks WeChat Pay first (at most
    once per MP_ORDER_QUERY_INTERVAL_SECONDS)."""
    return workflow.organisation_order_status(
        wechat.pay(), current_app.config["CLOCK"], certificates.certify(), order_no=order_no, org_id=org_id,
        query_interval_seconds=current_app.config["MP_ORDER_QUERY_INTERVAL_SECONDS"])


def qr_png(*, org_id: int, order_no: str) -> Response:
    """An unpaid Native order's code_url as a QR code (PNG), to scan with WeChat from the PC screen; NotFound for
    any other order."""
    order = read(lambda s: service.get_order(s, order_no))
    code_url = workflow.payable_code_url(current_app.config["CLOCK"], order) if order.org_id == org_id else None
    if code_url is None:
        raise NotFound("无可扫码支付的订单 (no Native order to pay)")
    response = make_response(workflow.native_qr_png(code_url))
    response.mimetype = "image/png"
    response.headers["Cache-Control"] = "private, no-store"
    return response
