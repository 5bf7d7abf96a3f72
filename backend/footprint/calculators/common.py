"""Pieces more than one calculator uses: the grid factor for a region and year, and simple quantity lines."""

from __future__ import annotations

from decimal import Decimal

from backend.errors import InvalidInput
from backend.footprint.library import STATUS_ZH, Factor
from backend.footprint.tally import Step, Tally


def grid_factor(tally: Tally, region: str | None, year: int | None, *, year_field: str = "year") -> Factor:
    """The electricity factor: province, else grid region, else national; the latest year unless one is asked."""
    try:
        factor = tally.factors.factor("electricity.grid", region=region, year=year)
    except LookupError:
        years = "、".join(map(str, tally.factors.years("electricity.grid")))
        raise InvalidInput(year_field, f"没有 {year} 年的电网排放因子 (no grid factor for {year}); "
                                       f"可选年份 (available): {years}") from None
    newer = sorted({f.year for f in tally.factors.select("electricity.grid", factor.geography)
                    if f.year > factor.year})
    if year is not None:
        chosen = "指定年份"
    elif newer:  # a newer value here is less sure (third-party): say why it was passed over
        chosen = f"该地区最新的{STATUS_ZH[factor.status]}值；{'、'.join(map(str, newer))} 年仅有较低可信度的值，未采用"
    else:
        chosen = "最新可用年份"
    tally.note(f"电网排放因子：{factor.where} {factor.year} 年（{chosen}，{STATUS_ZH[factor.status]}）"
               f" {factor.value} {factor.unit} (grid factor: {factor.geography}, {factor.year})")
    return factor


def simple(tally: Tally, category: str, item: str, quantity: Decimal | int | None, unit: str, key: str) -> None:
    """quantity × one national factor, skipped when the quantity was not given."""
    if quantity is None:
        return
    tally.add(category, item, quantity, unit, [Step.of(tally.factors.factor(key))])


def exactly_one(fields: dict[str, object], path: str, what: str) -> str:
    """The name of the one field given among alternatives; a 400 naming them when none or several are."""
    given = [name for name, value in fields.items() if value is not None]
    if len(given) != 1:
        names = " / ".join(f"{path}{name}" for name in fields)
        raise InvalidInput(f"{path}{given[1] if len(given) > 1 else next(iter(fields))}",
                           f"{what}：{names} 须且只能填一项 (give exactly one of {names})")
    return given[0]
