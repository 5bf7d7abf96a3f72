"""A court, its clerk, a finance operator, and credits on sale near and far from a damaged forest in 南靖县."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from tests.conftest import staff_member
from tests.miniprogram.conftest import Citizen, fake_wechat  # noqa: F401  (the fixture, for these tests too)

PRICE_FEN_PER_T = 6_000  # 60 yuan a tonne, within the 40–180 yuan/t judicial purchases paid (domain-facts)
NANJING_COUNTY = "350627"  # 南靖县, 漳州市, 福建省
_keys = itertools.count(1)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


@dataclass
class Court:
    id: int
    name: str
    clerk: object
    viewer: object

    def api(self, client, member=None):
        return StaffApi(client, member or self.clerk)


class StaffApi:
    """Someone with a personal token calling /api/org/v1 or /api/admin/v1."""

    def __init__(self, client, member) -> None:
        self.client, self.member = client, member

    def _headers(self, key_: str | None) -> dict:
        headers = dict(self.member.headers)
        if key_ is not None:
            headers["Idempotency-Key"] = key_
        return headers

    def get(self, path: str, **kw):
        return self.client.get(path, headers=self._headers(None), **kw)

    def post(self, path: str, json=None, *, key: str | None = None):
        return self.client.post(path, json=json if json is not None else {}, headers=self._headers(key))


def listed(operator, *, county: str, tonnes: int, name: str, price: int = PRICE_FEN_PER_T) -> int:
    made = operator.registered_project(quantity_g=tonnes * 1_000_000, county=county, name=name)
    listing = operator.ok(operator.post("/listings", {"batch_id": made["batch"]["id"], "price_fen_per_t": price,
                                                      "title": name}))
    return listing["id"]


def court(operator, app, name: str, number: int) -> Court:
    from tests.orgs.conftest import credit_code

    made = operator.ok(operator.post("/organisations", {"name": name, "kind": "court",
                                                        "credit_code": credit_code(700 + number),
                                                        "adcode": NANJING_COUNTY}), 201)
    return Court(made["id"], name, staff_member(app, f"clerk-{number}", "clerk", organisation_id=made["id"]),
                 staff_member(app, f"viewer-{number}", "viewer", organisation_id=made["id"]))


@pytest.fixture
def nanjing_court(operator, app):
    return court(operator, app, "南靖县人民法院", 1)


@pytest.fixture
def county_listing(operator):
    """100 t from a forest in the damaged county itself."""
    return listed(operator, county=NANJING_COUNTY, tonnes=100, name="南靖县国有林场森林经营碳汇")


def case_body(**overrides) -> dict:
    body = {"case_no": "(2024)闽0627刑初123号", "cause": "illegal_felling", "damage_region": NANJING_COUNTY,
            "loss": {"method": "appraisal", "tonnes": "47.07", "appraisal_body": "南靖县林业局",
                     "report_no": "南林鉴〔2024〕7号"},
            "multiplier": "2", "deadline": "2027-06-30", "payers": [{"name": "张三"}]}
    body.update(overrides)
    return body


def open_case(client, court_: Court, **overrides) -> dict:
    response = court_.api(client).post("/api/org/v1/cases", case_body(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def defendant(client, person: str) -> Citizen:
    return Citizen(client, person)
