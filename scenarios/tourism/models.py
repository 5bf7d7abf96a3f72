"""碳汇+旅游's records: a scenic area's sites (each with its 小程序码 at the gate), and the visitors' orders that
offset a trip to one."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, Numeric
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


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
