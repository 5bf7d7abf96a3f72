"""碳汇+大型活动 as pages: the public event page and the organiser's pages.

- ``/e/<id>``: a published event as anyone sees it on a phone — the plan, the final account with its variance,
  the offset's progress, participants' offsets and the 碳中和证书. Server-rendered with inline CSS and no script
  (WeChat's in-app browser, any phone), like the certificate verify page. A draft is nobody's business: 404.
- ``/org/events…``: an organiser's people, signed in with the session cookie (the JSON under /api/org/v1/events
  takes personal tokens only): the events list, the new-event form, and the event page with its stages, charts
  of the plan and final breakdown (ECharts, served by the app; the same numbers in a table for a page without
  script), the organiser's orders, the certificate, and the participants' 小程序码.

Who may open each page: backend/access/policy.py; each handler scopes the event itself (backend/access/scope.py),
so another organisation's event is a 404.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for

from backend.access.identity import staff_principal
from backend.access.scope import acting_organisation, check_record, readable_organisations
from backend.certificates.wording import quantity_text
from backend.clock import CHINA, as_utc
from backend.db import atomic, read
from backend.dbtypes import MAX_ID
from backend.errors import DomainError, Forbidden, NotFound
from backend.footprint.tally import CATEGORY_NAMES
from backend.http import Route, anchored, register
from backend.staff.principal import Principal
from backend.staff.roles import org_rank
from backend.staff.web import field_errors, page, page_blueprint
from scenarios.events import codes, forms, rules, service
from scenarios.events.models import KINDS
from scenarios.events.neutrality import EVALUATION_LABELS
from scenarios.events.wording import KIND_LABELS, STATUS_LABELS

bp = page_blueprint("events_pages", __name__, static_folder="static", static_url_path="/assets/events")
public_bp = Blueprint("events_public_page", __name__, template_folder="templates")
ORGANISERS = service.ORGANISER_KINDS
READERS = ("reviewer", "finance", "auditor")
STAGES = (("draft", "记录活动 (recorded)"), ("planned", "制定并公开计划 (plan published)"),
          ("accounted", "活动后核算 (final account)"), ("neutral", "抵销并取得证书 (offset, certified)"))
ORDER_LABELS = {"reserved": "待付款 (awaiting payment)", "paid": "已付款 (paid)", "fulfilled": "已注销 (retired)",
                "expired": "已过期 (expired)", "refunding": "退款中 (refunding)", "refunded": "已退款 (refunded)"}
OFFLINE_RESERVED = "待财务确认到账 (awaiting the bank transfer, recorded by finance)"
CHANNEL_LABELS = {"offline": "银行转账 (bank transfer)", "native": "微信扫码支付 (WeChat Pay Native)",
                  "jsapi": "小程序支付 (mini-program)"}
TONNE = Decimal(1_000_000)
EVENT_ID = re.compile(r"[1-9][0-9]{0,9}")  # with fullmatch; read by the handler so that every miss is a page


def _now() -> datetime:
    return current_app.config["CLOCK"]()


# --- how numbers read -----------------------------------------------------------------------------------------------

def tonnes(grams: int | None) -> str:
    """Grams as tonnes to the kilogram: 152318456 → "152.318"."""
    return "—" if grams is None else format(Decimal(grams) / TONNE, ",.3f")


def signed_tonnes(grams: int | None) -> str:
    """A difference in tonnes with its sign: +1.500, -0.200 (0.000 unsigned)."""
    if grams is None:
        return "—"
    return tonnes(0) if grams == 0 else format(Decimal(grams) / TONNE, "+,.3f")


def percent(part: int, whole: int | None) -> int:
    return min(100, part * 100 // whole) if whole else 0


def _in_china(moment: str | None) -> str:
    if not moment:
        return "—"
    return as_utc(datetime.fromisoformat(moment.replace("Z", "+00:00"))).astimezone(CHINA).strftime(
        "%Y-%m-%d %H:%M")


def order_label(order: dict[str, Any]) -> str:
    if order["status"] == "reserved" and order["channel"] == "offline":
        return OFFLINE_RESERVED
    return ORDER_LABELS.get(order["status"], order["status"])


WORDS = dict(tonnes=tonnes, signed=signed_tonnes, quantity=quantity_text, percent=percent, in_china=_in_china,
             statuses=STATUS_LABELS, kinds=KIND_LABELS, categories=CATEGORY_NAMES, channels=CHANNEL_LABELS,
             order_label=order_label, evaluations=EVALUATION_LABELS, large_source=rules.LARGE_SOURCE,
             deadline_source=rules.DEADLINE_SOURCE)


# --- what a page shows of an event (service.event_view) --------------------------------------------------------------

def stage_of(view: dict[str, Any]) -> str:
    """The stage reached, whether or not the deadline passed (the view says ``overdue`` instead of the stage)."""
    if view["certificate_no"]:
        return "neutral"
    if view["final"]:
        return "accounted"
    return "planned" if view["plan"] else "draft"


def breakdown(view: dict[str, Any]) -> list[dict[str, Any]]:
    """By source category: planned, final and the difference; before the final account, the plan alone."""
    if view["final"]:
        return view["final"]["variance"]
    if view["plan"]:
        return [{"category": line["category"], "name": line["name"], "plan_g": line["total_g"], "final_g": None,
                 "variance_g": None} for line in view["plan"]["categories"]]
    return []


def figures(view: dict[str, Any]) -> dict[str, Any]:
    """The offset's progress: what counts toward the figure to offset, and how far along it is."""
    figure = travel = None
    if view["final"]:
        figure = view["final"]["to_offset_g"]
        travel = next((line["final_g"] for line in view["final"]["variance"]
                       if line["category"] == "participant_travel"), 0)
    return {"figure_g": figure, "counted_g": view["retired_g"], "percent": percent(view["retired_g"], figure),
            "travel_g": travel}


def chart_data(view: dict[str, Any]) -> dict[str, Any] | None:
    """What charts.js draws: the plan by category, and the final account beside the plan (tonnes)."""
    rows = breakdown(view)
    if not rows:
        return None
    names = [row["name"] for row in rows]
    planned = {"name": "计划 (plan)", "values": [round(row["plan_g"] / 1_000_000, 3) for row in rows]}
    charts = [{"element": "plan-chart", "title": "计划 (plan)", "categories": names,
               "series": [planned]}]
    if view["final"]:
        charts.append({"element": "final-chart", "title": "核算与计划 (final vs plan)",
                       "categories": names,
                       "series": [planned, {"name": "核算 (final)",
                                            "values": [round(row["final_g"] / 1_000_000, 3) for row in rows]}]})
    return {"unit": "t CO2e", "charts": charts}


# --- the public page ------------------------------------------------------------------------------------------------

def public_page(event_id: str):
    """A published event: plan, final account and variance, offset progress, participants, the certificate (HTML,
    no script). A draft is a 404, as in the JSON."""
    if not EVENT_ID.fullmatch(event_id) or int(event_id) > MAX_ID:
        raise NotFound("活动不存在 (unknown event)")
    now = _now()

    def view(s):
        event = service.get_event(s, int(event_id))
        if event.status == "draft":  # unpublished: not the public's to learn of
            raise NotFound("活动不存在 (unknown event)")
        return service.event_view(s, event, now, public=True)
    shown = read(view)
    html = render_template("events/public.html", event=shown, rows=breakdown(shown), progress=figures(shown), **WORDS)
    return _public(html)


def _public(html: str, status: int = 200):
    response = make_response(html, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"  # offsets and the certificate show as soon as they happen
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                                                  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return response


@public_bp.errorhandler(DomainError)
def _public_problem(error: DomainError):
    """People opening a link get a page, not JSON: the same status and message."""
    response = _public(render_template("events/problem.html", message=error.message), error.status)
    if (retry_after := getattr(error, "retry_after", None)) is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


register(public_bp, [Route("GET", "/e/<event_id>", public_page,
                           "A published event's public page (HTML, no script): plan, final account, offset, "
                           "participants, certificate", media_type="text/html", rate_limit=("event_page", None),
                           params={"event_id": anchored(EVENT_ID)}, tags=("public",))])


# --- the organiser's pages ------------------------------------------------------------------------------------------

def _scoped(session, principal: Principal, event_id: int, least: str, platform: tuple[str, ...] = ()):
    event = service.get_event(session, event_id)
    check_record(principal, event.org_id, ORGANISERS, least, platform, acting=least != "viewer",
                 what="活动 (event)")
    return event


def _may(principal: Principal, org_id: int, least: str) -> bool:
    try:
        check_record(principal, org_id, ORGANISERS, least, acting=least != "viewer")
    except (NotFound, Forbidden):
        return False
    return True


def _acting_organisers(principal: Principal) -> list[tuple[int, str]]:
    """The verified organisers the person may record events for (clerk or above)."""
    return [(org_id, role.name) for org_id, role in principal.organisations.items()
            if role.kind in ORGANISERS and role.status == "verified" and org_rank(role.role) >= org_rank("clerk")]


def list_events():
    principal, now = staff_principal(), _now()
    org_ids = readable_organisations(principal, ORGANISERS, READERS)
    rows = read(lambda s: [service.event_view(s, event, now) for event in service.list_events(s, org_ids=org_ids)])
    return page("events/list.html", rows=[{**row, "stage": stage_of(row), "progress": figures(row)} for row in rows],
                many=org_ids is None or len(org_ids) > 1,
                may_record=bool(_acting_organisers(principal)) or principal.has_platform_role("admin"), **WORDS)


def _event_form(status: int = 200, **context: Any):
    principal = staff_principal()
    return page("events/new_event.html", status, organisers=_acting_organisers(principal),
                platform_admin=principal.has_platform_role("admin"), kind_options=[(k, KIND_LABELS[k]) for k in KINDS],
                **context)


def new_event():
    if request.method == "GET":
        return _event_form(form={"kind": "conference"}, errors={})
    principal, now = staff_principal(), _now()
    try:
        body = forms.event_in(request.form)
        org_id = acting_organisation(principal, ORGANISERS, "clerk", body.org_id)
        event_id = atomic(lambda s: service.create(s, now, org_id=org_id, actor=principal.actor, body=body).id)
    except DomainError as error:
        return _event_form(error.status, error=error, errors=field_errors(error), form=request.form)
    flash("活动已记录；下一步：制定并公开碳中和计划 (event recorded: next, publish its plan)")
    return redirect(url_for("events_pages.event_page", event_id=event_id))


def event_page(event_id: int):
    principal, now = staff_principal(), _now()
    shown = read(lambda s: service.event_view(s, _scoped(s, principal, event_id, "viewer", READERS), now))
    stage = stage_of(shown)
    return page("events/event.html", event=shown, stage=stage, stages=STAGES,
                reached=[name for name, _ in STAGES].index(stage), rows=breakdown(shown), progress=figures(shown),
                charts=chart_data(shown), acts=_may(principal, shown["org_id"], "clerk"),
                shows_code=_may(principal, shown["org_id"], "viewer"), **WORDS)


def participant_code(event_id: int):
    """The participants' 小程序码, the same image as the JSON route's, to put on screens and badges."""
    principal = staff_principal()
    read(lambda s: _scoped(s, principal, event_id, "viewer"))
    return codes.participant_code_image(event_id)


EVENT = "/org/events/<int:event_id>"
PAGES = [  # rule, endpoint (as the permission table names it), view, methods
    ("/org/events", "list_events", list_events, ["GET"]),
    ("/org/events/new", "new_event", new_event, ["GET", "POST"]),
    (EVENT, "event_page", event_page, ["GET"]),
    (f"{EVENT}/participant-code", "participant_code", participant_code, ["GET"]),
]
for rule, endpoint, view, methods in PAGES:
    bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)
