"""Request shapes shared by the calculators: bounded quantities, regions, and travel legs.

Each quantity has a ceiling far above any real case (a household's 10^6 kWh, an expo's 10^9 kWh), so that a
typo like 10^12 kWh is a 400 naming the field rather than a number someone might pay for.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from backend.errors import InvalidInput
from backend.footprint.library import FactorSet
from backend.registry.adcode import divisions


def plain_decimal(value: Decimal) -> Decimal:
    """One spelling per number (1500.0 and 1.5E+3 are 1500), so a stored input reads back as it printed."""
    return Decimal(format(value.normalize(), "f"))


PlainDecimal = Annotated[Decimal, AfterValidator(plain_decimal)]


def Quantity(maximum: int, description: str = "") -> Any:  # noqa: N802 (reads as a type)
    """A non-negative decimal with at most 6 places and a ceiling."""
    return Annotated[PlainDecimal, Field(ge=0, le=maximum, decimal_places=6, description=description)]


Region = Annotated[str, Field(pattern=r"^\d{6}$", description="GB/T 2260 adcode (province or county)")]
Year = Annotated[int, Field(ge=1990, le=2100, description="factor year; latest when absent")]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Cabin = Literal["economy", "premium_economy", "business", "first"]

MAX_KM = 100_000  # further than any journey (Earth's circumference is 40,075 km)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Calculation(Strict):
    """What every calculator body may carry: the factor set to compute with (the current one when absent)."""

    factor_set: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                   description="number of an earlier factor set, to reproduce a result")


def check_region(region: str | None, field: str = "region") -> None:
    if region is not None and region not in divisions():
        raise InvalidInput(field, f"未知的行政区划代码 {region} (unknown adcode)")


def place_of(factors: FactorSet, region: str, field: str) -> tuple[float, float]:
    """A division's coordinates; the table's pseudo-divisions (99xxxx: 苏鲁交界, 海域) have none."""
    check_region(region, field)
    found = factors.place(region)
    if found is None:
        raise InvalidInput(field, f"行政区划 {region} 没有坐标，无法计算距离 (no coordinates to measure from)")
    return found[0]


class CarLeg(Strict):
    mode: Literal["car"]
    fuel: Literal["petrol", "diesel", "electric"] = "petrol"
    litres: Quantity(100_000, "fuel burnt, petrol or diesel") | None = None
    km: Quantity(MAX_KM, "vehicle-km (petrol or electric)") | None = None
    kwh: Quantity(1_000_000, "electricity charged (electric)") | None = None
    round_trip: bool = False


class TaxiLeg(Strict):
    mode: Literal["taxi"]
    km: Quantity(MAX_KM)
    round_trip: bool = False


class TransitLeg(Strict):
    """Per-passenger modes: the result is per passenger-km, times the passengers."""

    mode: Literal["bus", "metro", "hsr", "train"]
    km: Quantity(MAX_KM)
    passengers: int = Field(default=1, ge=1, le=100_000)
    round_trip: bool = False


class FlightLeg(Strict):
    """By airport pair (``from``/``to``, IATA codes) or by ``distance_km``."""

    mode: Literal["flight"]
    from_: str | None = Field(default=None, alias="from", pattern=r"^[A-Za-z]{3}$")
    to: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    distance_km: Quantity(25_000, "great-circle distance; uplift is added") | None = None
    cabin: Cabin = "economy"
    passengers: int = Field(default=1, ge=1, le=100_000)
    round_trip: bool = False


Leg = Annotated[Union[CarLeg, TaxiLeg, TransitLeg, FlightLeg], Field(discriminator="mode")]


class Meals(Strict):
    """Meals by type, from high-meat to vegan."""

    meat_heavy: Count = 0
    meat: Count = 0
    meat_light: Count = 0
    fish: Count = 0
    vegetarian: Count = 0
    vegan: Count = 0


def canonical_inputs(model: BaseModel) -> dict[str, Any]:
    """The inputs as stored and hashed: aliases as sent, defaults filled in, decimals as plain strings."""
    return _plain_decimals(model.model_dump(mode="python", by_alias=True, exclude={"factor_set"}, exclude_none=True))


def _plain_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, dict):
        return {key: _plain_decimals(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_decimals(item) for item in value]
    return value
