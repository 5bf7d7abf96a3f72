"""碳汇+旅游 over JSON: a scenic area's people register sites under /api/org/v1/sites (a member's personal token);
visitors open a site in the mini-program. Who may call each route: backend/access/policy.py."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from backend.access.identity import staff_principal
from backend.access.scope import acting_organisation, check_record, readable_organisations
from backend.accounts import sessions
from backend.accounts.service import get_user
from backend.db import atomic, read
from backend.errors import InvalidInput, NotFound
from backend.footprint import service as footprint
from backend.http import Route, register
from backend.schemas import Items
from scenarios.tourism import schemas, service
from scenarios.tourism.codes import gate_code_response

org_bp = Blueprint("tourism_org_api", __name__, url_prefix="/api/org/v1")
mp_bp = Blueprint("tourism_mp_api", __name__, url_prefix="/api/mp/v1")
SCENIC = service.SCENIC_KINDS
READERS = ("reviewer", "finance", "auditor")


def _now():
    return current_app.config["CLOCK"]()


def _site_of_mine(s, site_id: int, least: str, *, acting: bool = True):
    site = service.get_site(s, site_id)
    check_record(staff_principal(), site.org_id, SCENIC, least, READERS if least == "viewer" else (),
                 acting=acting, what="景区点位 (site)")
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
    return read(lambda s: service.site_view(s, _site_of_mine(s, site_id, "viewer", acting=False)))


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
        _site_of_mine(s, site_id, "clerk")
        return service.site_view(s, service.update(s, now, site_id, actor=principal.actor, changes=changes))
    return atomic(act)


def gate_code(site_id: int):
    """The site's 小程序码 to print at the gate (scene s=<id>): made once, then kept."""
    read(lambda s: _site_of_mine(s, site_id, "viewer", acting=False))
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


def visitor_site(site_id: int):
    """What a visitor sees after scanning the gate's code: the site, the trip calculator's body prefilled (the
    site as destination; from the visitor's region when known) and what is on sale, projects nearest first.
    Offsetting is POST /api/mp/v1/orders with purpose tourism and this site_id."""
    origin, factors = _visitor_region(), footprint.factor_set(None)

    def view(s):
        site = service.visitor_site(s, site_id)
        body, how = service.trip_prefill(site, origin, factors)
        return {**service.site_view(s, site), "trip": body, "trip_prefill": how,
                "listings": service.listings_near(s, site, factors)}
    return read(view)


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
MP_ROUTES = [
    Route("GET", "/sites", visitor_sites, "Sites open to visitors", tags=("tourism",),
          response=Items[schemas.SiteOut]),
    Route("GET", SITE, visitor_site, "A site a visitor scanned: the trip calculator's body prefilled, and listings "
          "nearest first", tags=("tourism",), response=schemas.VisitorSiteOut),
]
register(org_bp, ORG_ROUTES)
register(mp_bp, MP_ROUTES)
