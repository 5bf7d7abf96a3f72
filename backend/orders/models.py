"""Orders paid with WeChat Pay, and the payment notifications already acted on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime, one_of

ORDER_PURPOSES = ("personal", "gift", "keep", "judicial", "event", "tree_duty", "tourism")
"""personal: retired for the buyer; gift: retired for a named beneficiary; keep: held in the buyer's account. The
others are scenarios' purposes (scenarios/): retired at once for the record ``purpose_ref`` names, whose scenario
checks the order before it is placed and again before its credits retire (backend.orders.purposes)."""
ORDER_CHANNELS = ("jsapi", "native", "offline")
"""How it is paid: WeChat Pay in the mini-program (JSAPI), WeChat Pay from a QR on a PC screen (Native), or by bank
transfer that a platform ``finance`` user records (offline)."""
ORDER_STATES = ("reserved", "paid", "fulfilled", "expired", "refunding", "refunded")
"""reserved → paid → fulfilled (→ refunding → refunded, keep orders only); reserved → expired. ``paid`` is
momentary: a paid order is fulfilled in the same transaction, unless its credits are gone (then it is refunded)."""


# Every ledger transfer an order makes has a client id starting with this; no one else may use it (the admin API
# refuses such keys), so `ledger sweep` can leave order reservations to the order sweeper.
ORDER_CLIENT_PREFIX = "order:"


class Order(SQLModel, table=True):
    __tablename__ = "purchase_order"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_order_user_idempotency_key"),
        UniqueConstraint("org_id", "idempotency_key", name="uq_order_org_idempotency_key"),
        UniqueConstraint("payment_reference", name="uq_order_payment_reference"),
        CheckConstraint("(user_id IS NULL) <> (org_id IS NULL)", name="ck_order_one_buyer"),
        one_of("channel", ORDER_CHANNELS, "ck_order_channel"),
        CheckConstraint("amount_fen > 0", name="ck_order_amount_positive"),
        CheckConstraint("quantity_g > 0", name="ck_order_quantity_positive"),
        one_of("purpose", ORDER_PURPOSES, "ck_order_purpose"),
        one_of("status", ORDER_STATES, "ck_order_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(max_length=32, unique=True)
    """Our out_trade_no at WeChat Pay."""
    user_id: int | None = Field(default=None, foreign_key="mp_user.id", index=True)
    """The citizen who buys; or ``org_id``, the organisation (exactly one of the two)."""
    org_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    placed_by: str | None = Field(default=None, max_length=128)
    """The staff member (``staff:<id>``) who placed an organisation's order."""
    channel: str = Field(default="jsapi", max_length=16)
    idempotency_key: str = Field(max_length=64)
    request_hash: str = Field(max_length=64)
    listing_id: int = Field(foreign_key="listing.id")
    batch_id: int = Field(foreign_key="batch.id")
    quantity_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    price_fen_per_t: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee_bp: int = Field(default=0)
    """The listing's platform fee when the order was placed (basis points of ``amount_fen``): what settlement keeps
    back from the project's owner for this sale, and gives back if it is refunded."""
    purpose: str = Field(max_length=16)
    beneficiary_name: str | None = Field(default=None, max_length=200)
    footprint_id: str | None = Field(default=None, max_length=26)
    """The saved footprint this order neutralises, when it was bought with ``neutralise this``."""
    purpose_ref: str | None = Field(default=None, max_length=64, index=True)
    """A scenario purpose's record, in that scenario's words (``case-payer:12``, ``event:7`` …)."""
    payment_reference: str | None = Field(default=None, max_length=64)
    """An offline payment's voucher (bank transfer reference, upper case), as ``finance`` recorded it: one voucher
    pays one order (unique)."""
    payment_recorded_by: str | None = Field(default=None, max_length=128)
    """Above OFFLINE_SECOND_CONFIRMATION_FEN, the first ``finance`` user who recorded the voucher; a second one
    confirms it, and only then is the order fulfilled."""
    status: str = Field(default="reserved", max_length=16, index=True)
    reservation_id: int = Field(foreign_key="transfer.id")
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    prepay_id: str | None = Field(default=None, max_length=64)
    transaction_id: str | None = Field(default=None, max_length=32)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    retirement_id: int | None = Field(default=None, foreign_key="retirement.id", index=True)
    fulfilled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refund_no: str | None = Field(default=None, max_length=64)
    """Our out_refund_no, set when a refund is decided; ``refund_id`` is WeChat's, set once WeChat accepted it."""
    refund_id: str | None = Field(default=None, max_length=64)
    refund_reason: str | None = Field(default=None, max_length=80)
    refunded_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    attention: str | None = Field(default=None, max_length=200)
    """Why an operator must act: WeChat records a payment unlike the order, or could not make a refund. The
    sweeper leaves the order alone until an operator resolves it (``resolve``)."""
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When an operator last settled the order by hand; a payment heard of later is not acted on."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PaymentNotification(SQLModel, table=True):
    """A WeChat Pay notification we acted on. Its id is the primary key, so the same notification acts once."""

    __tablename__ = "payment_notification"

    id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=40)
    order_no: str = Field(max_length=32, index=True)
    outcome: str = Field(max_length=40)
    received_at: datetime = Field(sa_type=UTCDateTime)
