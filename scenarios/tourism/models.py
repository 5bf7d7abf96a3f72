"""碳汇+旅游's records: a scenic area's sites (each with its 小程序码 at the gate), the visitors' orders that offset
a trip to one, and the perks sites give (权益兑换): offers, and the vouchers issued under them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime, one_of


class Site(SQLModel, table=True):
    """A place a verified scenic-area organisation receives visitors at (a park's gate, a trail head)."""

    __tablename__ = "tourism_site"
    __table_args__ = (
        CheckConstraint("latitude >= -90 AND latitude <= 90", name="ck_tourism_site_latitude"),
        CheckConstraint("longitude >= -180 AND longitude <= 180", name="ck_tourism_site_longitude"),
        CheckConstraint("airport IS NOT NULL OR station IS NOT NULL", name="ck_tourism_site_access"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=100)
    adcode: str = Field(max_length=6)
    """The county-level GB/T 2260 division the site lies in: the trip calculator's destination."""
    latitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    longitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    """Decimal degrees (as a map shows them); they place the site for "projects nearest first"."""
    airport: str | None = Field(default=None, max_length=3)
    """The nearest airport's IATA code, one the footprint's airport table knows (a flight's destination)."""
    station: str | None = Field(default=None, max_length=60)
    """The nearest railway station's name, for visitors who come by train."""
    active: bool = Field(default=True)
    """An inactive site is hidden from visitors and takes no orders; its orders and certificates stay."""
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class SiteOffset(SQLModel, table=True):
    """A visitor's order offsetting their trip to a site (purpose ``tourism``): what site statistics and perks
    count."""

    __tablename__ = "tourism_site_offset"

    order_id: int = Field(foreign_key="purchase_order.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    site_id: int = Field(foreign_key="tourism_site.id", index=True)


PERK_KINDS = ("site_offset", "tree_duty", "certificate")
"""Who qualifies for a perk offer: a tourism offset of at least ``min_g`` at the offer's site (one order); a
tree-duty voucher of ``duty_year`` whose region lies within (or, ``duty_outside``, outside) ``duty_region``, of at
least ``duty_tier``; or any certificate of the year the perk is claimed in (bought by the visitor themselves)."""
DUTY_TIERS = ("duty", "honour")


class PerkOffer(SQLModel, table=True):
    """A perk a site gives those who take part (权益兑换): 30 % off the ticket for an offset at the gate, or for a
    tree-duty voucher. Defined by the site's organisation, or by the platform on its behalf; honoured at the site,
    by its organisation's clerks. At most one voucher per person and Beijing calendar year; ``issued`` never
    exceeds ``stock``."""

    __tablename__ = "perk_offer"
    __table_args__ = (
        one_of("kind", PERK_KINDS, "ck_perk_offer_kind"),
        CheckConstraint("(kind = 'site_offset') = (min_g IS NOT NULL)", name="ck_perk_offer_min_g"),
        CheckConstraint("(kind = 'tree_duty') = (duty_year IS NOT NULL AND duty_tier IS NOT NULL)",
                        name="ck_perk_offer_duty"),
        CheckConstraint("duty_tier IS NULL OR duty_tier IN ('duty', 'honour')", name="ck_perk_offer_duty_tier"),
        CheckConstraint("issued >= 0 AND (stock IS NULL OR issued <= stock)", name="ck_perk_offer_stock"),
        CheckConstraint("valid_days >= 1 AND valid_days <= 366", name="ck_perk_offer_valid_days"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_perk_offer_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="tourism_site.id", index=True)
    title: str = Field(max_length=40)
    """What the holder gets, as the gate reads it: 门票七折."""
    terms: str = Field(max_length=500)
    """How it is used (which ticket, how many people …)."""
    kind: str = Field(max_length=12)
    min_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    duty_region: str | None = Field(default=None, max_length=6)
    """A province, prefecture or county code (460000: anywhere in 海南); None: any region."""
    duty_outside: bool = False
    """The voucher's region must lie outside ``duty_region`` (Hainan's smaller discount for vouchers from elsewhere)."""
    duty_year: int | None = None
    duty_tier: str | None = Field(default=None, max_length=8)
    """duty: a 尽责凭证 or an 荣誉凭证 qualifies; honour: only an 荣誉凭证."""
    starts_on: date
    ends_on: date | None = None
    """The Beijing days vouchers are issued on; a voucher issued stays valid for ``valid_days`` after its issue."""
    valid_days: int
    stock: int | None = None
    """How many vouchers it may issue in all; None: no limit."""
    issued: int = 0
    active: bool = True
    """False: withdrawn, it issues no more vouchers (those issued are honoured until they expire)."""
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PerkVoucher(SQLModel, table=True):
    """One person's perk: a short code (and its QR) the gate redeems once, before it expires."""

    __tablename__ = "perk_voucher"
    __table_args__ = (
        UniqueConstraint("offer_id", "user_id", "year", name="uq_perk_voucher_once_a_year"),
        CheckConstraint("(redeemed_at IS NULL) = (redeemed_by IS NULL)", name="ck_perk_voucher_redeemed"),
        CheckConstraint("expires_at > issued_at", name="ck_perk_voucher_validity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    offer_id: int = Field(foreign_key="perk_offer.id", index=True)
    user_id: int = Field(foreign_key="mp_user.id", index=True)
    year: int
    """The Beijing year it was issued in: one voucher per offer, person and year."""
    code: str = Field(max_length=8, unique=True)
    """Eight Crockford base-32 characters (shown as two groups of four): what the gate scans or types."""
    evidence: str = Field(max_length=64)
    """What qualified: ``order:<no>`` (an offset), ``voucher:<certificate no>`` (tree duty), ``certificate:<no>``."""
    issued_at: datetime = Field(sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    redeemed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    redeemed_by: str | None = Field(default=None, max_length=128)
