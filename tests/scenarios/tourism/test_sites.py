"""Who may register a site, and what a site must say: only a verified scenic area's people register its sites;
another organisation's site is not theirs to learn of; a site withdrawn, or of an organisation no longer verified,
takes no visitors' orders; a malformed site or order is a 400 naming the field."""

from __future__ import annotations

import pytest

from backend.db import atomic
from backend.registry.models import Organisation
from tests.conftest import staff_member
from tests.envelope import refused
from tests.miniprogram.conftest import Citizen
from tests.scenarios.tourism.conftest import GATE, organisation


def test_an_unverified_scenic_area_registers_no_site(app, client):
    waiting = organisation(app, "待审核景区", "scenic_area", 2, status="applied")
    refused(waiting.api(client).post("/api/org/v1/sites", GATE), 403, "organisation_not_active")


def test_an_organisation_that_is_not_a_scenic_area_registers_no_site(app, client):
    company = organisation(app, "某科技公司", "company", 3)
    admin = staff_member(app, "tourism-admin", "admin")
    refused(company.api(client).post("/api/org/v1/sites", GATE), 403)
    # Not even through the platform's admin acting for it: a site is a scenic area's.
    refused(client.post("/api/org/v1/sites", json={**GATE, "org_id": company.id}, headers=admin.headers), 404)


def test_another_scenic_areas_site_is_not_found(app, client, gate):
    other = organisation(app, "青城山景区管理处", "scenic_area", 4)
    path = f"/api/org/v1/sites/{gate['id']}"
    refused(other.api(client).get(path), 404)
    refused(client.patch(path, json={"name": "改名"}, headers=other.clerk.headers), 404)
    refused(other.api(client).get(f"{path}/gate-code"), 404)
    assert other.api(client).get("/api/org/v1/sites").get_json()["items"] == []


def test_a_viewer_reads_the_site_but_does_not_change_it(client, scenic_area, gate):
    path = f"/api/org/v1/sites/{gate['id']}"
    assert scenic_area.api(client, scenic_area.viewer).get(path).status_code == 200
    refused(client.patch(path, json={"name": "改名"}, headers=scenic_area.viewer.headers), 403)


@pytest.mark.parametrize(("change", "field"), [
    ({"adcode": "510100"}, "adcode"),  # a prefecture: a site lies in a county
    ({"adcode": "5101"}, "adcode"),
    ({"airport": "XYZ"}, "airport"),  # not in the airport table
    ({"airport": "CT1"}, "airport"),
    ({"latitude": "103.22", "longitude": "30.685"}, "latitude"),  # swapped
    ({"longitude": "200"}, "longitude"),
    ({"latitude": "30.1234567"}, "latitude"),  # finer than a map gives
    ({"name": ""}, "name"),
    ({"airport": None, "station": None}, "airport"),  # how visitors arrive
    ({"elevation_m": 2000}, "elevation_m"),
])
def test_a_malformed_site_is_a_400_naming_the_field(client, scenic_area, change, field):
    refused(scenic_area.api(client).post("/api/org/v1/sites", {**GATE, **change}), 400, field=field)


def test_a_change_names_what_is_wrong(client, scenic_area, gate):
    path, headers = f"/api/org/v1/sites/{gate['id']}", scenic_area.clerk.headers
    refused(client.patch(path, json={}, headers=headers), 400, field="body")
    refused(client.patch(path, json={"name": None}, headers=headers), 400, field="name")
    refused(client.patch(path, json={"station": None, "airport": None}, headers=headers), 400, field="airport")
    refused(client.patch(path, json={"active": "perhaps"}, headers=headers), 400, field="active")
    changed = client.patch(path, json={"station": None, "airport": "tfu"}, headers=headers)
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["station"], changed.get_json()["airport"]) == (None, "TFU")


def test_a_withdrawn_site_takes_no_orders_and_its_paid_orders_stand(client, scenic_area, gate, listings, fake_wechat):
    visitor = Citizen(client)
    order = visitor.order(listings["dayi"], 20_000, purpose="tourism", site_id=gate["id"])
    withdrawn = client.patch(f"/api/org/v1/sites/{gate['id']}", json={"active": False},
                             headers=scenic_area.clerk.headers)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["active"] is False
    assert client.get("/api/mp/v1/sites").get_json()["items"] == []
    refused(client.get(f"/api/mp/v1/sites/{gate['id']}"), 404)
    refused(visitor.post("/orders", {"listing_id": listings["dayi"], "quantity_g": 20_000, "purpose": "tourism",
                                     "site_id": gate["id"]}, key="after-withdrawal"), 404)
    fake_wechat.pay(order["order_no"])  # placed before: the trip was made, the offset stands
    assert visitor.get(f"/orders/{order['order_no']}").get_json()["status"] == "fulfilled"


def test_a_suspended_scenic_areas_site_is_hidden_from_visitors(app, client, scenic_area, gate, listings):
    def suspend(session):
        session.get(Organisation, scenic_area.id).status = "suspended"
    with app.app_context():
        atomic(suspend)
    refused(client.get(f"/api/mp/v1/sites/{gate['id']}"), 404)
    refused(Citizen(client).post("/orders", {"listing_id": listings["dayi"], "quantity_g": 20_000,
                                             "purpose": "tourism", "site_id": gate["id"]}, key="suspended"), 404)


@pytest.mark.parametrize(("body", "field"), [
    ({"purpose": "tourism"}, "site_id"),  # which site
    ({"purpose": "tourism", "site_id": "gate"}, "site_id"),
    ({"purpose": "tourism", "site_id": 0}, "site_id"),
    ({"purpose": "personal", "site_id": 1}, "site_id"),  # a site only with purpose tourism
    ({"purpose": "tourism", "site_id": 1, "event_id": 1}, "event_id"),
])
def test_a_malformed_tourism_order_is_a_400_naming_the_field(client, gate, listings, fake_wechat, body, field):
    response = Citizen(client).post("/orders", {"listing_id": listings["dayi"], "quantity_g": 20_000, **body},
                                    key="malformed")
    refused(response, 400, field=field)


def test_an_unknown_site_is_not_found(client, listings, fake_wechat):
    refused(client.get("/api/mp/v1/sites/999999"), 404)
    refused(Citizen(client).post("/orders", {"listing_id": listings["dayi"], "quantity_g": 20_000,
                                             "purpose": "tourism", "site_id": 999999}, key="unknown"), 404)
