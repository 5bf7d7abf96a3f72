"""Demo data for the embedded set-up: three real-looking (and clearly marked demo) projects, each registered with
one issued batch in the operator's inventory and on sale in the shop, a few retirements with their certificates,
and people: one operator account per platform role, and a court, an event organiser, a company and a scenic area
with their staff. Loading twice changes nothing. Development only: production refuses the demo (its password is
public)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.service import certificate_of
from backend.db import atomic, read
from backend.ledger import operations
from backend.registry import service
from backend.registry.models import Methodology, Organisation, Project
from backend.shop import service as shop
from backend.shop.models import Listing
from backend.staff import passwords
from backend.staff import service as staff

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

# Organisations whose people sign in and work here (made-up codes that pass the GB 32100-2015 check).
PEOPLE_ORGANISATIONS = [
    dict(key="court", name="大邑县人民法院（演示）", kind="court", credit_code="11510129MB00000010", adcode_="510129"),
    dict(key="events", name="成都马拉松组委会（演示）", kind="event_organiser", credit_code="51510100MJ0000002C",
         adcode_="510100"),
    dict(key="company", name="四川蜀绿科技有限公司（演示）", kind="company", credit_code="91510100MA60000030",
         adcode_="510100"),
    dict(key="scenic", name="西岭雪山景区管理有限公司（演示）", kind="scenic_area", credit_code="91510129MA60000044",
         adcode_="510129"),
]
DEMO_PASSWORD = "tanhui-demo-2026"
# username, name, role, organisation key (None: the platform)
ACCOUNTS = [
    ("admin", "平台管理员（演示）", "admin", None),
    ("reviewer", "审核员（演示）", "reviewer", None),
    ("finance", "财务（演示）", "finance", None),
    ("auditor", "审计员（演示）", "auditor", None),
    ("court-clerk", "王书记员（演示）", "org_admin", "court"),  # applied for the court, so its org_admin
    ("events-admin", "赵主任（演示）", "org_admin", "events"),
    ("events-clerk", "钱干事（演示）", "clerk", "events"),
    ("company-admin", "孙经理（演示）", "org_admin", "company"),
    ("company-viewer", "李会计（演示）", "viewer", "company"),
    ("scenic-admin", "周经理（演示）", "org_admin", "scenic"),
    ("scenic-clerk", "吴检票员（演示）", "clerk", "scenic"),
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


def _people(session: Session, now: datetime, password_hash: str) -> list[str]:
    organisations = {}
    for spec in PEOPLE_ORGANISATIONS:
        spec = dict(spec)
        key, code = spec.pop("key"), spec.pop("credit_code")
        found = session.execute(select(Organisation).where(Organisation.credit_code == code)).scalar_one_or_none()
        organisations[key] = found or service.create_organisation(session, now, actor=ACTOR, credit_code=code,
                                                                  **spec)
    made = []
    for username, name, role, key in ACCOUNTS:
        if staff.find_account(session, username) is not None:
            continue
        account = staff.create_account(session, now, username=username, display_name=name,
                                       password_hash=password_hash, actor=ACTOR)
        staff.grant(session, now, account=account, role=role,
                    organisation_id=organisations[key].id if key else None, actor=ACTOR)
        made.append(username)
    return made


SCENARIO_DEMOS: list = []
"""Each scenario's demo loader, ``load(now, certify) -> list[str]`` (what it made), registered by the scenario
when the app starts; run after the core's demo and its people, idempotent, each in its own units of work (one
may compute outside a transaction first, as a footprint calculation does)."""


def load_demo(now: datetime, certify) -> str:
    """``certify`` is the app's (backend.certificates.certify()): demo retirements get real certificates."""
    batches = atomic(lambda session: _load(session, now, certify))
    if read(lambda session: any(staff.find_account(session, a[0]) is None for a in ACCOUNTS)):
        password_hash = passwords.hash_password(DEMO_PASSWORD)  # outside the transaction: argon2 takes a while
        atomic(lambda session: _people(session, now, password_hash))
    for load in SCENARIO_DEMOS:
        batches += load(now, certify)
    return "demo data ready: " + ", ".join(batches)
