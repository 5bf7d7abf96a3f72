"""碳汇+旅游's demo: the demo scenic area's gate at 西岭雪山 in 大邑县, a few kilometres from the demo forest farm,
so that a visitor's scan, prefilled trip and offset can be tried (README); and its perk: 30 % off the ticket for
anyone who offsets at least 5 kg there, which the demo clerk redeems at /org/perks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from backend.db import atomic
from backend.registry.models import Organisation
from backend.clock import beijing_date
from scenarios.tourism import perks, service
from scenarios.tourism.models import PerkOffer, Site

SCENIC_CREDIT_CODE = "91510129MA60000044"  # the demo scenic area of backend/demo.py
NAME = "西岭雪山景区南门（演示）"
ACTOR = "operator:demo"
SITE = {"name": NAME, "adcode": "510129", "latitude": Decimal("30.685000"), "longitude": Decimal("103.220000"),
        "airport": "CTU", "station": "成都西站"}
PERK = {"title": "门票七折（演示）", "terms": "凭券购买西岭雪山景区门票享七折优惠，限本人一次使用 (30 % off one ticket)",
        "kind": "site_offset", "min_g": 5_000, "valid_days": 90, "stock": 1_000}


def load(now: datetime, certify) -> list[str]:  # noqa: ARG001 (the loaders' signature: this one certifies nothing)
    def make(session):
        scenic = session.execute(select(Organisation).where(
            Organisation.credit_code == SCENIC_CREDIT_CODE)).scalar_one()
        site = session.execute(select(Site).where(Site.org_id == scenic.id, Site.name == NAME)).scalar_one_or_none()
        site = site or service.create(session, now, org_id=scenic.id, actor=ACTOR, fields=dict(SITE))
        if session.execute(select(PerkOffer.id).where(PerkOffer.site_id == site.id)).first() is None:
            perks.create_offer(session, now, site, actor=ACTOR,
                               fields={**PERK, "starts_on": date(beijing_date(now).year, 1, 1)})
        return site
    site = atomic(make)
    return [f"site {NAME} (/api/mp/v1/sites/{site.id}), its perk {PERK['title']}: an offset of at least 5 kg there"]
