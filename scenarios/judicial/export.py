"""What a court reads and takes out of the system: its cases' summaries, as a list or a CSV file, and a payer's
小程序码 to print. The JSON API (token) and the /org/ pages (session) answer with the same; a case's own routes
scope the case themselves before calling here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response

from backend import wechat
from backend.access.scope import readable_organisations
from backend.csvfile import csv_response
from backend.db import read
from backend.errors import NotFound
from backend.registry.models import Organisation
from backend.staff.principal import Principal
from scenarios.judicial import schemas, service

READERS = ("reviewer", "finance", "auditor")  # platform roles that read every court's cases

CSV_COLUMNS = ("id", "case_no", "cause", "status", "required_g", "required_fen", "paid_g", "paid_fen", "deadline",
               "overdue", "created_at")
CLAIM_PAGE = "pages/judicial/claim"  # the mini-program page a payer's 小程序码 opens (scene c=<claim code>)


def readable_summaries(principal: Principal, query: schemas.CaseListQuery,
                       now: datetime) -> tuple[list[dict[str, Any]], bool]:
    """The cases this person may read, filtered, as service.summary_view with the court's name; and whether they
    come from more than one court."""
    org_ids = readable_organisations(principal, service.COURT_KINDS, READERS)
    if query.org_id is not None:
        if org_ids is not None and query.org_id not in org_ids:  # another organisation: not yours to learn of
            raise NotFound("机构不存在 (unknown organisation)")
        org_ids = [query.org_id]

    def views(s):
        found = service.list_cases(s, now, org_ids=org_ids, status=query.status, opened_from=query.opened_from,
                                   opened_to=query.opened_to, overdue=query.overdue)
        names = {case.org_id: s.get(Organisation, case.org_id).name for case in found}
        return [{**service.summary_view(case, now, service.progress(s, case.id, now)), "court": names[case.org_id]}
                for case in found]
    return read(views), org_ids is None or len(org_ids) > 1


def cases_csv(rows: list[dict[str, Any]]) -> Response:
    """Case summaries (service.summary_view) as CSV."""
    return csv_response(CSV_COLUMNS, ([row[column] for column in CSV_COLUMNS] for row in rows), "cases.csv")


def claim_code_image(claim_code: str) -> Response:
    """A 小程序码 that opens the payer's claim in the mini-program (scene c=<claim code>)."""
    return wechat.code_response(f"c={claim_code}", CLAIM_PAGE)
