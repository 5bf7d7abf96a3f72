"""An event organiser with a clerk, finance, credits on sale, and the body of an 800-person forum's calculation."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest

from tests.conftest import staff_member
from tests.miniprogram.conftest import fake_wechat  # noqa: F401  (the fixture, for these tests too)
from tests.scenarios.judicial.conftest import StaffApi, key  # noqa: F401  (one way of calling, for both scenarios)

PRICE_FEN_PER_T = 8_000  # 80 yuan a tonne
CHENGDU_JINJIANG = "510104"

FORUM = {"name": "2026 成都林草碳汇论坛", "kind": "forum", "starts_on": "2026-04-20", "ends_on": "2026-04-21",
         "venue_region": CHENGDU_JINJIANG, "venue_name": "成都世纪城国际会议中心", "expected_participants": 800}
PLAN_CALCULATION = {
    "venue_energy": {"electricity_kwh": "12000"},
    "participant_travel": [{"origin": "110105", "mode": "flight", "count": 300},
                           {"origin": "500103", "mode": "hsr", "count": 200},
                           {"distance_km": "15", "mode": "metro", "count": 300}],
    "accommodation_room_nights": "500", "materials": [{"kind": "paper", "kg": "200"}], "waste_kg": "800"}
FINAL_CALCULATION = {
    "participants": 812,
    "venue_energy": {"electricity_kwh": "13500"},
    "participant_travel": [{"origin": "110105", "mode": "flight", "count": 260},
                           {"origin": "500103", "mode": "hsr", "count": 240},
                           {"distance_km": "15", "mode": "metro", "count": 312}],
    "accommodation_room_nights": "470", "materials": [{"kind": "paper", "kg": "120"}], "waste_kg": "650"}


@dataclass
class Organiser:
    id: int
    clerk: object
    viewer: object

    def api(self, client, member=None) -> StaffApi:
        return StaffApi(client, member or self.clerk)


def organiser(operator, app, name: str, number: int) -> Organiser:
    from tests.orgs.conftest import credit_code

    made = operator.ok(operator.post("/organisations", {"name": name, "kind": "event_organiser",
                                                        "credit_code": credit_code(800 + number),
                                                        "adcode": CHENGDU_JINJIANG}), 201)
    return Organiser(made["id"], staff_member(app, f"events-clerk-{number}", "clerk", organisation_id=made["id"]),
                     staff_member(app, f"events-viewer-{number}", "viewer", organisation_id=made["id"]))


@pytest.fixture
def forum_organiser(operator, app):
    return organiser(operator, app, "成都林草碳汇论坛组委会", 1)


@pytest.fixture
def listing(operator):
    """500 t from a forest in 大邑县, on sale at 80 yuan a tonne."""
    made = operator.registered_project(quantity_g=500_000_000, county="510129", name="大邑县森林经营碳汇")
    return operator.ok(operator.post("/listings", {"batch_id": made["batch"]["id"], "price_fen_per_t": PRICE_FEN_PER_T,
                                                   "title": "龙门山森林碳汇"}))["id"]


def record(client, organiser_: Organiser, **overrides) -> dict:
    response = organiser_.api(client).post("/api/org/v1/events", {**FORUM, **overrides})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def put(client, organiser_: Organiser, path: str, body: dict):
    return client.put(path, json=body, headers=organiser_.clerk.headers)


def planned(client, organiser_: Organiser, **overrides) -> dict:
    event = record(client, organiser_, **overrides)
    response = put(client, organiser_, f"/api/org/v1/events/{event['id']}/plan", {
        "calculation": copy.deepcopy(PLAN_CALCULATION), "offset_method": "购买林草碳汇注销抵销",
        "measures": [{"title": "会场使用绿电", "category": "venue_energy"}]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()
