"""Ledger fixtures: ``ledger`` (operations at the test clock's time) and ``batch`` (1,000 t in the platform's
inventory)."""

import pytest

from tests.ledger.story import Ledger, issue_batch


@pytest.fixture
def ledger(app, clock):
    return Ledger(app, clock)


@pytest.fixture
def batch(ledger):
    return issue_batch(ledger)
