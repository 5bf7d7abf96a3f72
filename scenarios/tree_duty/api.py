"""碳汇+全民义务植树 over JSON: citizens in the mini-program (/api/mp/v1/tree-duty), the rules in public
(/api/v1/tree-duty/rules), operators (/api/admin/v1/tree-duty: reviewers change rules; the committee's export and
recognition). Paying is POST /api/mp/v1/orders with purpose tree_duty. Who may call each route:
backend/access/policy.py."""

from __future__ import annotations

from flask import Blueprint, current_app

from backend.access.identity import staff_principal
from backend.accounts.auth import require_user
from backend.clock import beijing_date
from backend.db import atomic
from backend.http import Route, register
from backend.schemas import Items
from scenarios.tree_duty import committee, rules, schemas, service

mp_bp = Blueprint("tree_duty_mp_api", __name__, url_prefix="/api/mp/v1")
public_bp = Blueprint("tree_duty_public_api", __name__, url_prefix="/api/v1")
admin_bp = Blueprint("tree_duty_admin_api", __name__, url_prefix="/api/admin/v1")


def _now():
    return current_app.config["CLOCK"]()


# --- citizens ----------------------------------------------------------------------------------------------------

def my_year(query: schemas.YearQuery):
    """My year (or a family member's) under the region's rule: status none / duty_done / honour, trees, paid,
    vouchers, and what an order of each tier would pay now."""
    user_id, now = require_user(), _now()
    year = query.year or beijing_date(now).year
    # A unit of work, not a read: the first look loads the shipped rules the database lacks.
    return atomic(lambda s: service.year_view(s, now, user_id=user_id, year=year, region=query.region,
                                              member_id=query.member_id))


def list_members():
    user_id = require_user()
    return {"items": atomic(lambda s: [service.member_view(m) for m in service.members_of(s, user_id)])}


def add_member(body: schemas.MemberIn):
    user_id, now = require_user(), _now()
    return atomic(lambda s: service.member_view(service.add_member(s, now, user_id, name=body.name,
                                                                   birth_year=body.birth_year, sex=body.sex)))


def remove_member(member_id: int):
    user_id, now = require_user(), _now()
    atomic(lambda s: service.remove_member(s, now, user_id, member_id))
    return {"removed": True}


# --- the public --------------------------------------------------------------------------------------------------

def list_rules(query: schemas.RulesQuery):
    """The rules in their current versions, with sources and how sure they are (official / reported / assumed)."""
    now = _now()
    found = atomic(lambda s: [rules.rule_view(r) for r in rules.current_rules(s, now)
                              if query.region is None or r.region == query.region])
    return {"items": found}


def rule_history(key: str):
    now = _now()
    return {"items": atomic(lambda s: [rules.rule_view(r) for r in rules.history(s, now, key)])}


# --- operators ---------------------------------------------------------------------------------------------------

def create_rule(body: schemas.RuleIn):
    actor, now = staff_principal().actor, _now()
    values = body.model_dump(exclude={"key"})
    return atomic(lambda s: rules.rule_view(rules.create(s, now, body.key, values, actor=actor)))


def revise_rule(key: str, body: schemas.RuleChangeIn):
    actor, now = staff_principal().actor, _now()
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    return atomic(lambda s: rules.rule_view(rules.revise(s, now, key, changes, actor=actor, reason=body.reason)))


def export_vouchers(query: schemas.VoucherQuery):
    """The vouchers of a region and year for the greening committee: name, duty year, trees, amount, number,
    verify URL (CSV)."""
    return committee.vouchers_csv(query.year, query.region, query.recognised)


def recognise_vouchers(body: schemas.RecogniseIn):
    actor, now = staff_principal().actor, _now()
    return atomic(lambda s: committee.recognise(s, now, body.certificate_nos, note=body.note, actor=actor))


RULE_KEY = "/tree-duty/rules/<string(maxlength=40):key>"
RULE_CHECKS = ("A 400 naming the field unless: effective_to is not before effective_from; honour_fen and "
               "honour_trees are both given or both null, honour_fen above duty_fen and honour_trees not below "
               "duty_trees; min_age not above either maximum age. A 409 when its period overlaps another rule's "
               "of the region.")
MP_ROUTES = [
    Route("GET", "/tree-duty", my_year, "My tree-planting duty for a year: rule, duty age, paid, trees, status, "
          "vouchers", query=schemas.YearQuery, tags=("tree_duty",), response=schemas.YearOut, errors=(404,),
          description="The region (given, else the profile's) must have a rule in force in the year: a 400 "
                      "no_tree_duty_rule naming the regions that have one. member_id must be one of my family "
                      "members (404)."),
    Route("GET", "/tree-duty/members", list_members, "The family members I discharge the duty for",
          tags=("tree_duty",), response=Items[schemas.MemberOut]),
    Route("POST", "/tree-duty/members", add_member, "Add a family member (name, birth year, sex; never an ID number)",
          body=schemas.MemberIn, status=201, tags=("tree_duty",), response=schemas.MemberOut, errors=(409,),
          description="birth_year must not be after this year (Beijing time): a 400 naming it."),
    Route("DELETE", "/tree-duty/members/<int:member_id>", remove_member, "Remove a family member who has no payments",
          tags=("tree_duty",), response=schemas.RemovedOut, errors=(404, 409)),
]
PUBLIC_ROUTES = [
    Route("GET", "/tree-duty/rules", list_rules, "The regions' tree-duty rules (thresholds, ages, sources)",
          query=schemas.RulesQuery, tags=("public",), response=Items[schemas.RuleOut]),
    Route("GET", RULE_KEY, rule_history, "Every version of one rule", tags=("public",),
          response=Items[schemas.RuleOut]),
]
ADMIN_ROUTES = [
    Route("POST", "/tree-duty/rules", create_rule, "A new rule (a region that publishes one, or a new period)",
          body=schemas.RuleIn, status=201, tags=("tree_duty",), response=schemas.RuleOut, errors=(409,),
          description=RULE_CHECKS + " region must be a GB/T 2260 division."),
    Route("PATCH", RULE_KEY, revise_rule, "Change a rule: writes its next version (vouchers keep theirs)",
          body=schemas.RuleChangeIn, tags=("tree_duty",), response=schemas.RuleOut, errors=(404, 409),
          description=RULE_CHECKS + " (Of the rule as changed.)"),
    Route("GET", "/tree-duty/vouchers.csv", export_vouchers, "Vouchers of a region and year for the greening "
          "committee (CSV)", query=schemas.VoucherQuery, tags=("tree_duty",), media_type="text/csv"),
    Route("POST", "/tree-duty/vouchers/recognise", recognise_vouchers, "Mark vouchers as recognised by the greening "
          "committee", body=schemas.RecogniseIn, tags=("tree_duty",), response=schemas.RecognisedOut,
          errors=(404,)),
]
register(mp_bp, MP_ROUTES)
register(public_bp, PUBLIC_ROUTES)
register(admin_bp, ADMIN_ROUTES)
