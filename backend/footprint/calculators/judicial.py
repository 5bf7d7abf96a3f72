"""Judicial loss (碳汇+生态司法): the carbon a forest-damage case destroyed, for substitutive restoration.

Stock method (CCER afforestation methodology / IPCC): volume × wood density × biomass expansion factor ×
(1 + root-shoot ratio) × carbon fraction × 44/12. Area method: area × annual sink per mu × recovery years.
Species defaults come from the library; an appraisal report's value replaces any of them, and the trace says
for each parameter whether it is the default or the appraisal's, so the result can go into a court file.

The area method's annual sink has no default: the one the library had (judicial.area_sink_per_mu, 0.56
tCO2/mu-year) was a 2011 sales figure, and no damage-assessment source backs a national value, so it must come
from the appraisal. Each result says what its method leaves out (``excludes`` and a note): the stock method the
growth lost until the forest recovers, the area method the carbon stored in the destroyed trees.

Factor sets loaded before the default was withdrawn still carry it; for them the calculator answers as it did
then (the default, no ``excludes``), so that a calculation stored against such a set reproduces exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from pydantic import Field

from backend.errors import InvalidInput
from backend.footprint.calculators.common import exactly_one
from backend.footprint.inputs import Calculation, PlainDecimal, Quantity, Strict, canonical_inputs
from backend.footprint.library import STATUS_ZH, FactorSet
from backend.footprint.tally import Step, Tally, number_text

NAME = "judicial"
CO2_PER_C = Fraction(44, 12)
GRAMS_PER_T = 1_000_000
M2_PER_MU = Fraction(10_000, 15)
WITHDRAWN_AREA_DEFAULT = "judicial.area_sink_per_mu"
NO_AREA_DEFAULT = ("面积法须采用鉴定意见给出的年固碳量：没有损害鉴定依据支持全国缺省值 (the area method needs the "
                   "appraisal's annual sink: no damage-assessment source backs a national default)")
EXCLUDES = {
    "stock": ("lost_growth", "蓄积量法只计被毁林木所含的碳，不计森林恢复前损失的生长固碳（未来固碳量），鉴定意见常因计入此项而更高 "
                             "(the stock method counts the carbon in the felled trees only, not the growth lost until "
                             "the forest recovers; appraisals that count it often give more)"),
    "area": ("stock_loss", "面积法只计恢复年限内损失的固碳，不计被毁林木本身所含的碳 "
                           "(the area method counts the sequestration lost over the recovery years only, not the "
                           "carbon stored in the destroyed trees)"),
}
# 案号 as courts and procuratorates write it: (2024)川0181刑初123号, （2023）黔0502民初45号, 昌检刑诉〔2024〕12号.
CASE_NO = re.compile(r"^(?:[（(]\d{4}[）)][\u4e00-\u9fff\d]{1,20}\d+号|[\u4e00-\u9fff]{1,12}[〔\[]\d{4}[〕\]]\d+号)$")


def _parameter(low: str, high: str, description: str):
    return Field(default=None, description=f"{description}: an appraisal's value, {low}–{high}")


class Appraised(Strict):
    """One parameter as the appraisal report gives it."""

    value: PlainDecimal = Field(ge=0, le=100, decimal_places=6)
    source: str = Field(min_length=2, max_length=200, description="report and page, e.g. 川林鉴〔2024〕12号 第3页")


class Parameters(Strict):
    wood_density: Appraised | None = _parameter("0.1", "1.5", "basic wood density, t/m³")
    bef: Appraised | None = _parameter("1", "3", "biomass expansion factor")
    root_shoot: Appraised | None = _parameter("0", "1", "root-shoot ratio")
    carbon_fraction: Appraised | None = _parameter("0.3", "0.6", "carbon fraction of dry biomass")
    annual_sink_t_per_mu: Appraised | None = _parameter("0", "20", "tCO2 per mu per year (area method)")


BOUNDS = {"wood_density": ("0.1", "1.5"), "bef": ("1", "3"), "root_shoot": ("0", "1"),
          "carbon_fraction": ("0.3", "0.6"), "annual_sink_t_per_mu": ("0", "20")}
NAMES = {"wood_density": ("基本木材密度", "t/m³"), "bef": ("生物量扩展因子", ""), "root_shoot": ("根茎比", ""),
         "carbon_fraction": ("含碳率", ""), "annual_sink_t_per_mu": ("年固碳量", "tCO2/(亩·年)")}


class Appraisal(Strict):
    body: str = Field(min_length=2, max_length=100, description="appraisal body (鉴定机构)")
    report_no: str = Field(min_length=2, max_length=60, description="report number (鉴定意见书编号)")


class Input(Calculation):
    method: Literal["stock", "area"]
    case_no: str | None = Field(default=None, max_length=40, description="案号, e.g. (2024)川0181刑初123号")
    appraisal: Appraisal | None = None
    species: str | None = Field(default=None, min_length=1, max_length=20)
    volume_m3: Quantity(10_000_000) | None = None
    area_mu: Quantity(100_000_000) | None = None
    area_ha: Quantity(10_000_000) | None = None
    area_m2: Quantity(100_000_000_000) | None = None
    recovery_years: Quantity(200) | None = None
    parameters: Parameters = Field(default_factory=Parameters)


def calculate(inputs: Input, factors: FactorSet) -> dict:
    if inputs.case_no is not None and not CASE_NO.fullmatch(inputs.case_no):
        raise InvalidInput("case_no", "案号格式不正确，如 (2024)川0181刑初123号 (malformed case number)")
    given = {name: value for name, value in inputs.parameters if value is not None}
    for name, value in given.items():
        low, high = BOUNDS[name]
        if not Decimal(low) <= value.value <= Decimal(high):
            raise InvalidInput(f"parameters.{name}.value", f"应在 {low}–{high} 之间 (must be within {low}–{high})")
    if given and inputs.appraisal is None:
        raise InvalidInput("appraisal", "采用鉴定参数须注明鉴定机构和意见书编号 (appraised values need the appraisal)")
    tally = Tally(factors)
    if inputs.case_no:
        tally.note(f"案号：{inputs.case_no}")
    if inputs.appraisal:
        tally.note(f"鉴定意见：{inputs.appraisal.body} {inputs.appraisal.report_no}")
    legacy = tally.factors.has(WITHDRAWN_AREA_DEFAULT)  # a set from before the default was withdrawn
    if inputs.method == "stock":
        _stock(tally, inputs, given)
    else:
        _area(tally, inputs, given)
    extra = {}
    if not legacy:
        code, note = EXCLUDES[inputs.method]
        tally.note(note)
        extra["excludes"] = [code]
    result = tally.result(NAME, canonical_inputs(inputs), method=inputs.method, **extra)
    result["total_t"] = number_text(Fraction(result["total_g"], GRAMS_PER_T), 6).replace(",", "")
    return result


def _stock(tally: Tally, inputs: Input, given: dict) -> None:
    for field in ("area_mu", "area_ha", "area_m2", "recovery_years"):
        if getattr(inputs, field) is not None or "annual_sink_t_per_mu" in given:
            raise InvalidInput(field if getattr(inputs, field) is not None else "parameters.annual_sink_t_per_mu",
                               "蓄积量法不用此项 (not used by the stock method)")
    if inputs.volume_m3 is None:
        raise InvalidInput("volume_m3", "蓄积量法须填立木蓄积量 (the stock method needs volume_m3)")
    species = None
    if inputs.species is not None:
        species = tally.factors.species.get(inputs.species)
        if species is None:
            known = "、".join(tally.factors.species)
            raise InvalidInput("species", f"未知树种 {inputs.species}；可选 (known): {known}")
    steps = []
    for name in ("wood_density", "bef", "root_shoot", "carbon_fraction"):
        label, unit = NAMES[name]
        if name in given:
            value, source = given[name].value, f"鉴定意见（{inputs.appraisal.body} {inputs.appraisal.report_no}）：" \
                                               f"{given[name].source}"
        elif species is not None:
            value = getattr(species, name)
            source = f"{species.source}（{species.name}，缺省值，{STATUS_ZH[species.status]}）"
        else:
            raise InvalidInput("species", f"未给出树种，须由鉴定意见给出{label} (no species: parameters.{name} "
                                          "is required)")
        shown = f"{value} {unit}（{label}）" if unit else f"{value}（{label}）"
        if name == "root_shoot":
            steps.append(Step(1 + Fraction(value), f"(1 + {value})（1 + {label}）", source))
        else:
            steps.append(Step(Fraction(value), shown, source))
    steps.append(Step(CO2_PER_C, "44/12（CO2 与 C 分子量比）", "IPCC 碳—二氧化碳换算"))
    _derive(tally, inputs.volume_m3, "m³", ["t 干重（树干）", "t 生物量（地上）", "t 生物量（全株）", "tC", "tCO2"],
            steps)
    tally.add("forest_loss", f"林木碳储量损失（蓄积量法{'，' + inputs.species if inputs.species else ''}）",
              inputs.volume_m3, "m³", steps + [Step.count(GRAMS_PER_T, "1,000,000 g/t")])


def _area(tally: Tally, inputs: Input, given: dict) -> None:
    for field in ("volume_m3", "species"):
        if getattr(inputs, field) is not None:
            raise InvalidInput(field, "面积法不用此项 (not used by the area method)")
    for name in ("wood_density", "bef", "root_shoot", "carbon_fraction"):
        if name in given:
            raise InvalidInput(f"parameters.{name}", "面积法不用此项 (not used by the area method)")
    unit = exactly_one({"area_mu": inputs.area_mu, "area_ha": inputs.area_ha, "area_m2": inputs.area_m2}, "",
                       "受损面积")
    if inputs.recovery_years is None or inputs.recovery_years == 0:
        raise InvalidInput("recovery_years", "面积法须填恢复年限 (the area method needs recovery_years > 0)")
    area = getattr(inputs, unit)
    convert = {"area_mu": [], "area_ha": [Step.count(15, "15 亩/公顷")],
               "area_m2": [Step(1 / M2_PER_MU, "1/666.67 亩/m²（1亩＝10000/15 m²）", "面积换算")]}[unit]
    if "annual_sink_t_per_mu" in given:
        sink = given["annual_sink_t_per_mu"]
        sink_step = Step(Fraction(sink.value), f"{sink.value} tCO2/(亩·年)（年固碳量）",
                         f"鉴定意见（{inputs.appraisal.body} {inputs.appraisal.report_no}）：{sink.source}")
    elif tally.factors.has(WITHDRAWN_AREA_DEFAULT):  # an old set, to reproduce what it computed
        factor = tally.factors.factor(WITHDRAWN_AREA_DEFAULT)
        sink_step = Step(Fraction(factor.value), f"{factor.value} tCO2/(亩·年)（年固碳量）", factor.citation(), factor)
    else:
        raise InvalidInput("parameters.annual_sink_t_per_mu", NO_AREA_DEFAULT)
    years = Step(Fraction(inputs.recovery_years), f"{inputs.recovery_years} 年（恢复年限）", "输入值（恢复年限）")
    steps = convert + [sink_step, years]
    shown_unit = {"area_mu": "亩", "area_ha": "公顷", "area_m2": "m²"}[unit]
    _derive(tally, area, shown_unit, (["亩"] if convert else []) + ["tCO2/年", "tCO2"], steps)
    tally.add("forest_loss", "林地固碳损失（面积法）", area, shown_unit,
              steps + [Step.count(GRAMS_PER_T, "1,000,000 g/t")])


def _derive(tally: Tally, quantity: Decimal, unit: str, units: list[str], steps: list[Step]) -> None:
    """Write the chain one multiplication per line, each with its source, as a court file wants it."""
    value, shown = Fraction(quantity), f"{number_text(Fraction(quantity), 6)} {unit}"
    for step, result_unit in zip(steps, units):
        value *= step.value
        result = f"{number_text(value, 6)} {result_unit}"
        tally.derivations.append(f"{shown} × {step.shown} = {result} — {step.source}")
        shown = result
