"""The operator console's pages, /admin/: who I am and my roles, the dashboard's figures (admin/dashboard.py), and
the organisations waiting for a reviewer (verify or reject, with the credit-code check shown). The full console
(registry, money, audit, charts) builds on this layout."""

from __future__ import annotations

from flask import Flask, current_app, flash, redirect

from admin import dashboard
from backend.access.identity import staff_principal
from backend.db import atomic, read
from backend.errors import DomainError
from backend.orgs import schemas as org_schemas
from backend.orgs import service as orgs
from backend.staff.roles import ROLE_LABELS
from backend.staff.web import page, page_blueprint, parse_form

bp = page_blueprint("admin_pages", __name__)


def home(status: int = 200, **extra):
    principal = staff_principal()
    now = current_app.config["CLOCK"]()

    def look(session):
        return ([orgs.organisation_view(o, for_reviewer=True) for o in orgs.listing(session, status="applied")],
                dashboard.figures(session, now))

    waiting, figures = read(look)
    return page("admin/home.html", status, principal=principal, role_labels=ROLE_LABELS, waiting=waiting,
                figures=figures,
                charts=dashboard.chart_data(figures), inventory_labels=dashboard.INVENTORY_LABELS,
                purpose_labels=dashboard.PURPOSE_LABELS, **extra)


def decide_organisation(organisation_id: int, action: str):
    principal = staff_principal()
    try:
        form = parse_form(org_schemas.DecisionIn)
        organisation = atomic(lambda s: orgs.decide(s, current_app.config["CLOCK"](), organisation_id=organisation_id,
                                                    action=action, reason=form.reason, actor=principal.actor))
    except DomainError as error:
        return home(error.status, error=error)
    flash(f"「{organisation.name}」{'已通过审核' if action == 'verify' else '已驳回'}")
    return redirect("/admin/")


bp.add_url_rule("/admin/", endpoint="home", view_func=home, methods=["GET"])
bp.add_url_rule("/admin/organisations/<int:organisation_id>/<any(verify,reject):action>",
                endpoint="decide_organisation", view_func=decide_organisation, methods=["POST"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
