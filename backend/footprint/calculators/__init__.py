"""The calculators: pure functions from validated inputs and a factor set to a tally of exact lines.

Each module has an ``Input`` model (the request body) and ``calculate(inputs, factors) -> dict``. They read
nothing else: no clock, no database, no request, so identical inputs and set give identical results.
"""

from __future__ import annotations

from backend.footprint.calculators import event, household, judicial, lifestyle, travel, tree_duty, trip

CALCULATORS = {module.NAME: module for module in (household, travel, lifestyle, trip, event, judicial, tree_duty)}
