"""How a calculator adds up: exact lines, one rounding rule, and a trace a person can check by hand.

Every line is a quantity times a chain of factors. The arithmetic is exact (fractions, so 44/12 is 44/12), and
each line is rounded up to the whole gram once, at the end: the footprint we report is never less than the
inputs give, and the total is exactly the sum of its lines. The trace spells each line as
``input × factor × … = result — source``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from backend.errors import InvalidInput
from backend.footprint.library import Factor, FactorSet, _plain

MAX_TOTAL_G = 10**16  # 10 Gt: more than China emits in a year; past it the inputs are wrong, not the planet
ROUNDING_RULE = "每行向上取整到克，合计为各行之和 (each line rounded up to the whole gram; the total is their sum)"

CATEGORY_NAMES = {
    "electricity": "电力", "natural_gas": "天然气", "water": "自来水", "lpg": "液化石油气", "heating": "供暖",
    "car": "小汽车", "taxi": "出租车", "bus": "公交车", "metro": "地铁", "hsr": "高铁", "train": "普速铁路",
    "flight": "航空", "diet": "饮食", "garments": "服装", "paper": "纸张", "plastic_bags": "塑料袋",
    "waste": "垃圾", "hotel": "住宿", "activities": "游览活动", "transport": "交通",
    "venue_energy": "场馆能源", "organiser_vehicles": "组织方车辆", "participant_travel": "参与者交通",
    "accommodation": "住宿", "catering": "餐饮", "materials": "物料", "forest_loss": "林木碳储量损失",
}


@dataclass(frozen=True)
class Step:
    """One multiplier of a line: the number used, how the trace shows it, and its source if it has one."""

    value: Fraction
    shown: str
    source: str | None = None
    factor: Factor | None = None

    @classmethod
    def of(cls, factor: Factor) -> Step:
        """A library factor: emission factors count in grams, ratios as they are."""
        grams = factor.grams_per_unit
        if grams is not None:
            return cls(Fraction(grams), f"{_plain(factor.value)} {factor.unit}", factor.citation(), factor)
        unit = "" if factor.unit == "ratio" else f" {factor.unit}"
        return cls(Fraction(factor.value), f"{_plain(factor.value)}{unit}（{_short(factor.name)}）",
                   factor.citation(), factor)

    @classmethod
    def count(cls, value: int | Fraction, shown: str) -> Step:
        """A plain multiplier with no source: passengers, a return journey, a number of people."""
        return cls(Fraction(value), shown)


def _short(name: str) -> str:
    """The Chinese half of a factor's name: "航程绕飞系数 (great-circle uplift)" → "航程绕飞系数"."""
    return name.split(" (")[0]


def number_text(value: Fraction | Decimal | int, places: int = 4) -> str:
    """A number for the trace: exact when it has few decimals, else rounded and marked with ≈."""
    value = Fraction(value)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    rounded = round(exact, places)
    text = f"{rounded:,f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text if rounded == exact else f"≈{text}"


@dataclass
class Line:
    category: str
    item: str
    quantity: Fraction
    unit: str
    steps: list[Step]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exact(self) -> Fraction:
        result = self.quantity
        for step in self.steps:
            result *= step.value
        return result

    @property
    def grams(self) -> int:
        return math.ceil(self.exact)

    def text(self) -> str:
        chain = " × ".join([f"{number_text(self.quantity)} {self.unit}"] + [step.shown for step in self.steps])
        sources = "；".join(dict.fromkeys(step.source for step in self.steps if step.source))
        return f"{self.item}：{chain} = {self.grams:,} gCO2e — {sources or '输入值 (input)'}"

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "category_name": CATEGORY_NAMES.get(self.category, self.category),
                "item": self.item, "quantity": number_text(self.quantity, 6).replace(",", ""),
                "unit": self.unit, "result_g": self.grams,
                "factors": [step.factor.to_json() for step in self.steps if step.factor is not None],
                **self.extra}


class Tally:
    """The lines of one calculation, against one factor set."""

    def __init__(self, factors: FactorSet) -> None:
        self.factors = factors
        self.lines: list[Line] = []
        self.derivations: list[str] = []
        self.notes: list[str] = []

    def add(self, category: str, item: str, quantity: Decimal | Fraction | int, unit: str, steps: list[Step],
            **extra: Any) -> Line:
        line = Line(category, item, Fraction(quantity), unit, steps, extra)
        self.lines.append(line)
        return line

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def total_g(self) -> int:
        return sum(line.grams for line in self.lines)

    def categories(self) -> list[dict[str, Any]]:
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.category] = totals.get(line.category, 0) + line.grams
        return [{"category": name, "name": CATEGORY_NAMES.get(name, name), "total_g": grams}
                for name, grams in totals.items()]

    def result(self, calculator: str, inputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
        if self.total_g > MAX_TOTAL_G:
            largest = max(self.lines, key=lambda line: line.grams)
            raise InvalidInput(largest.category, f"结果超过 {MAX_TOTAL_G // 10**15} Gt，请检查数量 (the result "
                                                 f"exceeds 10 Gt: check the quantities; largest: {largest.item})")
        return {"calculator": calculator, "total_g": self.total_g, "categories": self.categories(),
                "breakdown": [line.to_json() for line in self.lines],
                "trace": self.derivations + [line.text() for line in self.lines],
                "notes": self.notes, "rounding": ROUNDING_RULE,
                "factor_set": {"number": self.factors.number, "sha256": self.factors.sha256},
                "inputs": inputs, **extra}
