"""A verified scenic area near 成都 with its clerk and viewer, its gate in 大邑县, and credits on sale from a forest
in 大邑县 and from one far away in 海南."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backend.db import atomic
from tests.conftest import staff_member
from tests.miniprogram.conftest import fake_wechat  # noqa: F401  (the fixture, for these tests too)
from tests.scenarios.judicial.conftest import StaffApi, listed  # noqa: F401  (one way of calling, for every scenario)

DAYI = "510129"  # 大邑县, 成都
GATE = {"name": "西岭雪山景区南门", "adcode": DAYI, "latitude": "30.685", "longitude": "103.22", "airport": "ctu",
        "station": "成都西站"}


@dataclass
class ScenicArea:
    id: int
    clerk: object
    viewer: object

    def api(self, client, member=None) -> StaffApi:
        return StaffApi(client, member or self.clerk)


def organisation(app, name: str, kind: str, number: int, *, status: str = "verified") -> ScenicArea:
    """An organisation of ``kind`` in ``status`` (its lifecycle is tested in tests/orgs), with a clerk and a viewer."""
    from backend.registry import service

    def make(session):
        made = service.create_organisation(session, app.config["CLOCK"](), actor="test", name=name, kind=kind,
                                           adcode_=DAYI)
        made.status = status
        session.add(made)
        return made.id
    with app.app_context():
        org_id = atomic(make)
    return ScenicArea(org_id, staff_member(app, f"tourism-clerk-{number}", "clerk", organisation_id=org_id),
                      staff_member(app, f"tourism-viewer-{number}", "viewer", organisation_id=org_id))


@pytest.fixture
def scenic_area(app):
    return organisation(app, "西岭雪山景区管理处", "scenic_area", 1)


@pytest.fixture
def gate(client, scenic_area):
    response = scenic_area.api(client).post("/api/org/v1/sites", GATE)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def listings(operator):
    """A rainforest in 海南 listed first, then a forest in 大邑县: the site should offer 大邑 first all the same."""
    return {"hainan": listed(operator, county="469030", tonnes=100, name="海南热带雨林碳汇"),
            "dayi": listed(operator, county=DAYI, tonnes=100, name="大邑县森林经营碳汇")}
