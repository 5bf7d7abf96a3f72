"""Fixtures every scenario's tests share: the portal's people (accounts with passwords, for signed-in pages)."""

from tests.scenarios.portal import people  # noqa: F401  (a fixture)
from tests.staff.conftest import password_hash  # noqa: F401  (a fixture)
