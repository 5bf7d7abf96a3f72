"""The voucher (尽责凭证 / 荣誉凭证): a document of the certificate machinery (numbered, signed, QR-verifiable online
and offline, transparency-logged, PDF and share card) over the retirements that paid a person's year.

The platform issues a purchase voucher that the greening committee (绿委办) recognises; the committee's own
尽责证书 is not ours to issue, and the wording says so. A person's part of a staff list's single retirement is
their own sub-range of its serials, so that no two vouchers vouch for the same credits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from backend.certificates.service import commitment
from backend.certificates.wording import quantity_text
from backend.ledger.holders import mask_name
from backend.registry import adcode
from scenarios.tree_duty.models import DutyRule, DutyVoucher

KIND = "tree_duty_voucher"
TITLES = {"duty": ("全民义务植树尽责凭证（购买碳汇）", "Tree-Planting Duty Voucher (carbon sink purchase)"),
          "honour": ("国土绿化荣誉凭证（购买碳汇）", "Greening Honour Voucher (carbon sink purchase)")}
FORM = "购买林草碳汇（捐资捐物类尽责，由绿化委员会办公室认定）"
RELATIONS = {"self": "本人", "family": "家庭成员", "staff": "单位职工"}


@dataclass(frozen=True)
class Person:
    """Whose duty: the key vouchers are unique by, the name printed, and what duty age is judged from."""

    key: str
    name: str
    birth_year: int
    sex: str
    relation: str
    user_id: int | None = None
    org_id: int | None = None


@dataclass(frozen=True)
class Item:
    """One retirement (or a person's part of one) the voucher lists."""

    certificate_no: str
    quantity_g: int
    payload: dict[str, Any]
    serials: list[list[int]]


def share_of(ranges: list[list[int]], start: int, grams: int) -> list[list[int]]:
    """The serial sub-ranges covering grams [start, start + grams) of a retirement's ranges, in order."""
    taken, offset = [], 0
    for first, last in ranges:
        size = last - first + 1
        low, high = max(start, offset), min(start + grams, offset + size)
        if low < high:
            taken.append([first + low - offset, first + high - offset - 1])
        offset += size
    return taken


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f} 元"


def issue(session: Session, now: datetime, certify, *, person: Person, year: int, tier: str, rule: DutyRule,
          amount_fen: int, items: list[Item], order_id: int | None, of_age: bool,
          extra: dict[str, Any] | None = None) -> tuple[DutyVoucher, Any]:
    """Issue the voucher: (its row, its certificate)."""
    quantity_g = sum(item.quantity_g for item in items)
    # The honour threshold's trees once it is reached; someone outside duty age who paid the duty gets its trees.
    trees = rule.honour_trees if rule.honour_fen is not None and amount_fen >= rule.honour_fen else rule.duty_trees
    region = adcode.full_name(rule.region) or rule.name
    salt = secrets.token_hex(16)
    masked = mask_name(person.name)
    title, title_en = TITLES[tier]
    facts = [
        ["姓名 Name", masked],
        ["尽责年度 Duty year", f"{year} 年"],
        ["地区 Region", region],
        ["折合植树 Trees credited", f"{trees} 株"],
        ["尽责形式 Form", FORM],
        ["折算规则 Rule", f"{rule.name}（{rule.key} 第 {rule.version} 版，{_status_text(rule.status)}）：{rule.source}"],
        ["金额 Amount", _yuan(amount_fen)],
        ["注销碳汇 Credits retired", quantity_text(quantity_g)],
        ["身份 For", RELATIONS[person.relation]],
    ]
    statement = (f"兹证明：{masked} 以购买并注销林草碳汇的方式履行 {year} 年度全民义务植树义务，按{rule.name}折算规则"
                 f"折合植树 {trees} 株。" if tier == "duty" else
                 f"兹证明：{masked} 于 {year} 年度购买并注销林草碳汇，按{rule.name}折算规则折合植树 {trees} 株"
                 # In duty age, the honour threshold includes the duty: the committee may recognise the year on it.
                 + (f"（含本年度义务植树尽责 {rule.duty_trees} 株）" if of_age else "") + "，特发此荣誉凭证。")
    statement += "本凭证为购买碳汇凭证，供绿化委员会办公室认定尽责；所列碳汇不得再转让或重复使用。"
    content = {
        "title": title, "title_en": title_en, "statement": statement,
        "statement_en": (f"This certifies that the person named discharged the {year} compulsory tree-planting duty by "
                         f"buying and retiring forestry and grassland carbon credits, counted as {trees} trees under "
                         f"the rule of {region}." if tier == "duty" else
                         f"This honours the person named for buying and retiring forestry and grassland carbon "
                         f"credits in {year}, counted as {trees} trees under the rule of {region}.")
                        + " A purchase voucher for the greening committee to recognise; the credits below cannot be "
                          "transferred or used again.",
        "facts": facts,
        "items": [{"certificate_no": item.certificate_no, "quantity_g": item.quantity_g,
                   "project": item.payload["project"], "batch": item.payload["batch"], "serials": item.serials,
                   "retired_at": item.payload["retired_at"]} for item in items],
        "beneficiary": {"masked": masked, "commitment": commitment(salt, person.name)},
        "record": {"tier": tier, "year": year, "trees": trees, "region": rule.region, "region_name": region,
                   "amount_fen": amount_fen, "relation": person.relation, "of_duty_age": of_age, **(extra or {}),
                   "rule": {"id": rule.id, "key": rule.key, "version": rule.version, "name": rule.name,
                            "duty_fen": rule.duty_fen, "duty_trees": rule.duty_trees, "honour_fen": rule.honour_fen,
                            "honour_trees": rule.honour_trees, "accumulates": rule.accumulates,
                            "status": rule.status, "source": rule.source}},
    }
    certificate = certify.issue_document(session, now, kind=KIND, purpose="tree_duty", purpose_ref=str(year),
                                         quantity_g=quantity_g, content=content)
    voucher = DutyVoucher(certificate_id=certificate.id, person=person.key, year=year, tier=tier, region=rule.region,
                          rule_id=rule.id, trees=trees, amount_fen=amount_fen, quantity_g=quantity_g,
                          user_id=person.user_id, org_id=person.org_id, order_id=order_id, full_name=person.name,
                          name_salt=salt, issued_at=now)
    session.add(voucher)
    session.flush()
    return voucher, certificate


def _status_text(status: str) -> str:
    return {"official": "官方规定", "reported": "据报道", "assumed": "平台假定"}[status]
