"""How a case's requirement is computed from its loss: the multiplier and the rounding, once, with every step
written out as the court file shows it.

Sources (../shared/reference/domain-facts.md, judicial): the multiplier is the court's (南靖: the county forestry
bureau computed 47.07 tCO2 and the defendant bought twice that); the default of 1 is the loss itself. Rounding up
to the whole tonne is the default because credits are traded and ordered in tonnes, and the quantity retired must
never be less than the loss it restores (DESIGN.md §3's rounding rule for neutralisation).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import ceil

RULES_VERSION = "judicial-2026-12"
GRAMS_PER_T = 1_000_000
ROUNDING_UNITS = {"up_tonne": 1_000_000, "up_kg": 1_000, "exact": 1}
ROUNDING_LABELS = {"up_tonne": "向上取整至整吨 (up to the whole tonne)",
                   "up_kg": "向上取整至千克 (up to the kilogram)", "exact": "不取整，精确到克 (exact, in grams)"}


def tonnes_text(grams: int | Fraction) -> str:
    value = Fraction(grams) / GRAMS_PER_T
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f") if value.denominator != 1 \
        else str(value.numerator)
    return text.rstrip("0").rstrip(".") if "." in text else text


def yuan_text(fen: int | Fraction) -> str:
    value = Decimal(Fraction(fen).numerator) / Decimal(Fraction(fen).denominator) / 100
    return format(value.quantize(Decimal("0.01")), ",f")


def grams_of_tonnes(tonnes: Decimal) -> int:
    grams = Fraction(tonnes) * GRAMS_PER_T
    if grams.denominator != 1:  # the schema allows 6 places: a tonne is 10^6 g
        raise ValueError(f"{tonnes} t is not a whole number of grams")
    return int(grams)


def requirement(loss_g: int, multiplier: Decimal, rounding: str) -> tuple[int, list[str]]:
    """Grams to retire: loss × multiplier, rounded up by the rule; and the lines that say so."""
    product = Fraction(loss_g) * Fraction(multiplier)
    unit = ROUNDING_UNITS[rounding]
    required = ceil(product / unit) * unit
    return required, [
        f"{tonnes_text(loss_g)} t × 倍数 {format(multiplier, 'f')} = {tonnes_text(product)} t (loss × multiplier)",
        f"{ROUNDING_LABELS[rounding]}：{tonnes_text(required)} t = {required:,} g CO2e (quantity to retire)",
        f"规则版本 {RULES_VERSION} (rules version)"]


def money_requirement(amount_fen: int, multiplier: Decimal) -> tuple[int, list[str]]:
    """Fen to spend on credits: the sum × multiplier, up to the fen."""
    required = ceil(Fraction(amount_fen) * Fraction(multiplier))
    return required, [
        f"{yuan_text(amount_fen)} 元 × 倍数 {format(multiplier, 'f')} = {yuan_text(required)} 元 "
        "(sum × multiplier, up to the fen)",
        "所购碳汇数量以购买时的挂牌价计 (the quantity is what the sum buys at the listed price)",
        f"规则版本 {RULES_VERSION} (rules version)"]


def split(total: int, percents: list[Decimal]) -> list[int]:
    """Each payer's part of ``total`` by their percentages, in whole units; the last takes what rounding left."""
    parts = [int(Fraction(total) * Fraction(p) / 100) for p in percents[:-1]]
    return parts + [total - sum(parts)]
