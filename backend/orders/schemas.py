"""Response shapes of orders (backend/orders/service.py order_view) and the WeChat Pay notification endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.orders.models import ORDER_CHANNELS, ORDER_PURPOSES, ORDER_STATES
from backend.schemas import Out


class OrderOut(Out):
    order_no: str
    status: Literal[ORDER_STATES]
    purpose: Literal[ORDER_PURPOSES]
    listing_id: int
    batch_id: int
    quantity_g: int
    price_fen_per_t: int
    amount_fen: int
    beneficiary_name: str | None
    footprint_id: str | None
    expires_at: str
    created_at: str
    paid_at: str | None
    fulfilled_at: str | None
    certificate_no: str | None
    refund_reason: str | None
    under_review: bool = Field(description="an operator must act before it can go on")
    refunded_at: str | None
    channel: Literal[ORDER_CHANNELS] = Field(description="jsapi (mini-program), native (a QR on a PC), offline")
    purpose_ref: str | None = Field(description="the scenario record a judicial, event … order is for")


class PayParams(Out):
    """What ``wx.requestPayment`` needs, signed with the merchant key."""

    appId: str
    timeStamp: str
    nonceStr: str
    package: str
    signType: str
    paySign: str


class PlacedOrderOut(OrderOut):
    pay_params: PayParams | None = Field(description="null once it cannot be paid (paid, expired, under review)")


class OperatorOrderOut(OrderOut):
    user_id: int | None
    org_id: int | None
    placed_by: str | None
    payment_reference: str | None = Field(description="an offline payment's voucher, as finance recorded it")
    payment_recorded_by: str | None = Field(description="above the second-confirmation amount: who recorded the "
                                                        "voucher first; another finance user confirms it")
    transaction_id: str | None
    refund_no: str | None
    attention: str | None
    resolved_at: str | None


class NotificationResource(BaseModel):
    algorithm: str
    ciphertext: str
    nonce: str
    associated_data: str | None = None
    original_type: str | None = None


class NotificationIn(BaseModel):
    """WeChat Pay APIv3's notification envelope; ``resource`` is AEAD_AES_256_GCM-encrypted with the APIv3 key.
    The handler verifies the Wechatpay-Signature over the exact bytes before reading any of it."""

    model_config = ConfigDict(extra="allow")
    id: str
    create_time: str
    event_type: str
    resource_type: str
    resource: NotificationResource
    summary: str | None = None


class NotificationAnswer(BaseModel):
    """As WeChat Pay expects: SUCCESS once acted on (or already), FAIL for one refused (nothing changed)."""

    code: Literal["SUCCESS", "FAIL"]
    message: str
