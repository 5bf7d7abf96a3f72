"""/openapi.json is a valid OpenAPI 3.1 document that describes every JSON route of the app — its path parameters,
the Idempotency-Key header, success and error bodies — and /docs shows it with nothing fetched from elsewhere.
(tests/openapi_check.py checks every answer of every test against it; tests/test_api_fuzz.py fuzzes it.)"""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from backend import create_app
from backend.canonical import canonical_json
from backend.certificates import keys
from backend.certificates.api import MAX_JWS_CHARS
from backend.http import routes_of
from backend.ledger.models import RETIREMENT_PURPOSES
from tests.conftest import LIVE_WECHAT, staff_member
from tests.miniprogram.conftest import wx_login

GUNICORN_LIMIT_REQUEST_LINE = 4094  # gunicorn's default --limit-request-line
PAGES = ("/admin", "/org", "/<any(admin,org):area>", "/assets/", "/static/", "/docs")


@pytest.fixture
def document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)  # openapi-spec-validator: the 3.1 meta-schema, and every path parameter declared


def test_every_json_route_of_the_app_is_in_the_document_and_only_pages_are_not(app, document):
    operations = {operation["operationId"] for methods in document["paths"].values() for operation in methods.values()}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PAGES):
            continue
        assert rule.endpoint in operations, f"{rule.rule} ({rule.endpoint}) is missing from /openapi.json"
    for path in ("/healthz", "/.well-known/jwks.json", "/v/{number}", "/api/pay/wechat/notify",
                 "/api/dev/pay/{order_no}", "/openapi.json"):
        assert path in document["paths"], path


def test_the_development_pay_route_is_documented_only_where_it_exists(tmp_path):
    production_like = create_app({"TESTING": True, "APP_ENV": "test", "WECHAT_MODE": "live", **LIVE_WECHAT,
                                  "DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "REDIS_URL": None,
                                  "SECRET_KEY": "x" * 40, "CERT_SIGNING_KEY_FILE": str(tmp_path / "k.pem")})
    try:
        paths = production_like.test_client().get("/openapi.json").get_json()["paths"]
        assert "/api/dev/pay/{order_no}" not in paths and "/healthz" in paths
    finally:
        production_like.extensions["db_engine"].dispose()


def test_every_path_parameter_is_declared_with_the_converters_bounds(document):
    for path, methods in document["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        for method, operation in methods.items():
            declared = {p["name"]: p for p in operation.get("parameters", ()) if p["in"] == "path"}
            assert set(declared) == set(names), (method, path)
            assert all(p["required"] for p in declared.values())
    batch = document["paths"]["/api/admin/v1/batches/{batch_id}/serials/{serial}"]["get"]["parameters"]
    assert [p["schema"] for p in batch] == [{"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                                            {"type": "integer", "minimum": 1, "maximum": 10**15}]
    action = document["paths"]["/api/admin/v1/projects/{project_id}/{action}"]["post"]["parameters"][1]
    assert action["schema"] == {"type": "string", "enum": ["register", "reinstate", "reject", "submit", "suspend"]}
    number = document["paths"]["/v/{number}"]["get"]["parameters"][0]["schema"]
    assert re.fullmatch(number["pattern"], "TH2026-00000001") and not re.search(number["pattern"], "TH2026-1")


def test_every_route_that_reads_the_idempotency_key_declares_it_and_refuses_a_request_without_it(app, client,
                                                                                                document):
    idempotent = {route.view.__name__ for route, _ in routes_of(app) if route.idempotent}
    assert idempotent >= {"create_batch", "make_transfer", "make_reservation", "post_reservation", "void_reservation",
                          "make_retirement", "make_cancellation", "correct_transfer", "create_order"}
    admin = staff_member(app, "keyless", "admin").headers
    login = client.post("/api/mp/v1/auth/login", json={"code": wx_login(client, "keyless-citizen")})
    citizen = {"Authorization": f"Bearer {login.get_json()['token']}"}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            headers = [p for p in operation.get("parameters", ()) if p["name"] == "Idempotency-Key"]
            if operation["operationId"].split(".")[-1] not in idempotent:
                assert not headers, path
                continue
            assert headers[0]["in"] == "header" and headers[0]["required"], path
            url = re.sub(r"{\w+}", "1", path)
            response = client.open(url, method=method.upper(), json={},
                                   headers=citizen if path.startswith("/api/mp/") else admin)
            assert response.status_code == 400, (path, response.get_json())
            assert any(d["field"] == "Idempotency-Key" for d in response.get_json()["error"]["details"]), path


def test_every_json_answer_has_a_declared_shape_and_errors_the_envelope(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema is not None:
                    assert "$ref" in schema, (method, path, "a 2xx JSON body without a response model")
                if status.startswith("4") and path != "/api/pay/wechat/notify" and schema is not None:
                    assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, status)
    statuses = set(document["paths"]["/api/org/v1/organisations/{org_id}/members/{account_id}"]["patch"]["responses"])
    assert statuses == {"200", "400", "401", "403", "404", "409"}
    assert "429" in document["paths"]["/api/mp/v1/orders"]["post"]["responses"]


def test_cross_field_rules_are_in_the_schema_where_json_schema_can_say_them(document):
    schemas = document["components"]["schemas"]
    quote = schemas["QuoteIn"]
    assert quote["oneOf"] == [{"required": ["quantity_g"], "not": {"required": ["footprint_id"]}},
                              {"required": ["footprint_id"], "not": {"required": ["quantity_g"]}}]
    order = schemas["OrderIn"]
    assert order["if"]["properties"]["purpose"] == {"const": "gift"} and order["then"]["required"] == [
        "beneficiary_name"] and order["else"] == {"not": {"required": ["beneficiary_name"]}}
    assert schemas["ListingChange"]["minProperties"] == 1
    create_project = document["paths"]["/api/admin/v1/projects"]["post"]
    assert "crediting_end is after crediting_start" in create_project["description"]


def test_a_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/v1/projects")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    response = client.put("/api/admin/v1/ledger/transfers")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_an_id_too_large_for_a_row_is_404_whatever_the_method(client, operator):
    response = client.delete(f"/api/admin/v1/staff/{2**63}/roles/auditor", headers=operator.headers)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_the_jws_bound_is_above_any_jws_we_sign_and_keeps_the_request_line_within_gunicorns_limit(tmp_path):
    ring = keys.load(str(tmp_path / "k.pem"), str(tmp_path / "r.json"), may_generate=True)
    longest_claims = {"n": "TH9999-" + "9" * 12, "q": 10**15, "b": "ZZ-ZZZ-999999-9999999999-9999-9999",
                      "s": [[10**15, 10**15]], "t": 4_102_444_800, "p": max(RETIREMENT_PURPOSES, key=len),
                      "h": "A" * 43, "r": 10**15}
    longest = ring.sign(canonical_json(longest_claims))
    assert len(longest) <= MAX_JWS_CHARS // 2
    line = f"GET /api/v1/certificates/TH9999-{'9' * 12}?jws={'%25' * MAX_JWS_CHARS} HTTP/1.1"
    assert len(line) < GUNICORN_LIMIT_REQUEST_LINE


def test_a_jws_over_the_bound_is_a_clear_400_json_on_the_api_and_the_error_page_on_v(client):
    jws = "a." + "b" * MAX_JWS_CHARS + ".c"
    api = client.get("/api/v1/certificates/TH2026-00000001", query_string={"jws": jws})
    assert api.status_code == 400 and api.get_json()["error"]["details"][0]["field"] == "jws"
    page = client.get("/v/TH2026-00000001", query_string={"jws": jws})
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "jws" in page.get_data(as_text=True) and "过长" in page.get_data(as_text=True)


def test_the_docs_page_is_served_from_the_app_alone(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html  # no CDN: it works offline
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        response = client.get(asset)
        assert response.status_code == 200, asset
        response.close()
    assert client.get("/docs/assets/swagger-ui/LICENSE").status_code == 200
