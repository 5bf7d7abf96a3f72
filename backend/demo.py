"""Demo data for the embedded set-up: three real-looking (and clearly marked demo) projects, each registered with
one issued batch in the operator's inventory and on sale in the shop, and a few retirements with their
certificates. Loading twice changes nothing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.service import certificate_of
from backend.db import atomic
from backend.ledger import operations
from backend.registry import service
from backend.registry.models import Methodology, Organisation, Project
from backend.shop import service as shop
from backend.shop.models import Listing

ACTOR = "operator:demo"
TONNE = 1_000_000

METHODOLOGIES = [
    dict(code="AR-CM-003-V01", name="森林经营碳汇项目方法学", ecosystem="forest", version="V01",
         source_document="国家林业局编制，国家发展和改革委员会温室气体自愿减排方法学备案（2014）"),
    dict(code="AR-CM-005-V01", name="竹林经营碳汇项目方法学", ecosystem="bamboo", version="V01",
         source_document="国家林业局编制，国家发展和改革委员会温室气体自愿减排方法学备案"),
    dict(code="SCGHG-GRA-01", name="草地生态修复碳普惠方法学（演示）", ecosystem="grassland", version="V01",
         source_document="四川林草碳普惠（蜀林碳惠）草地生态修复方法学，演示用条目 (demo entry)"),
]

ORGANISATIONS = [
    dict(name="四川省大邑县国有林场（演示）", kind="forest_farm", adcode_="510129"),
    dict(name="红原县草原生态修复专业合作社（演示）", kind="cooperative", adcode_="513233"),
    dict(name="长宁县竹海林业专业合作社（演示）", kind="cooperative", adcode_="511524"),
]

PROJECTS = [
    dict(owner=0, methodology="AR-CM-003-V01", name="大邑县国有林场森林经营碳汇项目（演示）", county_adcode="510129",
         ecosystem="forest", area_mu=Decimal("35200.00"), crediting_start=date(2019, 1, 1),
         crediting_end=date(2038, 12, 31),
         description="位于成都平原西缘、龙门山脉南段的国有林场，以抚育间伐、补植补造和封山育林提升柳杉、"
                     "香樟、桢楠混交林的蓄积与碳汇。(Demo: improved forest management of a state forest farm.)",
         batch=dict(monitoring_start=date(2019, 1, 1), monitoring_end=date(2023, 12, 31), vintage=2023,
                    quantity_g=12_500 * TONNE)),
    dict(owner=1, methodology="SCGHG-GRA-01", name="红原县退化草地生态修复碳汇项目（演示）", county_adcode="513233",
         ecosystem="grassland", area_mu=Decimal("120000.00"), crediting_start=date(2021, 1, 1),
         crediting_end=date(2040, 12, 31),
         description="川西北高寒草甸，通过补播改良、禁牧休牧和鼠害治理修复退化草地，增加土壤有机碳。"
                     "(Demo: restoration of degraded alpine grassland.)",
         batch=dict(monitoring_start=date(2021, 1, 1), monitoring_end=date(2024, 12, 31), vintage=2024,
                    quantity_g=8_000 * TONNE)),
    dict(owner=2, methodology="AR-CM-005-V01", name="长宁县蜀南竹海竹林经营碳汇项目（演示）", county_adcode="511524",
         ecosystem="bamboo", area_mu=Decimal("18600.50"), crediting_start=date(2020, 1, 1),
         crediting_end=date(2039, 12, 31),
         description="蜀南竹海毛竹林的科学采伐、留笋养竹和林地管理。(Demo: bamboo forest management.)",
         batch=dict(monitoring_start=date(2020, 1, 1), monitoring_end=date(2023, 12, 31), vintage=2023,
                    quantity_g=3_000 * TONNE)),
]


# Prices in fen per tonne, within the range reported for forestry credits (CCER 2025: 60–80 yuan/t;
# 一元碳汇: 100 yuan/t; reference/domain-facts.md §6).
LISTINGS = [
    dict(batch=0, price_fen_per_t=8_000, title="龙门山森林经营碳汇（演示）"),
    dict(batch=1, price_fen_per_t=6_000, title="红原高寒草地修复碳汇（演示）"),
    dict(batch=2, price_fen_per_t=7_000, title="蜀南竹海竹林碳汇（演示）"),
]

RETIREMENTS = [
    dict(batch=1, amount_g=350_000, purpose="personal", purpose_ref=None, beneficiary_name="张三"),
    dict(batch=1, amount_g=12 * TONNE, purpose="event", purpose_ref="2026 成都马拉松（演示）",
         beneficiary_name="成都马拉松组委会"),
    dict(batch=1, amount_g=3 * TONNE, purpose="tree_duty", purpose_ref="2026", beneficiary_name="李四"),
]


def _load(session: Session, now: datetime, certify) -> list[str]:
    done, batches = [], []
    methodologies = {}
    for spec in METHODOLOGIES:
        found = session.execute(select(Methodology).where(Methodology.code == spec["code"])).scalar_one_or_none()
        methodologies[spec["code"]] = found or service.create_methodology(session, now, actor=ACTOR, **spec)
    owners = []
    for spec in ORGANISATIONS:
        found = session.execute(select(Organisation).where(Organisation.name == spec["name"])).scalar_one_or_none()
        owners.append(found or service.create_organisation(session, now, actor=ACTOR, **spec))
    for number, spec in enumerate(PROJECTS, start=1):
        spec = dict(spec)
        batch, owner, code = spec.pop("batch"), owners[spec.pop("owner")], spec.pop("methodology")
        project = session.execute(select(Project).where(Project.name == spec["name"])).scalar_one_or_none()
        if project is None:
            project = service.create_project(session, now, actor=ACTOR, owner_id=owner.id,
                                             methodology_id=methodologies[code].id, **spec)
            service.decide(session, now, actor=ACTOR, project_id=project.id, action="submit")
            service.decide(session, now, actor=ACTOR, project_id=project.id, action="register")
        made = service.create_batch(session, now, actor=ACTOR, client_id=f"demo-batch-{number}",
                                    project_id=project.id, **batch)
        done.append(f"{made.code} ({made.quantity_g // TONNE:,} t)")
        batches.append(made)
    for spec in LISTINGS:
        spec = dict(spec)
        batch = batches[spec.pop("batch")]
        if session.execute(select(Listing.id).where(Listing.batch_id == batch.id)).first() is None:
            shop.create_listing(session, now, actor=ACTOR, batch_id=batch.id, **spec)
    for number, spec in enumerate(RETIREMENTS, start=1):
        spec = dict(spec)
        retirement = operations.retire(session, now, client_id=f"demo-retire-{number}", actor=ACTOR, holder="platform",
                                       batch_id=batches[spec.pop("batch")].id, certify=certify, **spec)
        done.append(f"certificate {certificate_of(session, retirement.id).number}")
    return done


def load_demo(now: datetime, certify) -> str:
    """``certify`` is the app's (backend.certificates.certify()): demo retirements get real certificates."""
    batches = atomic(lambda session: _load(session, now, certify))
    return "demo data ready: " + ", ".join(batches)
