"""碳汇+旅游: a verified scenic-area organisation registers its sites; a visitor who scans a site's 小程序码 gets
the trip calculator prefilled for the way there and back, and offsets it with an ordinary order of purpose
``tourism`` bound to the site (``TourismScenario``), whose certificate names the site.

The record is the site (models.Site): a place, the division it lies in (the trip's destination), its coordinates
(to offer the projects nearest it first) and how visitors arrive (the nearest airport or station). A visitor's
order is a ``SiteOffset`` — the row perks (scenarios/tourism/perks.py) and site statistics count.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend import audit
from backend.accounts.service import display_name, get_user
from backend.errors import InvalidInput, NotFound
from backend.footprint.geo import great_circle_km
from backend.footprint.library import Airport, FactorSet
from backend.orders.models import Order
from backend.orders.purposes import Bound, Retiring
from backend.orgs.service import acting_of_kind
from backend.registry import adcode
from backend.registry.models import Organisation
from backend.shop import service as shop
from backend.shop.service import MIN_ORDER_G
from scenarios.tourism import perks
from scenarios.tourism.models import Site, SiteOffset

SCENIC_KINDS = ("scenic_area",)
FIELDS = ("name", "adcode", "latitude", "longitude", "airport", "station", "active")
TRIP_CALCULATOR = "/api/v1/footprint/trip"
DRIVING_KM = 300  # below this a visitor most likely drives (or takes a coach); the mode is theirs to change
FLYING_KM = 800  # from here on a flight is the default where the site names an airport


# --- the record ----------------------------------------------------------------------------------------------

def check_place(changes: dict[str, Any], airports: dict[str, Airport]) -> dict[str, Any]:
    """The fields the schema cannot check alone: a county-level adcode, and an airport the footprint's table
    knows (the calculator measures a flight by it). Codes upper-cased, as the table spells them."""
    if "adcode" in changes and not adcode.is_county(changes["adcode"]):
        raise InvalidInput("adcode", "应为县级行政区划代码，如 510129 (a county-level GB/T 2260 code)")
    if changes.get("airport") is not None:
        code = changes["airport"].upper()
        if code not in airports:
            raise InvalidInput("airport", f"未知机场代码 {code} (an IATA code the airport table knows)")
        changes["airport"] = code
    return changes


def create(session: Session, now: datetime, *, org_id: int, actor: str, fields: dict[str, Any]) -> Site:
    acting_of_kind(session, org_id, SCENIC_KINDS)
    if fields.get("airport") is None and fields.get("station") is None:
        raise InvalidInput("airport", "请填写最近的机场或火车站 (give the nearest airport or station)")
    site = Site(org_id=org_id, created_by=actor, created_at=now, updated_at=now,
                **{name: fields[name] for name in FIELDS if name in fields})
    session.add(site)
    session.flush()
    audit.append(session, now, actor=actor, action="tourism.site.create", object_type="tourism_site",
                 object_id=site.id, after={"org_id": org_id, **_audited(site)})
    return site


def update(session: Session, now: datetime, site_id: int, *, actor: str, changes: dict[str, Any]) -> Site:
    site = get_site(session, site_id, lock=True)
    acting_of_kind(session, site.org_id, SCENIC_KINDS)
    before = _audited(site)
    for name, value in changes.items():
        setattr(site, name, value)
    if site.airport is None and site.station is None:
        raise InvalidInput("airport", "机场和火车站至少保留一项 (keep the nearest airport or station)")
    if audit.append_changes(session, now, actor=actor, action="tourism.site.update", object_type="tourism_site",
                            object_id=site.id, before=before, after=_audited(site)):
        site.updated_at = now
        session.add(site)
    return site


def _audited(site: Site) -> dict[str, Any]:
    return {"name": site.name, "adcode": site.adcode, "latitude": str(site.latitude),
            "longitude": str(site.longitude), "airport": site.airport, "station": site.station,
            "active": site.active}


def get_site(session: Session, site_id: int, *, lock: bool = False) -> Site:
    query = select(Site).where(Site.id == site_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    site = session.execute(query).scalar_one_or_none()
    if site is None:
        raise NotFound("景区点位不存在 (unknown site)")
    return site


def list_sites(session: Session, *, org_ids: list[int] | None) -> list[Site]:
    query = select(Site).order_by(Site.id)
    if org_ids is not None:
        query = query.where(Site.org_id.in_(org_ids))
    return list(session.execute(query).scalars())


def open_to_visitors(session: Session) -> list[Site]:
    """Sites visitors may see and offset at: active, of a verified scenic-area organisation."""
    return list(session.execute(
        select(Site).join(Organisation, Organisation.id == Site.org_id)
        .where(Site.active.is_(True), Organisation.status == "verified", Organisation.kind.in_(SCENIC_KINDS))
        .order_by(Site.id)).scalars())


def visitor_site(session: Session, site_id: int, *, lock: bool = False) -> Site:
    """A site open to visitors, else NotFound: a withdrawn site, or one whose organisation is not (or no longer)
    a verified scenic area, is not one to offset at."""
    site = get_site(session, site_id, lock=lock)
    organisation = session.get(Organisation, site.org_id)
    if not site.active or organisation.status != "verified" or organisation.kind not in SCENIC_KINDS:
        raise NotFound("景区点位不存在 (unknown site)")
    return site


# --- what a visitor sees -------------------------------------------------------------------------------------

def _where(site: Site) -> tuple[float, float]:
    return float(site.latitude), float(site.longitude)


def nearest_airport(factors: FactorSet, point: tuple[float, float]) -> Airport | None:
    """The mainland airport nearest a point (great circle): where a visitor from there would fly from."""
    candidates = [a for a in factors.airports.values() if a.country == "CN"]
    return min(candidates, key=lambda a: (great_circle_km(point, (a.lat, a.lon)), a.iata), default=None)


TRIP_MODES = ("car", "hsr", "flight")


def trip_prefill(site: Site, origin: str | None, factors: FactorSet, *, mode: str | None = None,
                 chosen: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trip calculator's body for a visit (destination = the site's division), and how it was made.

    From the visitor's region (or the origin they chose), one return leg: driven under DRIVING_KM, by high-speed
    rail (where the site names a station) up to FLYING_KM, flown beyond (where it names an airport) from the airport
    nearest the visitor — or by the ``mode`` they chose. Land legs take the great-circle distance rounded up to the
    kilometre — a road or track is longer, so the visitor may correct it; without an origin the legs are left for
    the visitor to add. A chosen origin the place table lacks, or a flight the site cannot take, is a 400."""
    body: dict[str, Any] = {"destination": site.adcode, "legs": []}
    how: dict[str, Any] = {"calculator": TRIP_CALCULATOR, "destination": site.adcode, "origin": None,
                           "mode": mode or ("hsr" if site.station else "flight"), "distance_km": None}
    place = factors.place(origin) if origin else None
    if place is None:
        if chosen:
            raise InvalidInput("origin", "未知出发地代码 (a GB/T 2260 code the place table knows)")
        how["note"] = "请填写出发地和出行方式 (add where you travel from, and how)"
        return body, how
    distance = great_circle_km(place[0], _where(site))
    how["origin"], how["distance_km"] = origin, str(distance)
    flight_from = nearest_airport(factors, place[0]) if site.airport else None
    can_fly = flight_from is not None and flight_from.iata != site.airport
    if mode == "flight" and not can_fly:
        raise InvalidInput("mode", "该点位附近无可飞抵的机场 (no flight to this site from there)")
    if mode == "flight" or (mode is None and distance >= FLYING_KM and can_fly):
        how["mode"] = "flight"
        body["legs"] = [{"mode": "flight", "from": flight_from.iata, "to": site.airport, "round_trip": True}]
    else:
        km = str(max(1, int(distance.to_integral_value(rounding=ROUND_CEILING))))
        how["mode"] = mode or ("hsr" if site.station and distance >= DRIVING_KM else "car")
        leg = {"mode": how["mode"], "km": km, "round_trip": True}
        body["legs"] = [{**leg, "fuel": "petrol"} if how["mode"] == "car" else leg]
    how["note"] = "按大圆距离估算，可修改 (estimated from the straight-line distance; change it if you know better)"
    return body, how


def listings_near(session: Session, site: Site, factors: FactorSet) -> list[dict[str, Any]]:
    """What is on sale, the projects nearest the site first (great circle from the seat of the project's county,
    the coordinates the footprint's place table has; a county it lacks sorts last)."""
    views = []
    for view in shop.listing_views(session, shop.listings(session)):
        if view["available_g"] < MIN_ORDER_G:
            continue
        found = factors.place(view["project"]["county_adcode"])
        distance = great_circle_km(found[0], _where(site)) if found else None
        views.append({**view, "distance_km": None if distance is None else str(distance)})
    return sorted(views, key=lambda v: (v["distance_km"] is None, Decimal(v["distance_km"] or 0), v["id"]))


def site_view(session: Session, site: Site) -> dict[str, Any]:
    organisation = session.get(Organisation, site.org_id)
    return {"id": site.id, "name": site.name, "organisation_id": site.org_id, "organisation": organisation.name,
            "adcode": site.adcode, "region_name": adcode.full_name(site.adcode) or None,
            "latitude": str(site.latitude), "longitude": str(site.longitude), "airport": site.airport,
            "station": site.station, "active": site.active, "offsets": offset_count(session, site.id)}


def offset_count(session: Session, site_id: int) -> dict[str, int]:
    rows = session.execute(select(Order.quantity_g).join(SiteOffset, SiteOffset.order_id == Order.id)
                           .where(SiteOffset.site_id == site_id, Order.status == "fulfilled")).scalars().all()
    return {"count": len(rows), "retired_g": sum(rows)}


# --- the order flow's questions (backend.orders.purposes) -------------------------------------------------------

SITE_REF = "site:"


def site_reference(site: Site) -> str:
    """How a certificate names the site: its name and number (names are not unique across scenic areas)."""
    return f"{site.name}（景区点位 {site.id}）"


class TourismScenario:
    """Binds ``tourism`` orders to the site a visitor offsets their trip to."""

    purpose = "tourism"
    reference_fields = ("site_id",)
    bounds_quantity = False  # the trip is the visitor's to size: the citizen's own limits apply
    prices_orders = False

    def canonical(self, reference: dict[str, Any]) -> dict[str, Any]:
        value = reference["site_id"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
            raise InvalidInput("site_id", "应为景区点位编号 (a site id)")
        return {"site_id": value}

    def bind(self, session: Session, now: datetime, *, reference: dict[str, Any], buyer: str, listing_id: int,
             quantity_g: int, amount_fen: int, price_fen_per_t: int) -> Bound:
        if not buyer.startswith("user:"):  # a visitor offsets their own trip; organisations have no tourism order
            raise InvalidInput("purpose", "旅游抵销由游客本人购买 (a visitor offsets their own trip)")
        # Not locked: nothing about a site bounds what its visitors buy, and a popular gate must not make every
        # visitor's order wait for the one before (a site withdrawn meanwhile still honours orders placed).
        site = visitor_site(session, reference["site_id"])
        return Bound(purpose_ref=f"{SITE_REF}{site.id}", min_g=MIN_ORDER_G,
                     on_created=lambda s, order: s.add(SiteOffset(order_id=order.id, site_id=site.id)))

    def before_retire(self, session: Session, now: datetime, order: Order) -> Retiring:
        # Paid: the trip was made, whatever became of the site since (withdrawn, renamed): it retires as named now.
        site = get_site(session, int(order.purpose_ref.removeprefix(SITE_REF)))
        visitor = get_user(session, order.user_id)
        return Retiring(purpose_ref=site_reference(site), beneficiary_name=display_name(visitor))

    def after_retire(self, session: Session, now: datetime, order: Order, retirement: Any, certify: Any) -> None:
        # The perks this offset earns at the gate (an offer out of stock gives nothing; the offset stands).
        perks.issue_for_offset(session, now, order, get_site(session, int(order.purpose_ref.removeprefix(SITE_REF))))
