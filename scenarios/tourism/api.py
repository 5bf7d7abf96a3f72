"""碳汇+旅游 over JSON: a scenic area's people register sites and define their perks under /api/org/v1 (a member's
personal token), redeem visitors' perk vouchers at the gate and read a site's statistics; visitors open a site in
the mini-program, hold their perk vouchers and claim those they qualify for. Who may call each route:
backend/access/policy.py."""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, current_app, jsonify, make_response, request

from backend.access.identity import staff_principal
from backend.access.scope import acting_organisation, check_record, readable_organisations
from backend.accounts import sessions
from backend.accounts.auth import require_user
from backend.accounts.service import get_user
from backend.certificates.render import qr_png
from backend.clock import beijing_date
from backend.db import atomic, read
from backend.errors import InvalidInput, NotFound
from backend.footprint import service as footprint
from backend.http import Route, register
from backend.schemas import Items
from backend.staff.principal import Principal
from scenarios.tourism import perks, schemas, service, statistics
from scenarios.tourism.codes import gate_code_response

org_bp = Blueprint("tourism_org_api", __name__, url_prefix="/api/org/v1")
mp_bp = Blueprint("tourism_mp_api", __name__, url_prefix="/api/mp/v1")
SCENIC = service.SCENIC_KINDS
READERS = ("reviewer", "finance", "auditor")


def _now():
    return current_app.config["CLOCK"]()


def site_of_mine(s, site_id: int, least: str):
    """The site, if the signed-in person may see it (viewer: platform readers too, a suspended area's people
    too) or act on it (clerk: of a verified scenic area); another organisation's site is a 404."""
    site = service.get_site(s, site_id)
    check_record(staff_principal(), site.org_id, SCENIC, least, READERS if least == "viewer" else (),
                 acting=least != "viewer", what="景区点位 (site)")
    return site


def _airports():
    return footprint.factor_set(None).airports


def create_site(body: schemas.SiteIn):
    principal = staff_principal()
    org_id = acting_organisation(principal, SCENIC, "clerk", body.org_id)
    fields = service.check_place(body.model_dump(exclude={"org_id"}), _airports())
    now = _now()
    return atomic(lambda s: service.site_view(s, service.create(s, now, org_id=org_id, actor=principal.actor,
                                                                fields=fields)))


def list_sites(query: schemas.Query):
    principal = staff_principal()
    org_ids = readable_organisations(principal, SCENIC, READERS)
    if query.org_id is not None:
        if org_ids is not None and query.org_id not in org_ids:  # another organisation: not yours to learn of
            raise NotFound("机构不存在 (unknown organisation)")
        org_ids = [query.org_id]
    return {"items": read(lambda s: [service.site_view(s, site) for site in service.list_sites(s, org_ids=org_ids)])}


def get_site(site_id: int):
    return read(lambda s: service.site_view(s, site_of_mine(s, site_id, "viewer")))


def change_site(site_id: int, body: schemas.SiteChange):
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("body", "没有要修改的字段 (nothing to change)")
    for name in ("name", "adcode", "latitude", "longitude", "active"):
        if name in changes and changes[name] is None:
            raise InvalidInput(name, "不能为空 (must not be null)")
    changes = service.check_place(changes, _airports())
    principal, now = staff_principal(), _now()

    def act(s):
        site_of_mine(s, site_id, "clerk")
        return service.site_view(s, service.update(s, now, site_id, actor=principal.actor, changes=changes))
    return atomic(act)


def gate_code(site_id: int):
    """The site's 小程序码 to print at the gate (scene s=<id>): made once, then kept."""
    read(lambda s: site_of_mine(s, site_id, "viewer"))
    return gate_code_response(site_id)


# --- visitors (the mini-program) -----------------------------------------------------------------------------

def _visitor_region() -> str | None:
    """The signed-in visitor's region, if they sent their session and their profile has one. Browsing needs no
    login, so a missing or stale token is simply a visitor not known."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    user_id = sessions.user_of(token.strip(), _now(),
                               max_age_seconds=current_app.config["MP_SESSION_MAX_AGE_SECONDS"])
    if user_id is None:
        return None
    return read(lambda s: get_user(s, user_id).region_adcode)


def visitor_sites():
    return {"items": read(lambda s: [service.site_view(s, site) for site in service.open_to_visitors(s)])}


def visitor_site(site_id: int, query: schemas.VisitorSiteQuery):
    """What a visitor sees after scanning the gate's code: the site, the trip calculator's body prefilled (the
    site as destination; from the origin chosen, else the visitor's region when known; by the mode chosen, else by
    distance) and what is on sale, projects nearest first. Offsetting is POST /api/mp/v1/orders with purpose tourism
    and this site_id."""
    origin = query.origin or _visitor_region()
    factors, now = footprint.factor_set(None), _now()

    def view(s):
        site = service.visitor_site(s, site_id)
        body, how = service.trip_prefill(site, origin, factors, mode=query.mode, chosen=query.origin is not None)
        return {**service.site_view(s, site), "trip": body, "trip_prefill": how,
                "perks": [perks.offer_view(offer, site, now)
                          for offer, _ in perks.open_offers(s, now, site_id=site.id)],
                "listings": service.listings_near(s, site, factors)}
    return read(view)


# --- perks: the scenic area's offers, the gate, the statistics ----------------------------------------------

def create_offer(site_id: int, body: schemas.OfferIn):
    """A perk offer at the site: by its organisation's clerk, or by a platform admin on the site's behalf."""
    principal, now = staff_principal(), _now()
    fields = perks.check_offer(body.model_dump(), beijing_date(now))

    def act(s):
        site = site_of_mine(s, site_id, "clerk")
        return perks.offer_view(perks.create_offer(s, now, site, actor=principal.actor, fields=fields), site, now)
    return atomic(act)


def list_offers(site_id: int):
    now = _now()

    def view(s):
        site = site_of_mine(s, site_id, "viewer")
        return [perks.offer_view(offer, site, now) for offer in perks.offers_at(s, site.id)]
    return {"items": read(view)}


def change_offer(offer_id: int, body: schemas.OfferChange):
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("body", "没有要修改的字段 (nothing to change)")
    for name in ("title", "terms", "active"):
        if name in changes and changes[name] is None:
            raise InvalidInput(name, "不能为空 (must not be null)")
    principal, now = staff_principal(), _now()

    def act(s):
        site = site_of_mine(s, perks.get_offer(s, offer_id).site_id, "clerk")
        return perks.offer_view(perks.change_offer(s, now, offer_id, actor=principal.actor, changes=changes), site, now)
    return atomic(act)


def honoured_by(principal: Principal) -> Callable[[int], bool]:
    """Whose vouchers the person redeems at a gate: a platform admin's, any scenic area's; anyone else's, those of
    the verified scenic areas they are a clerk or above of (the JSON route and the redemption page both ask)."""
    def honours(org_id: int) -> bool:
        role = principal.org_role(org_id)
        return principal.has_platform_role("admin") or (
            role is not None and role.kind in SCENIC and role.status == "verified" and role.role != "viewer")
    return honours


def redeem(body: schemas.RedeemIn):
    """At the gate: the code scanned from the visitor's QR or typed. 200 once; then 409 perk_redeemed."""
    principal, now = staff_principal(), _now()
    code = perks.canonical_code(body.code)

    def act(s):
        found = perks.redeem(s, now, code, actor=principal.actor, honours=honoured_by(principal))
        return perks.gate_view(found, now)
    return atomic(act)


def site_stats(site_id: int, query: schemas.StatsQuery):
    first, last = statistics.period(beijing_date(_now()), query.since, query.until)

    def view(s):
        site = site_of_mine(s, site_id, "viewer")
        return statistics.per_day(s, site.id, first, last)
    return read(view)


# --- perks: the visitor's side ------------------------------------------------------------------------------

def my_perks():
    user_id, now = require_user(), _now()
    return {"items": read(lambda s: [perks.voucher_view(*row, now) for row in perks.vouchers_of(s, user_id)])}


def perk_offers():
    """Perks being given today, and for each whether I qualify and whether I hold this year's voucher."""
    user_id, now = require_user(), _now()
    year = beijing_date(now).year

    def view(s):
        return [{**perks.offer_view(offer, site, now),
                 "qualified": perks.evidence_for(s, now, offer, user_id) is not None,
                 "held": perks.held(s, offer.id, user_id, year) is not None}
                for offer, site in perks.open_offers(s, now)]
    return {"items": read(view)}


def claim_perk(body: schemas.ClaimIn):
    """My voucher under an offer I qualify for: 201 when issued now, 200 when I already hold this year's."""
    user_id, now = require_user(), _now()

    def act(s):
        voucher, new = perks.claim(s, now, user_id=user_id, offer_id=body.offer_id)
        found = perks.find(s, voucher.code)
        return perks.voucher_view(found.voucher, found.offer, found.site, now), new
    view, new = atomic(act)
    return jsonify(view), 201 if new else 200


def perk_qr(code: str):
    """My voucher's QR (PNG), holding its code: what the gate scans. Another's code answers as one nobody holds:
    the code is all the gate asks for, so a stranger must not learn which codes are live."""
    user_id = require_user()

    def mine(s):
        try:
            found = perks.find(s, perks.canonical_code(code))
        except (InvalidInput, NotFound):  # a path that names no voucher
            return None
        return found if found.voucher.user_id == user_id else None
    found = read(mine)
    if found is None:
        raise NotFound("券码不存在 (no such voucher)")
    response = make_response(qr_png(found.voucher.code))
    response.mimetype = "image/png"
    response.cache_control.private = True
    return response


SITE = "/sites/<int:site_id>"
ORG_ROUTES = [
    Route("POST", "/sites", create_site, "Register a site of my scenic area", body=schemas.SiteIn, status=201,
          tags=("tourism",), response=schemas.SiteOut, errors=(404, 409),
          description="adcode a county-level code, airport one the airport table knows (400 naming the field)."),
    Route("GET", "/sites", list_sites, "My scenic area's sites", query=schemas.Query, tags=("tourism",),
          response=Items[schemas.SiteOut]),
    Route("GET", SITE, get_site, "One site, with the offsets made at it", tags=("tourism",), response=schemas.SiteOut),
    Route("PATCH", SITE, change_site, "Change a site (active false withdraws it from visitors)",
          body=schemas.SiteChange, tags=("tourism",), response=schemas.SiteOut, errors=(409,)),
    Route("GET", f"{SITE}/gate-code", gate_code, "The site's 小程序码 to print at the gate", tags=("tourism",),
          media_type=("image/jpeg", "image/png"), errors=(503,)),
]
OFFERS = f"{SITE}/perks"
ORG_ROUTES += [
    Route("POST", OFFERS, create_offer, "Define a perk offer at the site (by its clerk, or a platform admin)",
          body=schemas.OfferIn, status=201, tags=("tourism",), response=schemas.OfferOut, errors=(409,)),
    Route("GET", OFFERS, list_offers, "The site's perk offers, issued so far", tags=("tourism",),
          response=Items[schemas.OfferOut]),
    Route("PATCH", "/perks/<int:offer_id>", change_offer, "Change a perk offer (stock, end, wording; withdraw)",
          body=schemas.OfferChange, tags=("tourism",), response=schemas.OfferOut, errors=(409,)),
    Route("POST", "/perks/redeem", redeem, "Redeem a visitor's perk voucher at the gate", body=schemas.RedeemIn,
          tags=("tourism",), response=schemas.RedeemedOut, errors=(404, 409),
          description="200 once; then 409 perk_redeemed (and when). 409 perk_expired, perk_foreign (another "
                      "scenic area's voucher); 404 perk_unknown."),
    Route("GET", f"{SITE}/stats", site_stats, "The site's statistics per Beijing day", query=schemas.StatsQuery,
          tags=("tourism",), response=schemas.StatsOut),
]
MP_ROUTES = [
    Route("GET", "/sites", visitor_sites, "Sites open to visitors", tags=("tourism",),
          response=Items[schemas.SiteOut]),
    Route("GET", SITE, visitor_site, "A site a visitor scanned: the trip calculator's body prefilled, and listings "
          "nearest first", query=schemas.VisitorSiteQuery, tags=("tourism",), response=schemas.VisitorSiteOut),
    Route("GET", "/perks", my_perks, "My perk vouchers, newest first", tags=("tourism",),
          response=Items[schemas.VoucherOut]),
    Route("GET", "/perks/offers", perk_offers, "Perks given today, whether I qualify and hold one",
          tags=("tourism",), response=Items[schemas.VisitorOfferOut]),
    Route("POST", "/perks/claim", claim_perk, "Claim a perk I qualify for", body=schemas.ClaimIn, status=201,
          tags=("tourism",), response=schemas.VoucherOut, errors=(404, 409),
          responses={200: ("the voucher I already hold this year", schemas.VoucherOut)},
          description="201 issued; 200 the voucher I already hold this year. 409 perk_not_qualified (naming who "
                      "qualifies), perk_out_of_stock, perk_closed."),
    Route("GET", "/perks/<code>/qr", perk_qr, "My voucher's QR (PNG), holding its code", tags=("tourism",),
          media_type="image/png", params={"code": r"[0-9A-Za-z-]{8,9}"}),
]
register(org_bp, ORG_ROUTES)
register(mp_bp, MP_ROUTES)
