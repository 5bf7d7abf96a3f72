"""The operator's registry story, told through HTTP: a methodology and an owner are registered, a draft project goes
through review, a registered project gets an issuance batch, and the public sees what it may buy.

Every request goes through /api/admin/v1 with the operator's bearer token (the ``operator`` fixture) or through
the public /api/v1. The ledger invariants and the audit chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

import pytest

from tests.conftest import staff_member
from tests.envelope import refused

TONNE = 1_000_000


class Registry:
    """Shortcuts for the operator's registry steps, each asserting success."""

    def __init__(self, operator) -> None:
        self.op = operator
        self._keys = 0

    def key(self) -> str:
        self._keys += 1
        return f"batch-key-{self._keys}"

    def methodology(self, ecosystem: str = "forest", code: str | None = None) -> dict:
        return self.op.ok(self.op.post("/methodologies", {
            "code": code or f"AR-CM-{ecosystem}-V01", "name": "森林经营碳汇项目方法学", "ecosystem": ecosystem,
            "version": "V01", "source_document": "国家林业局编制，国家发展和改革委员会备案"}), 201)

    def organisation(self, name: str = "四川省大邑县国有林场", **extra) -> dict:
        return self.op.ok(self.op.post("/organisations", {"name": name, "kind": "forest_farm", **extra}), 201)

    def project_body(self, owner: dict, methodology: dict, **overrides) -> dict:
        body = {"owner_id": owner["id"], "name": "大邑县国有林场森林经营碳汇项目", "county_adcode": "510129",
                "ecosystem": methodology["ecosystem"], "methodology_id": methodology["id"], "area_mu": "35200.00",
                "crediting_start": "2019-01-01", "crediting_end": "2038-12-31",
                "description": "抚育间伐、补植补造，提升柳杉、香樟、桢楠混交林蓄积。"}
        body.update(overrides)
        return body

    def draft(self, **overrides) -> dict:
        methodology = self.methodology(code=f"M-{self.key()}")
        owner = self.organisation()
        return self.op.ok(self.op.post("/projects", self.project_body(owner, methodology, **overrides)), 201)

    def decide(self, project: dict, action: str, reason: str | None = None):
        return self.op.post(f"/projects/{project['id']}/{action}", {} if reason is None else {"reason": reason})

    def registered(self, **overrides) -> dict:
        project = self.draft(**overrides)
        self.op.ok(self.decide(project, "submit"))
        return self.op.ok(self.decide(project, "register"))

    def batch_body(self, start="2019-01-01", end="2023-12-31", vintage=2023, quantity_g=12_500 * TONNE) -> dict:
        return {"monitoring_start": start, "monitoring_end": end, "vintage": vintage, "quantity_g": quantity_g}

    def issue(self, project: dict, key: str | None = None, **body):
        return self.op.post(f"/projects/{project['id']}/batches", self.batch_body(**body), key=key or self.key())


@pytest.fixture
def registry(operator):
    return Registry(operator)


def public_projects(client, **query) -> list[dict]:
    response = client.get("/api/v1/projects", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


# --- the whole story -------------------------------------------------------------------------------------------

def test_an_operator_registers_a_forest_project_and_issues_its_first_batch(operator, registry, client):
    """Methodology → owner → draft → submit → register → batch of 12,500 t: the public sees it, available."""
    methodology = registry.methodology()
    assert methodology["code"] == "AR-CM-forest-V01" and methodology["ecosystem"] == "forest"
    owner = registry.organisation(adcode="510129")
    assert owner["holder"] == f"org:{owner['id']}" and owner["adcode"] == "510129"

    project = operator.ok(operator.post("/projects", registry.project_body(owner, methodology)), 201)
    assert project["state"] == "draft" and project["batches"] == []
    assert project["county_name"] == "四川省成都市大邑县"
    # A draft is the operator's business only.
    assert public_projects(client) == []
    refused(client.get(f"/api/v1/projects/{project['id']}"), 404, "not_found")

    submitted = operator.ok(registry.decide(project, "submit"))
    assert submitted["state"] == "submitted"
    assert public_projects(client) == []
    registered = operator.ok(registry.decide(project, "register"))
    assert registered["state"] == "registered" and registered["decided_by"] == operator.actor
    assert [(d["from"], d["to"]) for d in registered["decisions"]] == [("draft", "submitted"),
                                                                     ("submitted", "registered")]

    batch = operator.ok(registry.issue(project), 201)
    assert batch["code"] == f"SC-FOR-510129-{project['id']:04d}-2023-01"
    assert batch["code"] == "SC-FOR-510129-0001-2023-01"  # the first project of a fresh registry
    assert batch["quantity_g"] == 12_500 * TONNE
    assert batch["available_g"] == 12_500 * TONNE
    assert batch["reserved_g"] == batch["retired_g"] == batch["cancelled_g"] == batch["held_g"] == 0

    listed = public_projects(client)
    assert [p["id"] for p in listed] == [project["id"]]
    shown = listed[0]
    assert shown["state"] == "registered"
    assert shown["owner"] == {"id": owner["id"], "name": owner["name"]}
    assert shown["methodology"]["code"] == "AR-CM-forest-V01"
    assert [(b["code"], b["available_g"]) for b in shown["batches"]] == [(batch["code"], 12_500 * TONNE)]
    assert "decisions" not in shown and "decided_by" not in shown  # review history stays with the operator
    assert client.get(f"/api/v1/projects/{project['id']}").get_json() == shown

    # What the operator's batch page says, and what the public page says, agree.
    assert operator.ok(operator.get(f"/batches/{batch['id']}")) == batch


def test_a_second_batch_of_the_same_vintage_gets_the_next_sequence(operator, registry):
    project = registry.registered()
    first = operator.ok(registry.issue(project, start="2019-01-01", end="2023-06-30", vintage=2023), 201)
    second = operator.ok(registry.issue(project, start="2023-07-01", end="2023-12-31", vintage=2023), 201)
    third = operator.ok(registry.issue(project, start="2024-01-01", end="2024-12-31", vintage=2024), 201)
    assert [first["code"][-7:], second["code"][-7:], third["code"][-7:]] == ["2023-01", "2023-02", "2024-01"]
    assert [b["code"] for b in operator.ok(operator.get(f"/projects/{project['id']}"))["batches"]] == [
        first["code"], second["code"], third["code"]]


def test_the_public_sees_available_fall_as_credits_leave_the_inventory(operator, registry, client):
    project = registry.registered()
    batch = operator.ok(registry.issue(project, quantity_g=10 * TONNE), 201)
    operator.ok(operator.post("/ledger/transfers", {"batch_id": batch["id"], "from_holder": "platform",
                                                    "to_holder": "org:1", "amount_g": 3 * TONNE}, key="to-coop"), 201)
    operator.ok(operator.post("/ledger/reservations", {"batch_id": batch["id"], "from_holder": "platform",
                                                       "to_holder": "user:1", "amount_g": TONNE}, key="cart"), 201)
    shown = client.get(f"/api/v1/projects/{project['id']}").get_json()["batches"][0]
    assert shown["available_g"] == 6 * TONNE
    assert shown["held_g"] == 3 * TONNE and shown["reserved_g"] == TONNE


def test_the_public_listing_filters_by_ecosystem_and_province(operator, registry, client):
    forest = registry.registered(name="大邑森林经营项目")
    grass = registry.draft(name="红原草地修复项目", county_adcode="513233", ecosystem="grassland",
                           methodology_id=registry.methodology("grassland")["id"])
    operator.ok(registry.decide(grass, "submit"))
    operator.ok(registry.decide(grass, "register"))
    dongguan = registry.registered(name="东莞森林公园项目", county_adcode="441900")

    assert [p["id"] for p in public_projects(client)] == [forest["id"], grass["id"], dongguan["id"]]
    assert [p["id"] for p in public_projects(client, ecosystem="grassland")] == [grass["id"]]
    assert [p["id"] for p in public_projects(client, province="510000")] == [forest["id"], grass["id"]]
    assert [p["id"] for p in public_projects(client, province="440000")] == [dongguan["id"]]
    refused(client.get("/api/v1/projects?ecosystem=desert"), 400, field="ecosystem")
    refused(client.get("/api/v1/projects?province=51"), 400, field="province")
    refused(client.get("/api/v1/projects?page=2"), 400, field="page")


# --- review rules ----------------------------------------------------------------------------------------------

def test_a_rejection_needs_a_reason_and_hides_the_project(operator, registry, client):
    project = registry.draft()
    operator.ok(registry.decide(project, "submit"))
    refused(registry.decide(project, "reject"), 400, "invalid_request", "reason")
    refused(registry.decide(project, "reject", reason="   "), 400, field="reason")
    assert operator.ok(operator.get(f"/projects/{project['id']}"))["state"] == "submitted"  # nothing happened

    rejected = operator.ok(registry.decide(project, "reject", reason="计入期与另一项目重叠"))
    assert rejected["state"] == "rejected" and rejected["state_reason"] == "计入期与另一项目重叠"
    assert rejected["decisions"][-1]["reason"] == "计入期与另一项目重叠"
    refused(client.get(f"/api/v1/projects/{project['id']}"), 404)
    assert public_projects(client) == []
    refused(registry.decide(project, "register"), 409, "invalid_state")


def test_a_registered_project_is_suspended_and_reinstated(operator, registry, client):
    """Suspension (with a reason) stops issuance but keeps the project public; reinstatement lets it issue again."""
    project = registry.registered()
    operator.ok(registry.issue(project, start="2019-01-01", end="2020-12-31", vintage=2020), 201)
    refused(registry.decide(project, "suspend"), 400, field="reason")
    suspended = operator.ok(registry.decide(project, "suspend", reason="监测报告存疑，待核查"))
    assert suspended["state"] == "suspended"
    assert client.get(f"/api/v1/projects/{project['id']}").get_json()["state"] == "suspended"
    error = refused(registry.issue(project, start="2021-01-01", end="2021-12-31", vintage=2021), 409, "invalid_state")
    assert error["details"]["state"] == "suspended"

    refused(registry.decide(project, "reinstate"), 400, field="reason")
    reinstated = operator.ok(registry.decide(project, "reinstate", reason="核查通过"))
    assert reinstated["state"] == "registered"
    assert [d["to"] for d in reinstated["decisions"]] == ["submitted", "registered", "suspended", "registered"]
    operator.ok(registry.issue(project, start="2021-01-01", end="2021-12-31", vintage=2021), 201)


@pytest.mark.parametrize("path, action", [
    ([], "register"), ([], "reject"), ([], "suspend"), ([], "reinstate"),
    (["submit"], "submit"), (["submit"], "suspend"), (["submit"], "reinstate"),
    (["submit", "register"], "submit"), (["submit", "register"], "register"), (["submit", "register"], "reject"),
    (["submit", "register"], "reinstate"),
])
def test_an_illegal_review_step_is_refused_with_409_invalid_state(operator, registry, path, action):
    project = registry.draft()
    for step in path:
        operator.ok(registry.decide(project, step))
    before = operator.ok(operator.get(f"/projects/{project['id']}"))
    error = refused(registry.decide(project, action, reason="理由"), 409, "invalid_state")
    assert error["details"] == {"state": before["state"], "action": action}
    assert operator.ok(operator.get(f"/projects/{project['id']}")) == before


def test_unknown_review_actions_and_projects_are_404(operator, registry):
    project = registry.draft()
    refused(registry.decide(project, "approve"), 404, "not_found")
    refused(operator.post("/projects/999/submit"), 404, "not_found")
    refused(operator.get("/projects/999"), 404, "not_found")


# --- issuance rules --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("steps", [[], ["submit"]])
def test_only_registered_projects_get_batches(operator, registry, steps):
    project = registry.draft()
    for step in steps:
        operator.ok(registry.decide(project, step))
    refused(registry.issue(project), 409, "invalid_state")
    assert operator.ok(operator.get(f"/projects/{project['id']}"))["batches"] == []


def test_overlapping_monitoring_periods_are_refused(operator, registry):
    project = registry.registered()
    first = operator.ok(registry.issue(project, start="2019-01-01", end="2021-12-31", vintage=2021), 201)
    for start, end in [("2021-12-31", "2022-12-31"),   # shares its last day
                       ("2019-06-01", "2019-06-30"),   # inside it
                       ("2019-01-01", "2021-12-31")]:  # the very same period again, under a new key
        error = refused(registry.issue(project, start=start, end=end, vintage=int(end[:4])), 409,
                        "overlapping_period", field="monitoring_start")
        assert error["details"]["batch"] == first["code"]
    # From the next day on is fine.
    operator.ok(registry.issue(project, start="2022-01-01", end="2022-12-31", vintage=2022), 201)
    assert len(operator.ok(operator.get(f"/projects/{project['id']}"))["batches"]) == 2


@pytest.mark.parametrize("body, status, field", [
    ({"vintage": 2018}, 400, "vintage"),                                                   # before the period
    ({"vintage": 2024}, 400, "vintage"),                                                   # after it
    ({"start": "2023-12-31", "end": "2023-01-01"}, 400, "monitoring_end"),                 # backwards
    ({"start": "2018-01-01", "end": "2023-12-31"}, 400, "monitoring_start"),               # before crediting
    ({"start": "2036-01-01", "end": "2039-12-31", "vintage": 2039}, 400, "monitoring_start"),  # after crediting
    ({"quantity_g": 0}, 400, "quantity_g"),
    ({"quantity_g": -1}, 400, "quantity_g"),
    ({"quantity_g": 10**16}, 400, "quantity_g"),
    ({"quantity_g": "1000"}, 400, "quantity_g"),
    ({"vintage": 1800}, 400, "vintage"),
    ({"start": "2023-02-30"}, 400, "monitoring_start"),
])
def test_a_bad_batch_is_refused_naming_the_field(operator, registry, body, status, field):
    project = registry.registered()
    refused(registry.issue(project, **body), status, field=field)
    assert operator.ok(operator.get(f"/projects/{project['id']}"))["batches"] == []


def test_a_batch_body_with_an_unknown_field_or_bad_holder_is_refused(operator, registry):
    project = registry.registered()
    body = registry.batch_body()
    refused(operator.post(f"/projects/{project['id']}/batches", {**body, "price_fen": 100}, key="k1"), 400,
            field="price_fen")
    refused(operator.post(f"/projects/{project['id']}/batches", {**body, "to_holder": "bob"}, key="k2"), 400,
            field="to_holder")


def test_a_batch_can_be_issued_straight_to_the_owner(operator, registry):
    project = registry.registered()
    owner = f"org:{project['owner']['id']}"
    body = {**registry.batch_body(quantity_g=5 * TONNE), "to_holder": owner}
    batch = operator.ok(operator.post(f"/projects/{project['id']}/batches", body, key="own"), 201)
    assert batch["available_g"] == 0 and batch["held_g"] == 5 * TONNE
    accounts = operator.ok(operator.get("/accounts", query_string={"holder": owner}))["items"]
    assert [(a["kind"], a["balance_g"]) for a in accounts] == [("available", 5 * TONNE)]


# --- county codes ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("county, prefix", [
    ("510129", "SC-FOR-510129"),   # 大邑县
    ("441900", "GD-FOR-441900"),   # 东莞市: a prefecture-level city with no counties, so county-level itself
    ("110105", "BJ-FOR-110105"),   # 北京市朝阳区: a municipality's district
])
def test_a_real_county_level_code_is_accepted(operator, registry, county, prefix):
    project = registry.registered(county_adcode=county)
    assert project["county_adcode"] == county
    batch = operator.ok(registry.issue(project), 201)
    assert batch["code"].startswith(prefix + "-")


@pytest.mark.parametrize("county", [
    "510100",   # 成都市: a prefecture with counties under it
    "510000",   # 四川省
    "999999",   # no such division
    "510199",   # right shape, not in GB/T 2260
    "51012",    # too short
    "5101290",  # too long
    "51012a",
])
def test_a_code_that_is_no_county_is_refused_naming_county_adcode(operator, registry, county):
    methodology, owner = registry.methodology(), registry.organisation()
    refused(operator.post("/projects", registry.project_body(owner, methodology, county_adcode=county)), 400,
            "invalid_request", "county_adcode")
    assert operator.ok(operator.get("/projects"))["items"] == []


# --- other project, methodology and organisation input ---------------------------------------------------------

def test_bad_project_input_is_refused_naming_the_field(operator, registry):
    forest, owner = registry.methodology(), registry.organisation()
    grass = registry.methodology("grassland")
    cases = [
        ({"crediting_end": "2018-12-31"}, "crediting_end"),
        ({"crediting_start": "2020-02-30"}, "crediting_start"),
        ({"methodology_id": grass["id"]}, "methodology_id"),   # a grassland method for a forest project
        ({"methodology_id": 999}, "methodology_id"),
        ({"owner_id": 999}, "owner_id"),
        ({"owner_id": "1"}, "owner_id"),
        ({"area_mu": "0"}, "area_mu"),
        ({"area_mu": "-5"}, "area_mu"),
        ({"area_mu": "12.345"}, "area_mu"),
        ({"ecosystem": "desert"}, "ecosystem"),
        ({"name": ""}, "name"),
        ({"hectares": 5}, "hectares"),
    ]
    for overrides, field in cases:
        refused(operator.post("/projects", registry.project_body(owner, forest, **overrides)), 400, field=field)
    assert operator.ok(operator.get("/projects"))["items"] == []


def test_methodology_codes_are_unique_and_organisation_codes_are_checked(operator, registry):
    registry.methodology(code="AR-CM-003-V01")
    refused(operator.post("/methodologies", {"code": "AR-CM-003-V01", "name": "重复", "ecosystem": "forest",
                                             "version": "V01", "source_document": "x"}), 409, "duplicate")
    refused(operator.post("/methodologies", {"code": "AR CM", "name": "空格", "ecosystem": "forest",
                                             "version": "V01", "source_document": "x"}), 400, field="code")
    refused(operator.post("/organisations", {"name": "某合作社", "kind": "cooperative", "adcode": "999999"}), 400,
            field="adcode")
    refused(operator.post("/organisations", {"name": "某公司", "kind": "company", "credit_code": "123"}), 400,
            field="credit_code")
    refused(operator.post("/organisations", {"name": "某公司", "kind": "pirate"}), 400, field="kind")
    made = registry.organisation("四川某林业有限公司", credit_code="91510129MA6C7Y3K0A")
    assert made["credit_code"] == "91510129MA6C7Y3K0A"
    refused(operator.post("/organisations", {"name": "另一公司", "kind": "company",
                                             "credit_code": "91510129MA6C7Y3K0A"}), 409, "duplicate")


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**20])
def test_ids_beyond_any_row_are_not_found_never_a_500(operator, registry, client, huge):
    """An id too large for the column is simply an id no row has: 404 on paths, 400 naming the field in bodies."""
    refused(operator.get(f"/projects/{huge}"), 404)
    refused(client.get(f"/api/v1/projects/{huge}"), 404)
    refused(operator.post(f"/projects/{huge}/submit"), 404)
    refused(operator.get(f"/batches/{huge}"), 404)
    methodology = registry.methodology()
    refused(operator.post("/projects", registry.project_body({"id": huge}, methodology)), 400, field="owner_id")


# --- idempotent issuance ---------------------------------------------------------------------------------------

def test_issuing_twice_with_the_same_key_and_body_gives_the_same_batch(operator, registry):
    project = registry.registered()
    first = operator.ok(registry.issue(project, key="issue-2023-q4"), 201)
    again = operator.ok(registry.issue(project, key="issue-2023-q4"), 201)
    assert again == first
    assert len(operator.ok(operator.get(f"/projects/{project['id']}"))["batches"]) == 1
    issues = [t for t in operator.ok(operator.get("/ledger/transfers"))["items"] if t["code"] == "ISSUE"]
    assert len(issues) == 1 and issues[0]["client_id"] == "issue-2023-q4"


def test_the_same_key_with_a_different_body_is_an_idempotency_conflict(operator, registry):
    project = registry.registered()
    operator.ok(registry.issue(project, key="issue-2023", quantity_g=100 * TONNE), 201)
    error = refused(registry.issue(project, key="issue-2023", quantity_g=200 * TONNE), 409, "idempotency_conflict")
    assert error["details"]["client_id"] == "issue-2023"
    other = registry.registered(name="另一个项目")
    refused(registry.issue(other, key="issue-2023", quantity_g=100 * TONNE), 409, "idempotency_conflict")
    assert operator.ok(operator.get(f"/projects/{other['id']}"))["batches"] == []


def test_issuing_needs_a_well_formed_idempotency_key(operator, registry):
    project = registry.registered()
    body = registry.batch_body()
    refused(operator.post(f"/projects/{project['id']}/batches", body), 400, "invalid_request", "Idempotency-Key")
    for bad in ["", "has space", "x" * 65, "中文键", "#remainder"]:
        refused(operator.post(f"/projects/{project['id']}/batches", body, key=bad), 400, field="Idempotency-Key")
    assert operator.ok(operator.get(f"/projects/{project['id']}"))["batches"] == []


# --- authentication --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer dev-operator-token"},  # the shared token of old: gone
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer thp_" + "x" * 43},  # shaped like a personal token, but nobody's
    {"Authorization": "Basic dGVzdDp0ZXN0"},
])
def test_the_operator_api_needs_a_personal_token(client, operator, headers):
    for method, path, body in [("get", "/api/admin/v1/projects", None), ("get", "/api/admin/v1/accounts", None),
                               ("post", "/api/admin/v1/methodologies", {"code": "X", "name": "x", "ecosystem": "forest",
                                                                        "version": "1", "source_document": "x"}),
                               ("post", "/api/admin/v1/organisations", {"name": "x", "kind": "ngo"}),
                               ("post", "/api/admin/v1/projects/1/submit", {})]:
        response = getattr(client, method)(path, json=body, headers={**headers, "Idempotency-Key": "k"})
        refused(response, 401, "unauthorized")
    # Nothing was created on the way.
    assert operator.ok(operator.get("/methodologies"))["items"] == []
    assert operator.ok(operator.get("/organisations"))["items"] == []


def test_the_operators_token_stops_working_when_revoked_or_the_account_is_disabled(app, client, operator, runner):
    assert operator.get("/projects").status_code == 200
    staff_member(app, "second-admin", "admin")  # the platform keeps an enabled admin while this one is disabled
    with app.app_context():
        assert runner.invoke(args=["users", "disable", "operator"]).exit_code == 0
    refused(operator.get("/projects"), 401, "unauthorized")
    with app.app_context():
        assert runner.invoke(args=["users", "enable", "operator"]).exit_code == 0
    assert operator.get("/projects").status_code == 200
    mine = client.get("/api/staff/v1/tokens", headers=operator.headers).get_json()["items"]
    assert client.delete(f"/api/staff/v1/tokens/{mine[0]['id']}", headers=operator.headers).status_code == 200
    refused(operator.get("/projects"), 401, "unauthorized")


def test_the_token_is_checked_before_the_body(client):
    """An unauthenticated caller learns nothing about the schema: 401, not a 400 listing the fields."""
    response = client.post("/api/admin/v1/projects", data=b"{not json", headers={"Idempotency-Key": "k"})
    refused(response, 401, "unauthorized")


def test_the_public_api_needs_no_token(client):
    assert client.get("/api/v1/projects").status_code == 200
