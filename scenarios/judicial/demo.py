"""The judicial scenario's demo: one case of the demo court (大邑县人民法院（演示）) with two defendants, nothing
paid yet, so that /org/cases, the claim in the mini-program and both ways of paying can be tried (README). It
moves no credits: the ledger's demo stays as backend/demo.py made it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from backend.db import atomic
from backend.registry.models import Organisation
from scenarios.judicial import schemas, service
from scenarios.judicial.models import JudicialCase

COURT_CREDIT_CODE = "11510129MB00000010"  # the demo court of backend/demo.py
CASE_NO = "(2024)川0129刑初123号"
ACTOR = "operator:demo"


def load(now: datetime, certify) -> list[str]:  # noqa: ARG001 (the loaders' signature: this one certifies nothing)
    return atomic(lambda session: _load(session, now))


def _load(session: Session, now: datetime) -> list[str]:
    court = session.execute(select(Organisation).where(Organisation.credit_code == COURT_CREDIT_CODE)).scalar_one()
    found = session.execute(select(JudicialCase).where(JudicialCase.org_id == court.id,
                                                       JudicialCase.case_no == CASE_NO)).scalar_one_or_none()
    if found is not None:
        return [_said(session, found)]
    body = schemas.CaseIn(
        case_no=CASE_NO, cause="illegal_felling", damage_region="510129",
        loss=schemas.AppraisalLoss(method="appraisal", tonnes=Decimal("47.07"), appraisal_body="大邑县林业局（演示）",
                                   report_no="大林鉴〔2024〕7号"),
        multiplier=Decimal(2), deadline=(now + timedelta(days=180)).date(),
        payers=[schemas.PayerIn(name="张三", share_percent=Decimal(50)),
                schemas.PayerIn(name="李四", share_percent=Decimal(50))])
    case = service.open_case(session, now, org_id=court.id, actor=ACTOR, body=body)
    return [_said(session, service.get_case(session, case.id))]


def _said(session: Session, case: JudicialCase) -> str:
    """The same words on every run: the case and its payers' claim codes."""
    codes = ", ".join(f"{p.name} {service.shown_claim_code(p.claim_code)}" for p in service.payers_of(session, case.id))
    return f"case {CASE_NO} ({case.status}; claim codes {codes})"
