"""The threshold model of the tree-planting duty, and the rules' versions.

A region converts money to the duty by thresholds per year: reaching the duty threshold discharges the year (尽责),
reaching the honour threshold earns the honour voucher (荣誉). Payments add up over the year where the rule says
so (Hunan), else one payment must reach a threshold by itself (Beijing). Someone outside duty age who pays the
duty threshold gets the honour voucher instead: they owe nothing.

Rules are records a reviewer changes by writing the next version; a voucher names the version it was issued under.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from backend import audit
from backend.errors import Conflict, InvalidInput, NotFound
from backend.registry import adcode
from scenarios.tree_duty.models import RULE_STATUSES, DutyRule

SEED_ACTOR = "system:seed"
EDITABLE = ("name", "effective_from", "effective_to", "duty_fen", "duty_trees", "honour_fen", "honour_trees",
            "accumulates", "min_age", "max_age_male", "max_age_female", "status", "source", "note")


# --- the model ---------------------------------------------------------------------------------------------------

def age_in(year: int, birth_year: int) -> int:
    """The age reached in the duty year (the duty is yearly; a birthday late in December still counts)."""
    return year - birth_year


def of_duty_age(rule: DutyRule, year: int, birth_year: int, sex: str) -> bool:
    age = age_in(year, birth_year)
    return rule.min_age <= age <= (rule.max_age_male if sex == "male" else rule.max_age_female)


@dataclass(frozen=True)
class Standing:
    """Where a person stands for a year under a rule, given what they paid."""

    status: str
    """none / duty_done / honour"""
    counted_fen: int
    """What counts toward the thresholds: the year's sum, or its largest single payment."""
    trees: int


def counted(rule: DutyRule, payments_fen: list[int]) -> int:
    return sum(payments_fen) if rule.accumulates else max(payments_fen, default=0)


def standing(rule: DutyRule, payments_fen: list[int], *, of_age: bool,
             held: Mapping[str, int] | None = None) -> Standing:
    """``held``: the vouchers the year already has (tier → trees). A voucher stands whatever the rule (revised
    since) or the person's age (a birth year corrected since) says now: the year it discharged stays discharged."""
    paid = counted(rule, payments_fen)
    if rule.honour_fen is not None and paid >= rule.honour_fen:
        status, trees = "honour", rule.honour_trees
    elif paid >= rule.duty_fen:
        status, trees = "duty_done" if of_age else "honour", rule.duty_trees
    else:
        status, trees = "none", 0
    held = held or {}
    if "honour" in held:
        status = "honour"
    elif "duty" in held and status == "none":
        status = "duty_done"
    return Standing(status, paid, max([trees, *held.values()]))


def tier_reached(rule: DutyRule, paid_fen: int, *, of_age: bool) -> str | None:
    """The voucher a counted amount earns: honour, duty, or none yet."""
    if (rule.honour_fen is not None and paid_fen >= rule.honour_fen) or (not of_age and paid_fen >= rule.duty_fen):
        return "honour"
    return "duty" if paid_fen >= rule.duty_fen else None


def due(rule: DutyRule, payments_fen: list[int], *, tier: str, of_age: bool, amount_fen: int | None = None,
        held: Mapping[str, int] | None = None) -> int:
    """What an order for ``tier`` pays: the threshold, less what the year already counts where payments add up; or,
    where they add up, a part payment ``amount_fen`` that does not pass the rule's top threshold.

    Conflict (409) when the year is already there (by its payments or its vouchers, ``held``); InvalidInput (400)
    naming the field otherwise.
    """
    now = standing(rule, payments_fen, of_age=of_age, held=held)
    if now.status == "honour":
        raise Conflict(f"{rule.name}本年度已获荣誉凭证，无需再付 (this year already has its honour voucher)",
                       code="tree_duty_honoured")
    if tier == "duty" and now.status == "duty_done":
        raise Conflict("本年度义务植树已尽责，不能重复尽责 (this year's duty is already discharged); 如愿多植，"
                       "可选荣誉凭证 (tier honour)" if rule.honour_fen else
                       "本年度义务植树已尽责，不能重复尽责 (this year's duty is already discharged)",
                       code="tree_duty_done")
    if tier == "honour" and rule.honour_fen is None and of_age:
        raise InvalidInput("tree_duty.tier", f"{rule.name}规则未设荣誉门槛 (the rule sets no honour threshold)")
    target = rule.honour_fen if tier == "honour" and rule.honour_fen is not None else rule.duty_fen
    owed = target - now.counted_fen if rule.accumulates else target
    if amount_fen is None:
        return owed
    if not rule.accumulates:
        raise InvalidInput("tree_duty.amount_fen", f"{rule.name}按单笔计，须一次付满 {target / 100:g} 元 (the rule counts "
                                                   "single payments: pay the threshold at once)")
    room = (rule.honour_fen or rule.duty_fen) - now.counted_fen  # a part may pass the duty, never the top threshold
    if amount_fen > room:
        raise InvalidInput("tree_duty.amount_fen", f"至多 {room} 分即达到最高门槛 (at most {room} fen reaches the top "
                                                   "threshold)")
    return amount_fen


# --- the records -------------------------------------------------------------------------------------------------

@functools.cache
def _shipped() -> tuple[dict[str, Any], ...]:
    """The shipped rules, parsed once per process: package data changes only with a deploy."""
    text = resources.files("scenarios.tree_duty").joinpath("data/rules.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = []
    for row in csv.DictReader(lines):
        rows.append({
            "key": row["key"], "region": row["region"], "name": row["name"],
            "effective_from": date.fromisoformat(row["effective_from"]),
            "effective_to": date.fromisoformat(row["effective_to"]) if row["effective_to"] else None,
            "duty_fen": int(row["duty_fen"]), "duty_trees": int(row["duty_trees"]),
            "honour_fen": int(row["honour_fen"]) if row["honour_fen"] else None,
            "honour_trees": int(row["honour_trees"]) if row["honour_trees"] else None,
            "accumulates": row["accumulates"] == "true", "min_age": int(row["min_age"]),
            "max_age_male": int(row["max_age_male"]), "max_age_female": int(row["max_age_female"]),
            "status": row["status"], "source": row["source"], "note": row["note"] or None})
    return tuple(rows)


def current_rules(session: Session, now: datetime) -> list[DutyRule]:
    """Every rule's latest version, loading the shipped rules whose key the database lacks (a deploy may add one;
    it never overwrites a reviewer's version). Two processes loading at once: the loser's insert fails on the
    unique (key, version) and its unit of work is retried."""
    rows = list(session.execute(select(DutyRule).where(DutyRule.replaced_at.is_(None))
                                .order_by(DutyRule.region, DutyRule.effective_from)).scalars())
    known = {rule.key for rule in rows}  # a key in the database always has one current version (revise keeps it so)
    missing = [row for row in _shipped() if row["key"] not in known]
    if missing:
        for row in missing:
            rule = DutyRule(**row, version=1, recorded_by=SEED_ACTOR, recorded_at=now)
            session.add(rule)
            rows.append(rule)
        session.flush()
    return rows


def rule_for(session: Session, now: datetime, region: str, day: date, *, field: str = "region") -> DutyRule:
    """The most specific rule in force on ``day``: county, then prefecture, then province. None: a 400 naming
    ``field`` and the regions that have one."""
    rules = current_rules(session, now)
    for code in (region, region[:4] + "00", region[:2] + "0000"):
        for rule in rules:
            if rule.region == code and rule.effective_from <= day and (rule.effective_to is None
                                                                       or day <= rule.effective_to):
                return rule
    names = "、".join(sorted({rule.name for rule in rules}))
    raise InvalidInput(field, f"该地区在 {day} 无义务植树碳汇尽责规则 (no tree-duty rule for this region on that day); "
                              f"有规则的地区 (regions with a rule): {names}", code="no_tree_duty_rule")


def get_rule(session: Session, rule_id: int) -> DutyRule:
    rule = session.get(DutyRule, rule_id)
    if rule is None:
        raise NotFound("规则不存在 (unknown rule)")
    return rule


def history(session: Session, now: datetime, key: str) -> list[DutyRule]:
    current_rules(session, now)
    found = list(session.execute(select(DutyRule).where(DutyRule.key == key).order_by(DutyRule.version)).scalars())
    if not found:
        raise NotFound("规则不存在 (unknown rule)")
    return found


def _check(values: dict[str, Any]) -> None:
    """What the database's checks say, as 400s naming the field."""
    if values["region"] not in adcode.divisions():
        raise InvalidInput("region", "不是有效的行政区划代码 (not a GB/T 2260 division code)")
    if values["status"] not in RULE_STATUSES:
        raise InvalidInput("status", f"应为 {' / '.join(RULE_STATUSES)}")
    if values["effective_to"] is not None and values["effective_to"] < values["effective_from"]:
        raise InvalidInput("effective_to", "不能早于 effective_from (before effective_from)")
    if (values["honour_fen"] is None) != (values["honour_trees"] is None):
        raise InvalidInput("honour_trees" if values["honour_trees"] is None else "honour_fen",
                           "honour_fen 与 honour_trees 须同时给出或同时为空 (give both or neither)")
    if values["honour_fen"] is not None and values["honour_fen"] <= values["duty_fen"]:
        raise InvalidInput("honour_fen", "应高于 duty_fen (must exceed the duty threshold)")
    if values["honour_trees"] is not None and values["honour_trees"] < values["duty_trees"]:
        raise InvalidInput("honour_trees", "不能少于 duty_trees (fewer trees than the duty)")
    if values["min_age"] > min(values["max_age_male"], values["max_age_female"]):
        raise InvalidInput("min_age", "不能高于最大年龄 (above a maximum age)")


def _overlapping(session: Session, now: datetime, values: dict[str, Any], *, except_key: str | None) -> None:
    end = values["effective_to"] or date.max
    for rule in current_rules(session, now):
        if rule.region != values["region"] or rule.key == except_key:
            continue
        if rule.effective_from <= end and values["effective_from"] <= (rule.effective_to or date.max):
            raise Conflict(f"与规则 {rule.key}（{rule.effective_from} 起）期间重叠 (overlaps the period of rule "
                           f"{rule.key}): 先为其设定 effective_to", code="rule_period_overlap",
                           details={"key": rule.key, "version": rule.version})


def revise(session: Session, now: datetime, key: str, changes: dict[str, Any], *, actor: str, reason: str) -> DutyRule:
    """Write the next version of rule ``key`` with ``changes``; the previous version is marked replaced."""
    current_rules(session, now)
    # Two reviewers changing one rule queue on its versions' rows (version 1 is among them for both); then the
    # current version is read by a statement of its own, which sees what the first reviewer committed meanwhile —
    # locking "the current version" directly would find, after the wait, a version no longer current, and nothing.
    session.execute(select(DutyRule.id).where(DutyRule.key == key).with_for_update())
    previous = session.execute(select(DutyRule).where(DutyRule.key == key, DutyRule.replaced_at.is_(None))
                               .execution_options(populate_existing=True)).scalar_one_or_none()
    if previous is None:
        raise NotFound("规则不存在 (unknown rule)")
    values = {name: getattr(previous, name) for name in ("region", *EDITABLE)} | changes
    _check(values)
    if all(values[name] == getattr(previous, name) for name in EDITABLE):
        return previous  # nothing changed: no new version
    _overlapping(session, now, values, except_key=key)
    previous.replaced_at = now
    session.add(previous)
    rule = DutyRule(key=key, version=previous.version + 1, recorded_by=actor, recorded_at=now, **values)
    session.add(rule)
    session.flush()
    audit.append(session, now, actor=actor, action="tree_duty.rule.revise", object_type="tree_duty_rule",
                 object_id=key, after={"version": rule.version, "reason": reason,
                                       "changed": sorted(n for n in EDITABLE if values[n] != getattr(previous, n))})
    return rule


def create(session: Session, now: datetime, key: str, values: dict[str, Any], *, actor: str) -> DutyRule:
    """A new rule (a region that publishes one, or a new period): version 1 of a new key."""
    current_rules(session, now)
    if session.execute(select(func.count()).select_from(DutyRule).where(DutyRule.key == key)).scalar_one():
        raise Conflict(f"规则 {key} 已存在 (rule key taken)", code="rule_exists")
    _check(values)
    _overlapping(session, now, values, except_key=None)
    rule = DutyRule(key=key, version=1, recorded_by=actor, recorded_at=now, **values)
    session.add(rule)
    session.flush()
    audit.append(session, now, actor=actor, action="tree_duty.rule.create", object_type="tree_duty_rule",
                 object_id=key, after={"version": 1, "region": rule.region})
    return rule


def rule_view(rule: DutyRule) -> dict[str, Any]:
    return {"id": rule.id, "key": rule.key, "version": rule.version, "region": rule.region, "name": rule.name,
            "effective_from": rule.effective_from.isoformat(),
            "effective_to": rule.effective_to.isoformat() if rule.effective_to else None,
            "duty_fen": rule.duty_fen, "duty_trees": rule.duty_trees, "honour_fen": rule.honour_fen,
            "honour_trees": rule.honour_trees, "accumulates": rule.accumulates,
            "ages": {"min": rule.min_age, "max_male": rule.max_age_male, "max_female": rule.max_age_female},
            "status": rule.status, "source": rule.source, "note": rule.note,
            "recorded_by": rule.recorded_by, "recorded_at": rule.recorded_at.isoformat() if rule.recorded_at else None,
            "current": rule.replaced_at is None}
