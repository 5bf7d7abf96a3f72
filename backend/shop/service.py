"""Listings and quotes. A price is integer fen per tonne; what a buyer pays is rounded up to the fen, once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend import audit
from backend.errors import Conflict, InvalidInput, NotFound
from backend.footprint.models import FootprintCalculation
from backend.ledger.holders import check_holder
from backend.ledger.models import LedgerAccount
from backend.ledger.operations import check_amount, get_batch
from backend.registry import adcode
from backend.registry.models import Batch, Project
from backend.shop.models import DEFAULT_FEE_BP, Listing

TONNE_G = 1_000_000
MIN_ORDER_G = 1_000  # one kilogram: below that the certificate would be for less than its paper
MAX_PRICE_FEN_PER_T = 100_000_000  # 1,000,000 yuan a tonne: far above any market, far below overflow
LISTING_FIELDS = ("price_fen_per_t", "title", "story", "photo_urls", "location", "active")


def amount_fen(quantity_g: int, price_fen_per_t: int) -> int:
    """What ``quantity_g`` costs, rounded up to the whole fen (the buyer pays up to the fen, DESIGN.md §3)."""
    return -(-quantity_g * price_fen_per_t // TONNE_G)


def _default_location(project: Project) -> str:
    return adcode.full_name(project.county_adcode) or project.county_adcode


def create_listing(session: Session, now: datetime, *, actor: str, batch_id: int, price_fen_per_t: int, title: str,
                   story: str | None = None, photo_urls: list[str] | None = None, location: str | None = None,
                   seller: str = "platform", fee_bp: int = DEFAULT_FEE_BP) -> Listing:
    """Put a batch on sale. The story and location default to the project's description and county."""
    batch = get_batch(session, batch_id)
    check_holder(seller, "seller")
    if session.execute(select(Listing.id).where(Listing.batch_id == batch_id)).first():
        raise Conflict(f"批次 {batch_id} 已上架 (the batch is already listed)", code="already_listed",
                       details={"batch_id": batch_id})
    project = session.get(Project, batch.project_id)
    listing = Listing(batch_id=batch_id, seller=seller, price_fen_per_t=price_fen_per_t, fee_bp=fee_bp, title=title,
                      story=project.description if story is None else story, photo_urls=photo_urls or [],
                      location=_default_location(project) if location is None else location, active=True,
                      created_at=now, updated_at=now)
    session.add(listing)
    session.flush()
    audit.append(session, now, actor=actor, action="listing.create", object_type="listing", object_id=listing.id,
                 after={"batch_id": batch_id, "seller": seller, "price_fen_per_t": price_fen_per_t, "fee_bp": fee_bp,
                        "title": title})
    return listing


def get_listing(session: Session, listing_id: int, *, for_sale: bool = False) -> Listing:
    listing = session.get(Listing, listing_id)
    if listing is None or (for_sale and not listing.active):
        raise NotFound(f"商品 {listing_id} 不存在或已下架 (unknown or withdrawn listing)",
                       details={"listing_id": listing_id})
    return listing


def update_listing(session: Session, now: datetime, *, actor: str, listing_id: int,
                   changes: dict[str, Any]) -> Listing:
    """Change price, texts or whether it is on sale. Orders already made keep the price they were quoted."""
    listing = get_listing(session, listing_id)
    before = {name: getattr(listing, name) for name in changes}
    for name, value in changes.items():
        setattr(listing, name, value)
    listing.updated_at = now
    session.add(listing)
    audit.append(session, now, actor=actor, action="listing.update", object_type="listing", object_id=listing.id,
                 before=before, after=changes)
    return listing


def _available(session: Session, listings: list[Listing]) -> dict[int, int]:
    """Each listing's quantity on sale: its seller's available balance in the batch."""
    wanted = {(listing.seller, listing.batch_id) for listing in listings}
    balance = LedgerAccount.credits_g - LedgerAccount.debits_g
    rows = session.execute(select(LedgerAccount.holder, LedgerAccount.batch_id, balance).where(
        LedgerAccount.kind == "available", LedgerAccount.batch_id.in_({b for _, b in wanted})))
    found = {(holder, batch_id): balance for holder, batch_id, balance in rows if (holder, batch_id) in wanted}
    return {listing.id: found.get((listing.seller, listing.batch_id), 0) for listing in listings}


def listing_views(session: Session, listings: list[Listing], *, for_operator: bool = False) -> list[dict[str, Any]]:
    """What a buyer sees of each listing; an operator also sees the platform's fee."""
    available = _available(session, listings)
    batches = {b.id: b for b in session.execute(
        select(Batch).where(Batch.id.in_({listing.batch_id for listing in listings}))).scalars()}
    projects = {p.id: p for p in session.execute(
        select(Project).where(Project.id.in_({b.project_id for b in batches.values()}))).scalars()}
    views = []
    for listing in listings:
        batch = batches[listing.batch_id]
        project = projects[batch.project_id]
        views.append({
            "id": listing.id, "batch_id": listing.batch_id, "batch_code": batch.code, "vintage": batch.vintage,
            "title": listing.title, "price_fen_per_t": listing.price_fen_per_t,
            "available_g": available[listing.id] if project.state == "registered" else 0,
            "min_order_g": MIN_ORDER_G, "active": listing.active, "story": listing.story,
            "photo_urls": listing.photo_urls, "location": listing.location,
            "project": {"id": project.id, "name": project.name, "ecosystem": project.ecosystem,
                        "county_adcode": project.county_adcode, "area_mu": str(project.area_mu)}})
        if for_operator:
            views[-1]["fee_bp"] = listing.fee_bp
    return views


def listings(session: Session, *, include_withdrawn: bool = False) -> list[Listing]:
    query = select(Listing).order_by(Listing.id)
    if not include_withdrawn:
        query = query.where(Listing.active.is_(True))
    return list(session.execute(query).scalars())


def footprint_total(session: Session, footprint_id: str) -> int:
    """The grams a stored footprint calculation came to (what ``neutralise this`` buys)."""
    found = session.get(FootprintCalculation, footprint_id)
    if found is None:
        raise InvalidInput("footprint_id", "未找到该碳足迹计算 (unknown footprint calculation)")
    if found.total_g < MIN_ORDER_G:  # neutralising 0.3 kg still buys the smallest quantity sold
        return MIN_ORDER_G
    return found.total_g


def grams_for(amount_fen: int, price_fen_per_t: int, shares: int = 1) -> int:
    """What ``amount_fen`` buys in ``shares`` equal parts, each rounded down to the gram: the buyer never gets a gram
    more than was paid for (a threshold-priced order, where money is fixed and grams follow)."""
    return shares * (amount_fen // shares * TONNE_G // price_fen_per_t)


def price_amount(session: Session, *, listing_id: int, amount_fen: int, shares: int = 1) -> dict[str, Any]:
    """What a fixed amount buys from a listing (a scenario's price, purposes.Due); ``listing`` is the row."""
    listing = get_listing(session, listing_id, for_sale=True)
    quantity_g = grams_for(amount_fen, listing.price_fen_per_t, shares)
    if quantity_g < shares:
        raise InvalidInput("listing_id", "该挂牌单价过高，所付金额买不到1克 (the price is too high for the amount)")
    check_amount(quantity_g, "quantity_g")
    return {"listing": listing, "listing_id": listing.id, "batch_id": listing.batch_id, "quantity_g": quantity_g,
            "price_fen_per_t": listing.price_fen_per_t, "amount_fen": amount_fen, "footprint_id": None}


def price(session: Session, *, listing_id: int, quantity_g: int | None = None,
          footprint_id: str | None = None, min_g: int = MIN_ORDER_G) -> dict[str, Any]:
    """What a quantity (or a saved footprint) costs from a listing; ``listing`` is the row. ``min_g``: a scenario's
    order may settle a tail below the kilogram (its scenario sets its own least, purposes.Bound)."""
    if (quantity_g is None) == (footprint_id is None):
        raise InvalidInput("quantity_g", "quantity_g 与 footprint_id 须且只须给出一个 "
                                         "(give either quantity_g or footprint_id)")
    listing = get_listing(session, listing_id, for_sale=True)
    if footprint_id is not None:
        quantity_g = footprint_total(session, footprint_id)
    check_amount(quantity_g, "quantity_g")
    if quantity_g < min_g:
        raise InvalidInput("quantity_g", f"至少 {min_g} 克 (at least {min_g} g)")
    return {"listing": listing, "listing_id": listing.id, "batch_id": listing.batch_id, "quantity_g": quantity_g,
            "price_fen_per_t": listing.price_fen_per_t, "amount_fen": amount_fen(quantity_g, listing.price_fen_per_t),
            "footprint_id": footprint_id}


def _with_availability(session: Session, priced: dict[str, Any]) -> dict[str, Any]:
    """A price as a quote: how much is on sale, and whether that is enough."""
    quote, listing = dict(priced), priced["listing"]
    del quote["listing"]
    available_g = listing_views(session, [listing])[0]["available_g"]
    return {**quote, "available_g": available_g, "enough": available_g >= quote["quantity_g"]}


def quote_amount(session: Session, *, listing_id: int, amount_fen: int, shares: int = 1) -> dict[str, Any]:
    return _with_availability(session, price_amount(session, listing_id=listing_id, amount_fen=amount_fen,
                                                    shares=shares))


def quote(session: Session, *, listing_id: int, quantity_g: int | None = None,
          footprint_id: str | None = None, min_g: int = MIN_ORDER_G) -> dict[str, Any]:
    return _with_availability(session, price(session, listing_id=listing_id, quantity_g=quantity_g,
                                             footprint_id=footprint_id, min_g=min_g))
