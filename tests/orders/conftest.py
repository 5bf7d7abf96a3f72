"""Organisations' orders: the judicial scenario's court, clerk and listing, and the fake WeChat delivering into the
app (the fixtures live with the scenario's tests; they are made available here)."""

from tests.scenarios.judicial.conftest import county_listing, fake_wechat, nanjing_court  # noqa: F401
