"""Great-circle distances, rounded once to 0.1 km so that every platform gets the same digits."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius R1


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> Decimal:
    """Haversine distance between two (lat, lon) points in degrees, to 0.1 km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
    return Decimal(repr(km)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
