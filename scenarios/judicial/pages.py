"""碳汇+生态司法 in the organisation portal: a court's clerks and viewers under /org/cases, signed in with the
session cookie (the JSON under /api/org/v1/cases takes personal tokens only). The case list with its filters and
CSV, the new-case form, the case page with its progress, payers, certificates and decisions, and the clerk's two
decisions: extend the deadline, close the case. Who may open each page: backend/access/policy.py; each handler
scopes the case itself (backend/access/scope.py), so another court's case is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, flash, redirect, request, url_for
from pydantic import ValidationError

from backend.access.identity import staff_principal
from backend.access.scope import acting_organisation, check_record
from backend.clock import CHINA, as_utc
from backend.db import atomic, read
from backend.errors import DomainError, Forbidden, InvalidInput, NotFound
from backend.http import validation_error
from backend.staff.principal import Principal
from backend.staff.roles import org_rank
from backend.staff.web import page, page_blueprint, parse_form
from scenarios.judicial import export, forms, rules, schemas, service
from scenarios.judicial.models import CAUSES, ROUNDINGS
from scenarios.judicial.tiers import TIER_LABELS
from scenarios.judicial.wording import CAUSE_LABELS, STATUS_LABELS

bp = page_blueprint("judicial_pages", __name__)
COURTS = service.COURT_KINDS
READERS = ("reviewer", "finance", "auditor")
FILTER_STATES = ("ordered", "partially_paid", "restored", "closed", "overdue")
DECISION_LABELS = {"extend": "延期 (deadline extended)", "close": "结案 (closed)"}
LOSS_METHODS = (("appraisal", "鉴定意见 (appraisal)"), ("calculation", "司法损失计算 (stored calculation)"),
                ("money", "判决金额 (a sum to spend on credits)"))


def _now() -> datetime:
    return current_app.config["CLOCK"]()


def _in_china(moment: str | datetime | None) -> str:
    """A stored moment as a clerk reads it: Beijing time, to the minute."""
    if not moment:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


WORDS = dict(causes=CAUSE_LABELS, statuses=STATUS_LABELS, tiers=TIER_LABELS, decisions=DECISION_LABELS,
             tonnes=rules.tonnes_text, yuan=rules.yuan_text, in_china=_in_china)


def _scoped(session, principal: Principal, case_id: int, least: str, platform: tuple[str, ...] = ()):
    case = service.get_case(session, case_id)
    check_record(principal, case.org_id, COURTS, least, platform, acting=least != "viewer", what="案件 (case)")
    return case


def _may(principal: Principal, org_id: int, least: str, platform: tuple[str, ...] = ()) -> bool:
    try:
        check_record(principal, org_id, COURTS, least, platform, acting=least != "viewer")
    except (NotFound, Forbidden):
        return False
    return True


# --- the list and its CSV ------------------------------------------------------------------------------------------

def _filters() -> schemas.CaseListQuery:
    """The list's filters as the JSON API reads them; a filter left empty on the form is no filter."""
    given = {name: value for name, value in request.args.items() if value.strip()}
    try:
        return schemas.CaseListQuery.model_validate(given)
    except ValidationError as error:
        raise validation_error(error) from None


def list_cases():
    principal = staff_principal()
    filters = {name: value for name, value in request.args.items() if value.strip()}
    context = dict(filters=filters, states=[(s, STATUS_LABELS[s]) for s in FILTER_STATES],
                   may_open=bool(_acting_courts(principal)) or principal.has_platform_role("admin"), **WORDS)
    try:
        rows, many_courts = export.readable_summaries(principal, _filters(), _now())
    except InvalidInput as error:
        return page("judicial/cases.html", error.status, error=error, errors=forms.errors_by_field(error), rows=[],
                    many_courts=False, csv_url=None, **context)
    return page("judicial/cases.html", rows=rows, many_courts=many_courts, errors={},
                csv_url=url_for("judicial_pages.export_cases", **filters), **context)


def export_cases():
    """The same file as GET /api/org/v1/cases.csv, for the signed-in browser."""
    rows, _ = export.readable_summaries(staff_principal(), _filters(), _now())
    return export.cases_csv(rows)


# --- opening a case ------------------------------------------------------------------------------------------------

def _acting_courts(principal: Principal) -> list[tuple[int, str]]:
    """The verified courts and procuratorates the person may open cases for (clerk or above)."""
    return [(org_id, role.name) for org_id, role in principal.organisations.items()
            if role.kind in COURTS and role.status == "verified" and org_rank(role.role) >= org_rank("clerk")]


def _case_form(status: int = 200, **context: Any):
    principal = staff_principal()
    return page("judicial/new_case.html", status, courts=_acting_courts(principal),
                platform_admin=principal.has_platform_role("admin"), rows=range(forms.PAYER_ROWS),
                causes=[(c, CAUSE_LABELS[c]) for c in CAUSES], methods=LOSS_METHODS,
                roundings=[(r, rules.ROUNDING_LABELS[r]) for r in ROUNDINGS], **context)


def new_case():
    if request.method == "GET":
        return _case_form(form={"multiplier": "1", "rounding": "up_tonne", "loss.method": "appraisal"}, errors={})
    principal, now = staff_principal(), _now()
    try:
        body = forms.case_in(request.form)
        org_id = acting_organisation(principal, COURTS, "clerk", body.org_id)
        case_id = atomic(lambda s: service.open_case(s, now, org_id=org_id, actor=principal.actor, body=body).id)
    except DomainError as error:
        return _case_form(error.status, error=error, errors=forms.errors_by_field(error), form=request.form)
    flash("已立案，请将各缴纳人的缴纳码交给本人 (case opened: give each payer their claim code)")
    return redirect(url_for("judicial_pages.case_page", case_id=case_id))


# --- one case ------------------------------------------------------------------------------------------------------

def case_page(case_id: int, status: int = 200, **context: Any):
    principal, now = staff_principal(), _now()
    case = read(lambda s: service.case_view(s, _scoped(s, principal, case_id, "viewer", READERS), now))
    context.setdefault("errors", {})
    return page("judicial/case.html", status, case=case, acts=_may(principal, case["org_id"], "clerk"),
                codes=_may(principal, case["org_id"], "viewer"),
                open=case["status"] in ("ordered", "partially_paid", "overdue"), **WORDS, **context)


def _decide(case_id: int, which: str, model: type, decide):
    """Scope (clerk of the case's court), then the form, then one domain call; a refusal re-renders the case page
    with the message beside the form that caused it and what was typed."""
    principal, now = staff_principal(), _now()

    def act(s):
        _scoped(s, principal, case_id, "clerk")
        return decide(s, now, parse_form(model), principal.actor)
    try:
        atomic(act)
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        return case_page(case_id, error.status, error=error, errors=forms.errors_by_field(error), failed=which,
                         form=request.form)
    return None


def extend(case_id: int):
    refused = _decide(case_id, "extend", schemas.ExtendIn, lambda s, now, form, actor: service.extend(
        s, now, case_id, deadline=form.deadline, reason=form.reason, actor=actor))
    if refused is not None:
        return refused
    flash("履行期限已延长 (deadline extended)")
    return redirect(url_for("judicial_pages.case_page", case_id=case_id))


def close(case_id: int):
    refused = _decide(case_id, "close", schemas.CloseIn, lambda s, now, form, actor: service.close(
        s, now, case_id, reason=form.reason, actor=actor))
    if refused is not None:
        return refused
    flash("案件已结案 (case closed)")
    return redirect(url_for("judicial_pages.case_page", case_id=case_id))


def claim_code_image(case_id: int, payer_id: int):
    """The payer's 小程序码, the same image as the JSON route's, to print for them."""
    principal = staff_principal()

    def find(s):
        _scoped(s, principal, case_id, "viewer")
        return service.claim_code_of(s, case_id, payer_id)
    return export.claim_code_image(read(find))


CASE = "/org/cases/<int:case_id>"
PAGES = [  # rule, endpoint (as the permission table names it), view, methods
    ("/org/cases", "list_cases", list_cases, ["GET"]),
    ("/org/cases.csv", "export_cases", export_cases, ["GET"]),
    ("/org/cases/new", "new_case", new_case, ["GET", "POST"]),
    (CASE, "case_page", case_page, ["GET"]),
    (f"{CASE}/extend", "extend", extend, ["POST"]),
    (f"{CASE}/close", "close", close, ["POST"]),
    (f"{CASE}/payers/<int:payer_id>/claim-code", "claim_code_image", claim_code_image, ["GET"]),
]
for rule, endpoint, view, methods in PAGES:
    bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)
