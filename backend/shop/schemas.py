"""Response shapes of the shop (backend/shop/service.py): listings and quotes."""

from __future__ import annotations

from pydantic import Field

from backend.schemas import Out


class ListingProject(Out):
    id: int
    name: str
    ecosystem: str
    county_adcode: str
    area_mu: str


class ListingOut(Out):
    id: int
    batch_id: int
    batch_code: str
    vintage: int
    title: str
    price_fen_per_t: int
    available_g: int
    min_order_g: int
    active: bool
    story: str
    photo_urls: list[str]
    location: str
    project: ListingProject


class OperatorListingOut(ListingOut):
    fee_bp: int = Field(description="the platform's fee, basis points of each sale (operators only)")


class QuoteOut(Out):
    listing_id: int
    batch_id: int
    quantity_g: int
    price_fen_per_t: int
    amount_fen: int
    available_g: int
    enough: bool
    footprint_id: str | None
