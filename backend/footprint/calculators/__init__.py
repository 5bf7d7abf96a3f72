"""The calculators: pure functions from validated inputs and a factor set to a tally of exact lines.

Each module has an ``Input`` model (the request body) and ``calculate(inputs, factors) -> dict``. They read
nothing else: no clock, no database, no request, so identical inputs and set give identical results.

The yearly tree-planting duty is not a calculator here: it is priced by thresholds that a reviewer changes, so its
rules are versioned records of the scenario (scenarios/tree_duty/rules.py; GET /api/v1/tree-duty/rules).
"""

from __future__ import annotations

from backend.footprint.calculators import event, household, judicial, lifestyle, travel, trip

CALCULATORS = {module.NAME: module for module in (household, travel, lifestyle, trip, event, judicial)}
