"""碳汇+旅游 for a scenic area's people, as pages under /org/ (session cookie; the JSON under /api/org/v1 takes
personal tokens only): the sites; a site's page with its facts, the gate's 小程序码, its perk offers (the form to
define one, the button to withdraw one) and its statistics per Beijing day (an ECharts chart served by the app,
and the same numbers in a table for a page without script); and the redemption page at the gate, where a handheld
scanner types a voucher's code and Enter.

Who may open each page: backend/access/policy.py; each handler scopes the site itself, so another scenic area's
site is a 404. The handlers call the same domain functions as the JSON (scenarios/tourism/api.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import current_app, flash, redirect, request, url_for
from pydantic import ValidationError

from backend.access.identity import staff_principal
from backend.access.scope import check_record, readable_organisations
from backend.clock import beijing_date
from backend.db import atomic, read
from backend.errors import DomainError, Forbidden, InvalidInput, NotFound
from backend.http import refuse_nul, validation_error
from backend.staff.principal import Principal
from backend.staff.web import field_errors, page, page_blueprint
from scenarios.tourism import perks, schemas, service, statistics
from scenarios.tourism.api import honoured_by, site_of_mine
from scenarios.tourism.codes import gate_code_response
from scenarios.tourism.models import DUTY_TIERS, PERK_KINDS

bp = page_blueprint("tourism_pages", __name__)
SCENIC = service.SCENIC_KINDS
READERS = ("reviewer", "finance", "auditor")
KIND_LABELS = {"site_offset": "在本点位抵销 (an offset at this site)",
               "tree_duty": "义务植树凭证 (a tree-duty voucher)",
               "certificate": "本年度任一注销证书 (any certificate of the year)"}
TIER_LABELS = {"duty": "尽责凭证及以上 (duty or honour)", "honour": "仅荣誉凭证 (honour only)"}
OFFER_FORM = ("title", "terms", "kind", "min_g", "duty_region", "duty_year", "duty_tier", "starts_on", "ends_on",
              "valid_days", "stock")
NEW_OFFER = {"kind": "site_offset", "valid_days": "30"}


def _now():
    return current_app.config["CLOCK"]()


def kilograms(grams: int) -> str:
    """Grams as kilograms, exact: 5000 → "5", 1234567 → "1,234.567"."""
    return format(Decimal(grams) / 1000, ",f")


WORDS = dict(kg=kilograms, kinds=KIND_LABELS, tiers=TIER_LABELS)


def _may(principal: Principal, org_id: int, least: str) -> bool:
    try:
        check_record(principal, org_id, SCENIC, least)
    except (NotFound, Forbidden):
        return False
    return True


def _redeems(principal: Principal) -> bool:
    """Whether the person may redeem at a gate at all (the redemption page's link)."""
    honours = honoured_by(principal)
    return principal.has_platform_role("admin") or any(honours(org_id) for org_id in principal.organisations)


# --- the sites ---------------------------------------------------------------------------------------------------

def list_sites():
    principal = staff_principal()
    org_ids = readable_organisations(principal, SCENIC, READERS)
    rows = read(lambda s: [service.site_view(s, site) for site in service.list_sites(s, org_ids=org_ids)])
    return page("tourism/sites.html", rows=rows, many=org_ids is None or len(org_ids) > 1,
                redeems=_redeems(principal), **WORDS)


def _period(today) -> tuple[Any, Any, InvalidInput | None]:
    """The days the statistics cover: since/until from the query, else (or when they are wrong) the last 30."""
    try:
        try:
            query = schemas.StatsQuery.model_validate(
                {name: value for name in ("since", "until") if (value := request.args.get(name, "").strip())})
        except ValidationError as error:
            raise validation_error(error) from None
        return *statistics.period(today, query.since, query.until), None
    except InvalidInput as error:
        return *statistics.period(today, None, None), error


def chart_data(stats: dict[str, Any]) -> dict[str, Any]:
    """What charts.js draws, day by day along the axis: people and perks, and the grams offset (as kg)."""
    days = [row["day"][5:] for row in stats["days"]]
    counted = [("visitors", "抵销游客 (visitors offsetting)"), ("perks_issued", "发放权益 (perks issued)"),
               ("perks_redeemed", "核销权益 (perks redeemed)")]
    return {"unit": "人 / 张 (people, perks)", "charts": [
        {"element": "people-chart", "title": "每日游客与权益 (visitors and perks per day)", "columns": True,
         "categories": days,
         "series": [{"name": label, "values": [row[name] for row in stats["days"]]} for name, label in counted]},
        {"element": "grams-chart", "title": "每日抵销量 (offset per day)", "unit": "kg CO2e", "columns": True,
         "categories": days,
         "series": [{"name": "抵销量 (offset)", "values": [row["retired_g"] / 1000 for row in stats["days"]]}]},
    ]}


def site_page(site_id: int, status: int = 200, **context: Any):
    principal, now = staff_principal(), _now()
    first, last, wrong_period = _period(beijing_date(now))

    def view(s):
        site = site_of_mine(s, site_id, "viewer")
        offers = [perks.offer_view(offer, site, now) for offer in perks.offers_at(s, site.id)]
        return service.site_view(s, site), offers, statistics.per_day(s, site.id, first, last)
    shown, offers, stats = read(view)
    errors = context.pop("errors", {})
    if wrong_period is not None:
        errors = {**field_errors(wrong_period), **errors}
        context.setdefault("error", wrong_period)
        status = status if status != 200 else 400
    context.setdefault("form", NEW_OFFER)
    return page("tourism/site.html", status, site=shown, offers=offers, stats=stats, charts=chart_data(stats),
                period={"since": request.args.get("since", first.isoformat()),
                        "until": request.args.get("until", last.isoformat())},
                acts=_may(principal, shown["organisation_id"], "clerk"),
                shows_code=_may(principal, shown["organisation_id"], "viewer"), errors=errors,
                kind_options=[(kind, KIND_LABELS[kind]) for kind in PERK_KINDS],
                tier_options=[("", "—"), *((tier, TIER_LABELS[tier]) for tier in DUTY_TIERS)], **WORDS, **context)


def gate_code(site_id: int):
    """The site's 小程序码 to print at the gate: the same image as the JSON route's."""
    read(lambda s: site_of_mine(s, site_id, "viewer"))
    return gate_code_response(site_id)


# --- the offers ----------------------------------------------------------------------------------------------------

def offer_in(form: Mapping[str, str]) -> schemas.OfferIn:
    """The offer the form describes, read into the JSON's own model: a field left empty is a field not given, and a
    refusal names the form's fields (the JSON's names), so each message stands beside its input."""
    given: dict[str, Any] = {name: value for name in OFFER_FORM if (value := form.get(name, "").strip())}
    given["duty_outside"] = form.get("duty_outside") == "on"
    try:
        parsed = schemas.OfferIn.model_validate(given)
    except ValidationError as error:
        raise validation_error(error) from None
    refuse_nul(parsed.model_dump())
    return parsed


def create_offer(site_id: int):
    principal, now = staff_principal(), _now()
    read(lambda s: site_of_mine(s, site_id, "clerk"))  # a stranger learns nothing of the form's faults
    try:
        fields = perks.check_offer(offer_in(request.form).model_dump(), beijing_date(now))

        def act(s):
            site = site_of_mine(s, site_id, "clerk")
            return perks.create_offer(s, now, site, actor=principal.actor, fields=fields).title
        title = atomic(act)
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        return site_page(site_id, error.status, error=error, errors=field_errors(error), form=request.form)
    flash(f"已发布权益「{title}」(perk offer defined)")
    return redirect(url_for("tourism_pages.site_page", site_id=site_id))


def withdraw_offer(offer_id: int):
    """The offer's 撤下 button: it issues no more (the vouchers issued stay valid until they expire)."""
    principal, now = staff_principal(), _now()

    def act(s):
        site = site_of_mine(s, perks.get_offer(s, offer_id).site_id, "clerk")
        return perks.change_offer(s, now, offer_id, actor=principal.actor, changes={"active": False}).title, site.id
    title, site_id = atomic(act)
    flash(f"权益「{title}」已撤下，不再发放；已发放的券在有效期内仍可核销 (withdrawn: it issues no more; the vouchers "
          "issued stay valid)")
    return redirect(url_for("tourism_pages.site_page", site_id=site_id))


# --- at the gate ---------------------------------------------------------------------------------------------------

def redeem():
    """GET: the code input, focused for a scanner; POST: redeem, as the JSON's redeem does, and say how it went."""
    if request.method == "GET":
        return page("tourism/redeem.html", errors={})
    principal, now = staff_principal(), _now()
    typed = request.form.get("code", "")
    try:
        code = perks.canonical_code(typed)

        def act(s):
            found = perks.redeem(s, now, code, actor=principal.actor, honours=honoured_by(principal))
            return perks.gate_view(found, now)
        redeemed = atomic(act)
    except DomainError as error:
        return page("tourism/redeem.html", error.status, refused=error, errors=field_errors(error),
                    typed=typed.strip()[:40])
    return page("tourism/redeem.html", redeemed=redeemed, errors={})


SITE = "/org/sites/<int:site_id>"
PAGES = [  # rule, endpoint (as the permission table names it), view, methods
    ("/org/sites", "list_sites", list_sites, ["GET"]),
    (SITE, "site_page", site_page, ["GET"]),
    (f"{SITE}/gate-code", "gate_code", gate_code, ["GET"]),
    (f"{SITE}/perks", "create_offer", create_offer, ["POST"]),
    ("/org/perks/<int:offer_id>/withdraw", "withdraw_offer", withdraw_offer, ["POST"]),
    ("/org/perks/redeem", "redeem", redeem, ["GET", "POST"]),
]
for rule, endpoint, view, methods in PAGES:
    bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)
