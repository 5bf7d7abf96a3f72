"""Lifestyle: meals by diet, garments bought, paper, plastic bags and household waste."""

from __future__ import annotations

from pydantic import Field

from backend.errors import InvalidInput
from backend.footprint.calculators.common import simple
from backend.footprint.inputs import Calculation, Count, Meals, Quantity, canonical_inputs
from backend.footprint.library import FactorSet
from backend.footprint.tally import Step, Tally

NAME = "lifestyle"
MEAL_NAMES = {"meat_heavy": "重肉食餐", "meat": "普通肉食餐", "meat_light": "少肉餐", "fish": "鱼素餐",
              "vegetarian": "素食餐", "vegan": "纯素餐"}


class Input(Calculation):
    meals: Meals | None = None
    garments: Count | None = Field(default=None, description="garments bought")
    paper_kg: Quantity(100_000) | None = None
    plastic_bags: Count | None = None
    waste_kg: Quantity(1_000_000) | None = Field(default=None, description="household waste to landfill")


def add_meals(tally: Tally, meals: Meals | None, category: str) -> None:
    for kind, count in (meals.model_dump().items() if meals else ()):
        if count:
            tally.add(category, MEAL_NAMES[kind], count, "餐", [Step.of(tally.factors.factor(f"meal.{kind}"))])


def calculate(inputs: Input, factors: FactorSet) -> dict:
    if all(getattr(inputs, name) is None for name in ("meals", "garments", "paper_kg", "plastic_bags", "waste_kg")):
        raise InvalidInput("meals", "至少填写一项 (give at least one of meals, garments, paper_kg, plastic_bags, "
                                    "waste_kg)")
    tally = Tally(factors)
    add_meals(tally, inputs.meals, "diet")
    simple(tally, "garments", "服装", inputs.garments, "件", "garment.item")
    simple(tally, "paper", "纸张", inputs.paper_kg, "kg", "paper.kg")
    simple(tally, "plastic_bags", "塑料袋", inputs.plastic_bags, "个", "plastic_bag.item")
    simple(tally, "waste", "生活垃圾（填埋）", inputs.waste_kg, "kg", "waste.landfill_kg")
    return tally.result(NAME, canonical_inputs(inputs))
