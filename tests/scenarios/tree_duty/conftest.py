"""Citizens with a complete profile, credits on sale, and the clock in the duty year."""

from __future__ import annotations

import pytest

from tests.miniprogram.conftest import Citizen, fake_wechat  # noqa: F401  (the fixture, for these tests too)

PRICE_FEN_PER_T = 6_000  # 60 yuan a tonne: Beijing's 60 yuan buys exactly 1 t
BEIJING, HUNAN, HAINAN, SICHUAN = "110000", "430000", "460000", "510000"


@pytest.fixture
def listing(operator):
    """500 t from a forest in 大邑县, on sale at 60 yuan a tonne."""
    made = operator.registered_project(quantity_g=500_000_000, county="510129", name="大邑县森林经营碳汇")
    return operator.ok(operator.post("/listings", {"batch_id": made["batch"]["id"], "price_fen_per_t": PRICE_FEN_PER_T,
                                                   "title": "龙门山森林碳汇"}))["id"]


class DutyCitizen(Citizen):
    """A citizen who filled in what the voucher needs, and pays for tree-duty orders through the fake WeChat."""

    def profile(self, **fields) -> dict:
        response = self.client.patch("/api/mp/v1/me", json=fields, headers=self.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def duty_order(self, listing: int, *, key: str | None = None, **tree_duty) -> dict:
        response = self.post("/orders", {"listing_id": listing, "purpose": "tree_duty", "tree_duty": tree_duty},
                             key=key or f"duty-{self.person}-{id(tree_duty)}-{len(str(tree_duty))}")
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def year(self, year: int = 2026, **query) -> dict:
        response = self.get("/tree-duty", query_string={"year": year, **query})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def status_of(self, order_no: str) -> dict:
        response = self.get(f"/orders/{order_no}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def person(client, fake_wechat):
    """Make a citizen with a profile: person(real_name=…, birth_year=…, sex=…, region=…)."""
    def make(**profile) -> DutyCitizen:
        citizen = DutyCitizen(client)
        citizen.profile(**{"real_name": "王小林", "birth_year": 1990, "sex": "male", "region": BEIJING, **profile})
        return citizen
    return make
