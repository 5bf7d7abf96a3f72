"""Tree duty (碳汇+义务植树): trees ↔ yuan ↔ grams CO2e under the rule of the person's region on a given day.

The rule says what a tree costs (yuan per tree) and, in some regions, how much carbon it stands for. Where it
does not, the credit price converts yuan to grams. Rounding: money for trees is exact; trees bought with money
or grams are whole trees, rounded down (a part-paid tree discharges nothing); grams bought with money round up.
"""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction

from pydantic import Field

from backend.errors import InvalidInput
from backend.footprint.inputs import Calculation, Region, canonical_inputs, check_region
from backend.footprint.library import STATUS_ZH, DutyRule, FactorSet
from backend.footprint.tally import Step, Tally

NAME = "tree_duty"
GRAMS_PER_T = 1_000_000


class Input(Calculation):
    region: Region = Field(description="the person's province, prefecture or county adcode")
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$",
                             description="the day whose rule applies; today (Beijing) when absent")
    trees: int | None = Field(default=None, ge=1, le=1_000_000, description="the yearly duty when nothing given")
    amount_fen: int | None = Field(default=None, ge=1, le=10_000_000_000)
    grams: int | None = Field(default=None, ge=1, le=10**13)
    price_fen_per_t: int | None = Field(default=None, ge=1, le=100_000_000,
                                        description="credit price, where the rule has no grams per tree")


def rule_for(factors: FactorSet, region: str, day: date) -> DutyRule | None:
    """The most specific rule in force: county, then prefecture, then province."""
    for code in (region, region[:4] + "00", region[:2] + "0000"):
        for rule in factors.duty_rules:
            if rule.region == code and rule.in_force(day):
                return rule
    return None


def calculate(inputs: Input, factors: FactorSet) -> dict:
    check_region(inputs.region)
    if inputs.date is None:  # the service fills in today: a calculator reads no clock
        raise InvalidInput("date", "必填 (required)")
    try:
        day = date.fromisoformat(inputs.date)
    except ValueError:
        raise InvalidInput("date", f"日期无效 {inputs.date} (not a date)") from None
    given = [name for name in ("trees", "amount_fen", "grams") if getattr(inputs, name) is not None]
    if len(given) > 1:
        raise InvalidInput(given[1], "trees / amount_fen / grams 只能填一项 (give at most one)")
    rule = rule_for(factors, inputs.region, day)
    if rule is None:
        regions = "、".join(sorted({r.name for r in factors.duty_rules}))
        raise InvalidInput("region", f"该地区在 {day} 无义务植树折算规则 (no tree-duty rule for this region on "
                                     f"that day); 有规则的地区 (regions with a rule): {regions}")
    if rule.g_per_tree is None and inputs.price_fen_per_t is None:
        raise InvalidInput("price_fen_per_t", f"{rule.name}规则未规定每株碳汇量，请提供碳汇单价（分/吨）"
                                              "(the rule sets no grams per tree: give the credit price)")
    fen_per_tree = Fraction(rule.yuan_per_tree) * 100
    rule_source = f"{rule.source}，{STATUS_ZH[rule.status]}"
    price = Fraction(GRAMS_PER_T, inputs.price_fen_per_t) if inputs.price_fen_per_t else None
    tally = Tally(factors)
    per_tree = Step(fen_per_tree, f"{_fen(fen_per_tree)} 分/株", rule_source)
    if inputs.amount_fen is not None:
        trees = math.floor(Fraction(inputs.amount_fen) / fen_per_tree)
        tally.derivations.append(f"{inputs.amount_fen:,} 分 ÷ {_fen(fen_per_tree)} 分/株 = {trees} 株（向下取整）"
                                 f" — {rule_source}")
    elif inputs.grams is not None:
        g_per_tree = Fraction(rule.g_per_tree) if rule.g_per_tree else fen_per_tree * price
        trees = math.floor(Fraction(inputs.grams) / g_per_tree)
        tally.derivations.append(f"{inputs.grams:,} g ÷ {_g(g_per_tree)} g/株 = {trees} 株（向下取整）"
                                 f" — {rule_source if rule.g_per_tree else '规则单价 × 碳汇单价'}")
    else:
        trees = inputs.trees or rule.trees_per_year
    amount_fen = math.ceil(trees * fen_per_tree)
    tally.derivations.append(f"{trees} 株 × {per_tree.shown} = {amount_fen:,} 分 — {rule_source}")
    if rule.g_per_tree is not None:
        tally.add("tree_duty", f"义务植树 {trees} 株（{rule.name}）", trees, "株",
                  [Step(Fraction(rule.g_per_tree), f"{rule.g_per_tree:,} g/株", rule_source)])
    else:
        tally.add("tree_duty", f"义务植树 {trees} 株（{rule.name}）", trees, "株",
                  [per_tree, Step(price, f"{GRAMS_PER_T:,} g ÷ {inputs.price_fen_per_t:,} 分/吨",
                                  "碳汇单价（输入）")])
    return tally.result(NAME, canonical_inputs(inputs), trees=trees, amount_fen=amount_fen,
                        duty_trees=rule.trees_per_year, meets_duty=trees >= rule.trees_per_year,
                        rule=rule.to_json())


def _fen(value: Fraction) -> str:
    return f"{value.numerator:,}" if value.denominator == 1 else f"{float(value):,.2f}"


def _g(value: Fraction) -> str:
    return f"{value.numerator:,}" if value.denominator == 1 else f"≈{float(value):,.2f}"
