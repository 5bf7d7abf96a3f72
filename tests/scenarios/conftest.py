"""Fixtures every scenario's tests share: the portal's people (accounts with passwords, for signed-in pages), and
the platform's finance account that records organisations' bank transfers."""

import pytest

from tests.conftest import staff_member
from tests.scenarios.portal import people  # noqa: F401  (a fixture)
from tests.staff.conftest import password_hash  # noqa: F401  (a fixture)


@pytest.fixture
def finance(app, client):
    from tests.scenarios.judicial.conftest import StaffApi

    return StaffApi(client, staff_member(app, "finance-1", "finance"))
