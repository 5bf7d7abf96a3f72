"""Where a case's credits come from: listings in order of nearness to the damaged place (损益分离 is the critics'
worry: the restored place drifting away from the damaged one). Same county, then prefecture, then province, then
elsewhere; each order records the tier it used and why."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from backend.errors import NotFound
from backend.shop import service as shop

TIERS = ("county", "prefecture", "province", "elsewhere")
FORESTRY = ("forest", "bamboo")
"""Art. 20 allows 经核证的林业碳汇: forest and bamboo projects' credits; grassland credits are not forestry."""
TIER_LABELS = {"county": "同县 (same county)", "prefecture": "同市 (same prefecture)",
               "province": "同省 (same province)", "elsewhere": "省外 (another province)"}
# A money case's last order must spend exactly what is owed: at a price above 10,000 yuan/t one gram costs more
# than a fen, and what is left could never be spent. Far above any market (domain-facts: 40–180 yuan/t).
MAX_MONEY_CASE_PRICE_FEN_PER_T = 1_000_000


def tier_between(damage_region: str, project_county: str) -> str:
    if project_county == damage_region:
        return "county"
    if project_county[:4] == damage_region[:4]:
        return "prefecture"
    if project_county[:2] == damage_region[:2]:
        return "province"
    return "elsewhere"


def offers(session: Session, damage_region: str, *, owed_fen: int | None = None) -> list[dict[str, Any]]:
    """Forestry listings with credits on sale, nearest first (then cheapest): each with its tier."""
    found = []
    for view in shop.listing_views(session, shop.listings(session)):
        if view["available_g"] <= 0 or view["project"]["ecosystem"] not in FORESTRY:
            continue
        if owed_fen is not None and view["price_fen_per_t"] > MAX_MONEY_CASE_PRICE_FEN_PER_T:
            continue
        tier = tier_between(damage_region, view["project"]["county_adcode"])
        for_owed = None
        if owed_fen is not None:
            for_owed = min(owed_fen * 1_000_000 // view["price_fen_per_t"], view["available_g"])
        found.append({"listing_id": view["id"], "tier": tier, "tier_label": TIER_LABELS[tier], "title": view["title"],
                      "project": view["project"], "batch_code": view["batch_code"], "vintage": view["vintage"],
                      "location": view["location"], "price_fen_per_t": view["price_fen_per_t"],
                      "available_g": view["available_g"], "quantity_for_owed_g": for_owed})
    found.sort(key=lambda offer: (TIERS.index(offer["tier"]), offer["price_fen_per_t"], offer["listing_id"]))
    return found


def tier_of(session: Session, damage_region: str, listing_id: int) -> tuple[str, str]:
    """The tier of the listing chosen, and why: nearest available, or chosen over nearer credits on sale."""
    available = offers(session, damage_region)
    chosen = next((offer for offer in available if offer["listing_id"] == listing_id), None)
    if chosen is None:
        raise NotFound(f"商品 {listing_id} 不存在或已售罄 (unknown or sold-out listing)", details={"listing_id": listing_id})
    rank = TIERS.index(chosen["tier"])
    if rank == 0:
        return chosen["tier"], "与受损地同县 (the damaged county's own credits)"
    nearer = [offer for offer in available if TIERS.index(offer["tier"]) < rank]
    if not nearer:
        empty = "、".join(TIER_LABELS[tier].split(" ")[0] for tier in TIERS[:rank])
        return chosen["tier"], f"{empty}无可售碳汇，取最近一级 (nothing on sale nearer: {', '.join(TIERS[:rank])})"
    tonnes = sum(offer["available_g"] for offer in nearer) / 1_000_000
    return chosen["tier"], (f"缴纳人选择较远的碳汇，较近一级尚有 {tonnes:g} 吨可售 (the payer chose farther credits "
                            f"although {tonnes:g} t were on sale nearer)")
