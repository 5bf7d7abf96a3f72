"""碳汇+旅游's demo: the demo scenic area's gate at 西岭雪山 in 大邑县, a few kilometres from the demo forest farm,
so that a visitor's scan, prefilled trip and offset can be tried (README)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from backend.db import atomic
from backend.registry.models import Organisation
from scenarios.tourism import service
from scenarios.tourism.models import Site

SCENIC_CREDIT_CODE = "91510129MA60000044"  # the demo scenic area of backend/demo.py
NAME = "西岭雪山景区南门（演示）"
ACTOR = "operator:demo"
SITE = {"name": NAME, "adcode": "510129", "latitude": Decimal("30.685000"), "longitude": Decimal("103.220000"),
        "airport": "CTU", "station": "成都西站"}


def load(now: datetime, certify) -> list[str]:  # noqa: ARG001 (the loaders' signature: this one certifies nothing)
    def make(session):
        scenic = session.execute(select(Organisation).where(
            Organisation.credit_code == SCENIC_CREDIT_CODE)).scalar_one()
        site = session.execute(select(Site).where(Site.org_id == scenic.id, Site.name == NAME)).scalar_one_or_none()
        return site or service.create(session, now, org_id=scenic.id, actor=ACTOR, fields=dict(SITE))
    site = atomic(make)
    return [f"site {NAME} (/api/mp/v1/sites/{site.id})"]
