"""Citizens with a complete profile, credits on sale, and the clock in the duty year."""

from __future__ import annotations

import io
import itertools

import pytest
from openpyxl import Workbook

from tests.conftest import staff_member
from tests.miniprogram.conftest import Citizen, fake_wechat  # noqa: F401  (the fixture, for these tests too)
from tests.scenarios.judicial.conftest import listed

PRICE_FEN_PER_T = 6_000  # 60 yuan a tonne: Beijing's 60 yuan buys exactly 1 t
BEIJING, HUNAN, HAINAN, SICHUAN = "110000", "430000", "460000", "510000"
_keys = itertools.count(1)  # idempotency keys, unique within a run


@pytest.fixture
def listing(operator):
    """500 t from a forest in 大邑县, on sale at 60 yuan a tonne."""
    return listed(operator, county="510129", tonnes=500, name="大邑县森林经营碳汇", price=PRICE_FEN_PER_T)


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


# --- organisations paying for their staff ---------------------------------------------------------------------

BEIJING_CHAOYANG = "110105"
DUTY_FEN = 6_000  # Beijing: 60 yuan is the year's duty, 3 trees
HEADER = ["姓名", "出生年份", "性别", "工号"]


@pytest.fixture
def agency(operator, app):
    """A Beijing government office (机关) with a clerk and a viewer."""
    from tests.orgs.conftest import credit_code

    made = operator.ok(operator.post("/organisations", {"name": "北京市朝阳区园林绿化局", "kind": "government",
                                                        "credit_code": credit_code(960), "adcode": BEIJING_CHAOYANG}),
                       201)
    return {"id": made["id"], "clerk": staff_member(app, "duty-clerk", "clerk", organisation_id=made["id"]),
            "viewer": staff_member(app, "duty-viewer", "viewer", organisation_id=made["id"])}


@pytest.fixture
def big_listing(operator):
    """6,000 t at 60 yuan a tonne: a person's 60 yuan buys exactly 1 t."""
    return listed(operator, county="510129", tonnes=6_000, name="大邑县森林经营碳汇", price=6_000)


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [HEADER, *rows]:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
