"""What must hold of 碳汇+旅游: every site belongs to a scenic area; every order bound to a site is a tourism
order naming that site, and every tourism order is bound to one; a fulfilled one's retirement says tourism. Every
offer's ``issued`` is the count of its vouchers and never above its stock; a voucher was issued while its offer
was issuing, and redeemed (if it was) before it expired."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from backend.clock import as_utc, beijing_date
from backend.ledger.models import Retirement
from backend.ledger.violation import Violation
from backend.orders.models import Order
from backend.registry.models import Organisation
from scenarios.tourism.models import PerkOffer, PerkVoucher, Site, SiteOffset
from scenarios.tourism.service import SCENIC_KINDS, SITE_REF


def check_tourism(session: Session) -> list[Violation]:
    found: list[Violation] = []
    for site_id, kind in session.execute(select(Site.id, Organisation.kind)
                                         .join(Organisation, Organisation.id == Site.org_id)):
        if kind not in SCENIC_KINDS:
            found.append(Violation("tourism", f"site {site_id}: its organisation is a {kind}, not a scenic area"))
    bound = dict(session.execute(select(SiteOffset.order_id, SiteOffset.site_id)).all())
    for order in session.execute(select(Order).where(
            (Order.purpose == "tourism") | Order.id.in_(list(bound) or [0]))).scalars():
        site_id = bound.get(order.id)
        if order.purpose != "tourism" or site_id is None or order.purpose_ref != f"{SITE_REF}{site_id}":
            found.append(Violation("tourism", f"order {order.order_no}: a tourism order and its site disagree"))
            continue
        if order.status == "fulfilled":
            retirement = session.get(Retirement, order.retirement_id)
            if retirement is None or retirement.purpose != "tourism":
                found.append(Violation("tourism", f"order {order.order_no}: fulfilled, not retired for tourism"))
    return found + check_perks(session)


def check_perks(session: Session) -> list[Violation]:
    found: list[Violation] = []
    counted = dict(session.execute(select(PerkVoucher.offer_id, func.count()).group_by(PerkVoucher.offer_id)).all())
    offers = {offer.id: offer for offer in session.execute(select(PerkOffer)).scalars()}
    for offer in offers.values():
        if offer.issued != counted.get(offer.id, 0) or (offer.stock is not None and offer.issued > offer.stock):
            found.append(Violation("tourism", f"perk offer {offer.id}: issued {offer.issued}, vouchers "
                                              f"{counted.get(offer.id, 0)}, stock {offer.stock}"))
    for voucher in session.execute(select(PerkVoucher)).scalars():
        offer, day = offers[voucher.offer_id], beijing_date(voucher.issued_at)
        if day < offer.starts_on or day.year != voucher.year:
            found.append(Violation("tourism", f"perk voucher {voucher.id}: issued outside its offer's period"))
        if voucher.redeemed_at is not None and as_utc(voucher.redeemed_at) >= as_utc(voucher.expires_at):
            found.append(Violation("tourism", f"perk voucher {voucher.id}: redeemed after it expired"))
    return found
