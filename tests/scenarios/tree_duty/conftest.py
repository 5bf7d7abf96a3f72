"""Citizens with a complete profile, credits on sale, and the clock in the duty year."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import staff_member
from tests.miniprogram.conftest import Citizen, fake_wechat  # noqa: F401  (the fixture, for these tests too)

PRICE_FEN_PER_T = 6_000  # 60 yuan a tonne: Beijing's 60 yuan buys exactly 1 t
BEIJING, HUNAN, HAINAN, SICHUAN = "110000", "430000", "460000", "510000"
_keys = itertools.count(1)  # idempotency keys, unique within a run


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
                             key=key or f"duty-{self.person}-{next(_keys)}")
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

    def paid(self, fake_wechat, listing: int, **tree_duty) -> dict:
        """Order and pay through the fake WeChat: the order as it stands after payment."""
        order = self.duty_order(listing, **tree_duty)
        fake_wechat.pay(order["order_no"])
        return self.status_of(order["order_no"])

    def try_order(self, listing: int, **tree_duty):
        return self.post("/orders", {"listing_id": listing, "purpose": "tree_duty", "tree_duty": tree_duty},
                         key=f"duty-{self.person}-{next(_keys)}")


@pytest.fixture
def person(client, fake_wechat):
    """Make a citizen with a profile: person(real_name=…, birth_year=…, sex=…, region=…)."""
    def make(**profile) -> DutyCitizen:
        citizen = DutyCitizen(client)
        citizen.profile(**{"real_name": "王小林", "birth_year": 1990, "sex": "male", "region": BEIJING, **profile})
        return citizen
    return make


@pytest.fixture
def reviewer(app):
    """A platform reviewer: the role that changes the tree-duty rules."""
    return staff_member(app, "duty-reviewer", "reviewer")


def voucher_of(client, number: str) -> dict:
    """A voucher as anyone sees it: GET /api/v1/certificates/<no>."""
    response = client.get(f"/api/v1/certificates/{number}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()
