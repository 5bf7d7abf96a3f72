"""权益兑换: perks a site gives those who take part, and the vouchers that carry them to the gate.

A site's organisation (or the platform, on its behalf) defines an offer: what the holder gets, who qualifies —
a tourism offset of at least ``min_g`` at the site, a tree-duty voucher of a region and year (Hainan's rainforest
parks: 30 % off with a Hainan voucher, 10 % with one from elsewhere), or any certificate of the year — when it
issues, how long a voucher stays valid, and how many it may issue.

A voucher comes to a visitor by itself when their offset at the gate qualifies (``issue_for_offset``, from the
order's fulfilment), or when they claim it (``claim``: for offers they qualified for elsewhere). Each person holds
at most one per offer and Beijing year (a unique key, so two claims at once issue one); an offer's ``issued`` rises
in the same guarded UPDATE that checks it against ``stock``, so the stock never goes below zero whatever races.

At the gate a clerk of the site's organisation redeems the code: one guarded UPDATE (not yet redeemed, not expired)
decides, so of two gates scanning the same code at the same moment one redeems and the other is told it was.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend import audit
from backend.certificates.models import Certificate, CertificateRevocation
from backend.clock import as_utc, beijing_date, beijing_midnight, beijing_text, isoformat_utc
from backend.errors import Conflict, InvalidInput, NotFound
from backend.orders.models import Order
from backend.registry import adcode
from backend.registry.models import Organisation
from scenarios.tourism.models import PerkOffer, PerkVoucher, Site, SiteOffset
from scenarios.tree_duty.models import DutyVoucher

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O or U to misread at a gate
CODE_LENGTH = 8  # 32^8 ≈ 10^12: a guess at a gate is hopeless, and a code is typed in two groups of four
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})
TIER_RANK = {"duty": 1, "honour": 2}
TIER_NAMES = {"duty": "尽责", "honour": "荣誉"}
OFFER_FIELDS = ("title", "terms", "kind", "min_g", "duty_region", "duty_outside", "duty_year", "duty_tier",
                "starts_on", "ends_on", "valid_days", "stock")
CHANGEABLE = ("title", "terms", "ends_on", "stock", "active")  # who qualifies is fixed once vouchers are issued


class OutOfStock(Conflict):
    code = "perk_out_of_stock"


# --- codes ------------------------------------------------------------------------------------------------------

def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def canonical_code(text: str) -> str:
    """A code as typed or scanned ("k7m2-9qxd", "K7M2 9QXD", an O for a 0) → its stored form; else a 400."""
    code = "".join(text.split()).replace("-", "").upper().translate(_MISREAD)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        raise InvalidInput("code", "券码应为 8 位字母数字，如 K7M2-9QXD (eight letters and digits)")
    return code


def shown_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


# --- offers -----------------------------------------------------------------------------------------------------

def within(region: str, area: str) -> bool:
    """Whether a county (or prefecture, province) lies within an area given as a province, prefecture or county."""
    return area in (region, region[:4] + "00", region[:2] + "0000")


def check_offer(fields: dict[str, Any], today: date) -> dict[str, Any]:
    """What the schema cannot check alone: each kind's own fields, and nothing of another kind's; the period (it
    starts today when no start is given)."""
    kind = fields["kind"]
    own = {"site_offset": ("min_g",), "tree_duty": ("duty_region", "duty_outside", "duty_year", "duty_tier"),
           "certificate": ()}
    for other, names in own.items():
        for name in names:
            if other != kind and fields.get(name) not in (None, False):
                raise InvalidInput(name, f"仅适用于 {other} 类权益 (only for offers of kind {other})")
    if kind == "site_offset" and fields.get("min_g") is None:
        raise InvalidInput("min_g", "请填写抵销量下限（克）(the least offset that qualifies, in grams)")
    if kind == "tree_duty":
        if fields.get("duty_year") is None:
            raise InvalidInput("duty_year", "请填写义务植树年度 (the duty year the voucher must be of)")
        fields["duty_tier"] = fields.get("duty_tier") or "duty"
        region = fields.get("duty_region")
        if region is not None and region not in adcode.divisions():
            raise InvalidInput("duty_region", "未知行政区划代码 (not a GB/T 2260 division)")
        if fields.get("duty_outside") and region is None:
            raise InvalidInput("duty_outside", "需同时填写 duty_region (outside which region?)")
    fields["starts_on"] = fields.get("starts_on") or today
    if fields.get("ends_on") is not None and fields["ends_on"] < fields["starts_on"]:
        raise InvalidInput("ends_on", "结束日期早于开始日期 (ends before it starts)")
    return fields


def create_offer(session: Session, now: datetime, site: Site, *, actor: str, fields: dict[str, Any]) -> PerkOffer:
    offer = PerkOffer(site_id=site.id, created_by=actor, created_at=now, updated_at=now,
                      **{name: value for name, value in fields.items() if name in OFFER_FIELDS})
    session.add(offer)
    session.flush()
    audit.append(session, now, actor=actor, action="tourism.perk.create", object_type="perk_offer",
                 object_id=offer.id, after={"site_id": site.id, **_audited(offer)})
    return offer


def change_offer(session: Session, now: datetime, offer_id: int, *, actor: str, changes: dict[str, Any]) -> PerkOffer:
    offer = get_offer(session, offer_id, lock=True)
    if changes.get("stock") is not None and changes["stock"] < offer.issued:
        raise InvalidInput("stock", f"不能少于已发放的 {offer.issued} 张 (below the {offer.issued} already issued)")
    if changes.get("ends_on") is not None and changes["ends_on"] < offer.starts_on:
        raise InvalidInput("ends_on", "结束日期早于开始日期 (ends before it starts)")
    before = _audited(offer)
    for name, value in changes.items():
        setattr(offer, name, value)
    if audit.append_changes(session, now, actor=actor, action="tourism.perk.update", object_type="perk_offer",
                            object_id=offer.id, before=before, after=_audited(offer)):
        offer.updated_at = now
        session.add(offer)
    return offer


def _audited(offer: PerkOffer) -> dict[str, Any]:
    return {name: (value.isoformat() if isinstance(value, date) else value)
            for name, value in ((n, getattr(offer, n)) for n in (*OFFER_FIELDS, "active"))}


def get_offer(session: Session, offer_id: int, *, lock: bool = False) -> PerkOffer:
    query = select(PerkOffer).where(PerkOffer.id == offer_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    offer = session.execute(query).scalar_one_or_none()
    if offer is None:
        raise NotFound("权益不存在 (unknown perk offer)")
    return offer


def offers_at(session: Session, site_id: int) -> list[PerkOffer]:
    return list(session.execute(select(PerkOffer).where(PerkOffer.site_id == site_id)
                                .order_by(PerkOffer.id)).scalars())


def is_open(offer: PerkOffer, site: Site, today: date) -> bool:
    """Issuing today: active, begun and not ended, at a site still open."""
    return (offer.active and site.active and offer.starts_on <= today
            and (offer.ends_on is None or today <= offer.ends_on))


def open_offers(session: Session, now: datetime, *, site_id: int | None = None,
                offer_id: int | None = None) -> list[tuple[PerkOffer, Site]]:
    """Offers issuing today at sites open to visitors (a verified scenic area's active sites)."""
    today = beijing_date(now)
    query = (select(PerkOffer, Site).join(Site, Site.id == PerkOffer.site_id)
             .join(Organisation, Organisation.id == Site.org_id)
             .where(PerkOffer.active.is_(True), Site.active.is_(True), Organisation.status == "verified",
                    PerkOffer.starts_on <= today, or_(PerkOffer.ends_on.is_(None), PerkOffer.ends_on >= today))
             .order_by(PerkOffer.id))
    if site_id is not None:
        query = query.where(PerkOffer.site_id == site_id)
    if offer_id is not None:
        query = query.where(PerkOffer.id == offer_id)
    return [(offer, site) for offer, site in session.execute(query).all()]


def condition(offer: PerkOffer, site: Site) -> str:
    """Who qualifies, as a visitor reads it."""
    if offer.kind == "site_offset":
        return f"在「{site.name}」一次抵销旅行碳排放不少于 {_kg(offer.min_g)} 千克"
    if offer.kind == "tree_duty":
        place = "任意地区" if offer.duty_region is None else (adcode.full_name(offer.duty_region) or offer.duty_region)
        where = f"{place}以外" if offer.duty_outside else place
        tier = "荣誉凭证" if offer.duty_tier == "honour" else "尽责凭证或荣誉凭证"
        return f"持有 {offer.duty_year} 年度{where}的全民义务植树{tier}"
    return "持有本年度的任一碳汇注销证书"


def _kg(grams: int) -> str:
    return f"{grams / 1000:g}"


# --- who qualifies --------------------------------------------------------------------------------------------

def evidence_for(session: Session, now: datetime, offer: PerkOffer, user_id: int) -> str | None:
    """What qualifies this person for the offer, as the voucher records it; None: nothing does."""
    today = beijing_date(now)
    revoked = select(CertificateRevocation.certificate_id)
    if offer.kind == "site_offset":
        since = max(offer.starts_on, date(today.year, 1, 1))  # this year's trips, made since the offer began
        order_no = session.execute(
            select(Order.order_no).join(SiteOffset, SiteOffset.order_id == Order.id)
            .join(Certificate, Certificate.retirement_id == Order.retirement_id)
            .where(SiteOffset.site_id == offer.site_id, Order.user_id == user_id, Order.status == "fulfilled",
                   Order.quantity_g >= offer.min_g, Order.fulfilled_at >= beijing_midnight(since),
                   Certificate.id.not_in(revoked))
            .order_by(Order.id).limit(1)).scalars().first()
        return None if order_no is None else f"order:{order_no}"
    if offer.kind == "tree_duty":
        for number, region, tier in session.execute(
                select(Certificate.number, DutyVoucher.region, DutyVoucher.tier)
                .join(Certificate, Certificate.id == DutyVoucher.certificate_id)
                .where(DutyVoucher.person == f"user:{user_id}", DutyVoucher.year == offer.duty_year,
                       Certificate.id.not_in(revoked)).order_by(DutyVoucher.id)):
            inside = offer.duty_region is None or within(region, offer.duty_region)
            if inside != offer.duty_outside and TIER_RANK[tier] >= TIER_RANK[offer.duty_tier]:
                return f"voucher:{number}"
        return None
    number = session.execute(
        select(Certificate.number).join(Order, Order.retirement_id == Certificate.retirement_id)
        .where(Order.user_id == user_id, Order.status == "fulfilled", Certificate.year == today.year,
               Certificate.id.not_in(revoked)).order_by(Certificate.id).limit(1)).scalars().first()
    return None if number is None else f"certificate:{number}"


# --- issuing ----------------------------------------------------------------------------------------------------

def held(session: Session, offer_id: int, user_id: int, year: int) -> PerkVoucher | None:
    return session.execute(select(PerkVoucher).where(PerkVoucher.offer_id == offer_id, PerkVoucher.user_id == user_id,
                                                     PerkVoucher.year == year)).scalar_one_or_none()


def issue(session: Session, now: datetime, offer: PerkOffer, user_id: int,
          evidence: str) -> tuple[PerkVoucher, bool]:
    """The person's voucher under the offer this year, and whether this call issued it: the one they hold (False;
    also when a claim racing this one issued it first), or a new one (True); OutOfStock when none is left. In a
    savepoint, so a refusal leaves the caller's transaction (an order's fulfilment) as it was."""
    today = beijing_date(now)
    for _ in range(4):
        existing = held(session, offer.id, user_id, today.year)
        if existing is not None:
            return existing, False
        voucher = PerkVoucher(offer_id=offer.id, user_id=user_id, year=today.year, code=new_code(), evidence=evidence,
                              issued_at=now, expires_at=beijing_midnight(today + timedelta(days=offer.valid_days)))
        try:
            with session.begin_nested():
                session.add(voucher)
                session.flush()  # the unique keys decide here: a second voucher this year, or a code taken
                taken = session.execute(
                    update(PerkOffer).where(PerkOffer.id == offer.id,
                                            or_(PerkOffer.stock.is_(None), PerkOffer.issued < PerkOffer.stock))
                    .values(issued=PerkOffer.issued + 1).execution_options(synchronize_session=False)).rowcount
                if taken != 1:
                    raise OutOfStock(f"「{offer.title}」已发放完毕 (none left)")
        except IntegrityError:
            continue  # another claim of the same person won (found above next time round), or the code was taken
        session.expire(offer, ["issued"])
        return voucher, True
    raise Conflict("券码生成失败，请重试 (could not issue, try again)")


def issue_for_offset(session: Session, now: datetime, order: Order, site: Site) -> list[PerkVoucher]:
    """The vouchers a visitor's offset at the site earns by itself, in the order's fulfilment. An offer out of
    stock simply gives nothing: the offset stands, and its certificate."""
    issued = []
    for offer, _ in open_offers(session, now, site_id=site.id):
        if offer.kind == "site_offset" and order.quantity_g >= offer.min_g:
            try:
                issued.append(issue(session, now, offer, order.user_id, f"order:{order.order_no}")[0])
            except OutOfStock:
                continue
    return issued


def claim(session: Session, now: datetime, *, user_id: int, offer_id: int) -> tuple[PerkVoucher, bool]:
    """A visitor asks for a voucher under an offer: the one they hold this year (False) — theirs, whether or not
    the offer still issues — or a new one (True) if they qualify and stock is left."""
    existing = held(session, offer_id, user_id, beijing_date(now).year)
    if existing is not None:
        return existing, False
    found = open_offers(session, now, offer_id=offer_id)
    if not found:
        get_offer(session, offer_id)  # unknown: 404
        raise Conflict("该权益当前不可领取 (not being given now)", code="perk_closed")
    [(offer, site)] = found
    evidence = evidence_for(session, now, offer, user_id)
    if evidence is None:
        raise Conflict(f"未满足领取条件：{condition(offer, site)} (you do not qualify)", code="perk_not_qualified")
    return issue(session, now, offer, user_id, evidence)


def vouchers_of(session: Session, user_id: int) -> list[tuple[PerkVoucher, PerkOffer, Site]]:
    return [tuple(row) for row in session.execute(
        select(PerkVoucher, PerkOffer, Site).join(PerkOffer, PerkOffer.id == PerkVoucher.offer_id)
        .join(Site, Site.id == PerkOffer.site_id).where(PerkVoucher.user_id == user_id)
        .order_by(PerkVoucher.id.desc())).all()]


# --- at the gate ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Found:
    voucher: PerkVoucher
    offer: PerkOffer
    site: Site


def find(session: Session, code: str) -> Found:
    row = session.execute(select(PerkVoucher, PerkOffer, Site).join(PerkOffer, PerkOffer.id == PerkVoucher.offer_id)
                          .join(Site, Site.id == PerkOffer.site_id).where(PerkVoucher.code == code)).first()
    if row is None:
        raise NotFound("券码不存在，请核对 (no such voucher: check the code)", code="perk_unknown")
    return Found(*row)


def redeem(session: Session, now: datetime, code: str, *, actor: str, honours: Callable[[int], bool]) -> Found:
    """Redeem a voucher at the gate of an organisation ``honours`` says the clerk acts for. Refused, saying why:
    unknown (404), another scenic area's (409 perk_foreign), already redeemed (409 perk_redeemed, and when),
    expired (409 perk_expired)."""
    found = find(session, code)
    if not honours(found.site.org_id):
        raise Conflict(f"此券为「{found.site.name}」的权益，不在本景区使用 (a voucher for another scenic area)",
                       code="perk_foreign")
    _refuse_spent(found.voucher, now)
    redeemed = session.execute(
        update(PerkVoucher).where(PerkVoucher.id == found.voucher.id, PerkVoucher.redeemed_at.is_(None),
                                  PerkVoucher.expires_at > now)
        .values(redeemed_at=now, redeemed_by=actor).execution_options(synchronize_session=False)).rowcount
    session.refresh(found.voucher)
    if redeemed != 1:  # another gate redeemed it between our look and our update (or it expired meanwhile)
        _refuse_spent(found.voucher, now)
        raise Conflict("核销未成功，请重试 (not redeemed, try again)", code="perk_redeemed")
    audit.append(session, now, actor=actor, action="tourism.perk.redeem", object_type="perk_voucher",
                 object_id=found.voucher.id, after={"offer_id": found.offer.id, "site_id": found.site.id})
    return found


def _refuse_spent(voucher: PerkVoucher, now: datetime) -> None:
    if voucher.redeemed_at is not None:
        raise Conflict(f"此券已于 {beijing_text(voucher.redeemed_at)} 核销 (already redeemed)", code="perk_redeemed")
    if as_utc(voucher.expires_at) <= now:
        raise Conflict(f"此券已于 {beijing_text(voucher.expires_at)} 过期 (expired)", code="perk_expired")


# --- how they read ----------------------------------------------------------------------------------------------

def status(voucher: PerkVoucher, now: datetime) -> str:
    if voucher.redeemed_at is not None:
        return "redeemed"
    return "expired" if as_utc(voucher.expires_at) <= now else "valid"


STATUS_LABELS = {"valid": "可使用 (valid)", "redeemed": "已核销 (redeemed)", "expired": "已过期 (expired)"}


def voucher_view(voucher: PerkVoucher, offer: PerkOffer, site: Site, now: datetime) -> dict[str, Any]:
    state = status(voucher, now)
    return {"code": voucher.code, "code_shown": shown_code(voucher.code), "offer_id": offer.id, "title": offer.title,
            "terms": offer.terms, "site": {"id": site.id, "name": site.name}, "organisation_id": site.org_id,
            "status": state, "status_label": STATUS_LABELS[state], "evidence": voucher.evidence,
            "issued_at": isoformat_utc(voucher.issued_at), "expires_at": isoformat_utc(voucher.expires_at),
            "redeemed_at": None if voucher.redeemed_at is None else isoformat_utc(voucher.redeemed_at),
            "qr": f"/api/mp/v1/perks/{voucher.code}/qr"}


def gate_view(found: Found, now: datetime) -> dict[str, Any]:
    """A voucher as the gate sees it: what to give, where, and its state — not what qualified the holder."""
    view = voucher_view(found.voucher, found.offer, found.site, now)
    return {name: value for name, value in view.items() if name not in ("evidence", "qr")}


def offer_view(offer: PerkOffer, site: Site, now: datetime) -> dict[str, Any]:
    return {"id": offer.id, "site": {"id": site.id, "name": site.name}, "organisation_id": site.org_id,
            "title": offer.title, "terms": offer.terms, "kind": offer.kind, "condition": condition(offer, site),
            "min_g": offer.min_g, "duty_region": offer.duty_region, "duty_outside": offer.duty_outside,
            "duty_year": offer.duty_year, "duty_tier": offer.duty_tier, "starts_on": offer.starts_on.isoformat(),
            "ends_on": None if offer.ends_on is None else offer.ends_on.isoformat(), "valid_days": offer.valid_days,
            "stock": offer.stock, "issued": offer.issued,
            "left": None if offer.stock is None else offer.stock - offer.issued, "active": offer.active,
            "open": is_open(offer, site, beijing_date(now))}
