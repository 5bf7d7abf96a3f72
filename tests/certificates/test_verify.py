"""Scanning a certificate: the verify page and the JSON say whether it is genuine, whether it still stands, and
why not when it does not — and so does the offline verifier, with nothing but the JWKS file."""

from __future__ import annotations

import base64
import json

import pytest
from PIL import Image
from sqlmodel import Session, select

from backend.audit.models import AuditEvent
from tests.certificates.test_certificates import retire
from tests.envelope import refused


@pytest.fixture
def batch(operator):
    return operator.registered_project(quantity_g=100_000_000)["batch"]


@pytest.fixture
def certificate(client, operator, batch):
    number = retire(operator, batch, "verify-1")["certificate_no"]
    return client.get(f"/api/v1/certificates/{number}").get_json()


@pytest.fixture
def other(client, operator, batch):
    number = retire(operator, batch, "verify-2", amount_g=1_500_000, beneficiary_name="李四")["certificate_no"]
    return client.get(f"/api/v1/certificates/{number}").get_json()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def with_payload(token: str, **changes) -> str:
    """The same header and signature over an edited payload: what a forger who cannot sign would make."""
    header, payload, signature = token.split(".")
    claims = {**json.loads(unb64(payload)), **changes}
    return ".".join((header, b64(json.dumps(claims).encode()), signature))


def with_header(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    return ".".join((b64(json.dumps({**json.loads(unb64(header)), **changes}).encode()), payload, signature))


def page(client, number: str, jws: str | None = None) -> tuple[int, str]:
    response = client.get(f"/v/{number}", query_string={"jws": jws} if jws else None)
    assert response.content_type.startswith("text/html")
    return response.status_code, response.get_data(as_text=True)


def test_the_qrs_own_url_shows_a_genuine_valid_certificate(client, certificate):
    status, html = page(client, certificate["number"], certificate["jws"])
    assert status == 200
    assert "✓ 真实有效 Genuine" in html and "与登记记录一致" in html
    assert certificate["number"] in html and "350 千克" in html and "张**" in html
    assert "张三丰" not in html
    assert "✓ 已收录并验证" in html  # the log proof, checked on the server as an outside verifier would
    assert certificate["record_check"]["genuine"] and certificate["log_proof"]["verified"]
    assert certificate["status"] == "valid" and certificate["revocation"] is None


@pytest.mark.parametrize("forgery, says", [
    ("changed quantity", "签名无效"),
    ("unknown kid", "未知的签名密钥"),
    ("another certificate's JWS", "二维码属于另一张证书"),
    ("not a JWS", "不是有效的证书签名"),
])
def test_a_forged_or_borrowed_jws_is_not_genuine_and_says_why(client, certificate, other, forgery, says):
    token = {"changed quantity": with_payload(certificate["jws"], q=350_000_000),
             "unknown kid": with_header(certificate["jws"], kid="not-our-key"),
             "another certificate's JWS": other["jws"],
             "not a JWS": "hello"}[forgery]
    status, html = page(client, certificate["number"], token)
    assert status == 200 and "✗ 验证失败 Not genuine" in html and says in html, forgery
    assert "真实有效" not in html
    check = client.get(f"/api/v1/certificates/{certificate['number']}", query_string={"jws": token}).get_json()
    assert check["jws_check"]["genuine"] is False and says in check["jws_check"]["reason"]


def test_unknown_and_malformed_numbers_are_the_same_plain_404(client, certificate):
    for path in ("/api/v1/certificates/TH2026-00000099", "/api/v1/certificates/TH2026-0000009X"):
        refused(client.get(path), 404, code="not_found")
    assert page(client, "TH2026-00000099")[0] == page(client, "whatever")[0] == 404
    assert page(client, "TH2026-00000099")[1] == page(client, "whatever")[1]


def test_an_operator_revokes_with_a_reason_the_page_then_shows(app, client, operator, certificate):
    number = certificate["number"]
    assert page(client, number, certificate["jws"])[0] == 200  # now cached as valid
    revoked = operator.ok(operator.post(f"/certificates/{number}/revocation", {"reason": "受益人信息登记错误"}), 201)
    assert revoked["status"] == "revoked" and revoked["revocation"]["reason"] == "受益人信息登记错误"

    status, html = page(client, number, certificate["jws"])
    assert "⚠ 证书已撤销 Revoked" in html and "受益人信息登记错误" in html and "真实有效" not in html
    assert client.get(f"/api/v1/certificates/{number}").get_json()["status"] == "revoked"
    with Session(app.extensions["db_engine"]) as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "certificate.revoke")).scalar_one()
    assert (event.object_id, event.actor, event.after["reason"]) == (number, operator.actor, "受益人信息登记错误")

    again = operator.ok(operator.post(f"/certificates/{number}/revocation", {"reason": "受益人信息登记错误"}), 201)
    assert again == revoked
    refused(operator.post(f"/certificates/{number}/revocation", {"reason": "另一个理由"}), 409, code="already_revoked")


def test_only_an_operator_revokes_and_bad_requests_are_named(client, operator, certificate):
    number = certificate["number"]
    refused(client.post(f"/api/admin/v1/certificates/{number}/revocation", json={"reason": "x"}), 401)
    refused(operator.post(f"/certificates/{number}/revocation", {"reason": ""}), 400, field="reason")
    refused(operator.post(f"/certificates/{number}/revocation", {}), 400, field="reason")
    refused(operator.post("/certificates/TH2026-00000099/revocation", {"reason": "x"}), 404)
    assert client.get(f"/api/v1/certificates/{number}").get_json()["status"] == "valid"


def test_a_corrected_retirement_leaves_its_certificate_revoked(client, operator, batch):
    retirement = retire(operator, batch, "to-correct")
    number = retirement["certificate_no"]
    assert client.get(f"/api/v1/certificates/{number}").get_json()["status"] == "valid"
    operator.ok(operator.post(f"/ledger/transfers/{retirement['transfer_id']}/correct", {"reason": "重复注销"},
                              key="correct-1"), 201)
    found = client.get(f"/api/v1/certificates/{number}").get_json()
    assert found["status"] == "revoked" and "重复注销" in found["revocation"]["reason"]
    assert found["revocation"]["by"] == "correction"


def test_the_record_is_cached_but_its_status_never_is(app, client, operator, certificate):
    redis = app.extensions["redis"]
    number = certificate["number"]
    key = f"{app.config['REDIS_KEY_PREFIX']}cert:record:v2:{number}"
    cached = json.loads(redis.get(key))
    assert cached["number"] == number and cached["record_check"]["genuine"]
    assert "status" not in cached and "revocation" not in cached
    assert 0 < redis.ttl(key) <= app.config["CERT_CACHE_SECONDS"]
    operator.ok(operator.post(f"/certificates/{number}/revocation", {"reason": "测试"}), 201)
    assert redis.get(key) is not None  # still cached, and still the revocation shows at once
    assert client.get(f"/api/v1/certificates/{number}").get_json()["status"] == "revoked"


def test_each_client_is_limited_per_minute(app, client, clock, certificate):
    app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"] = 3
    clock.advance(seconds=60)  # a fresh window: the fixture's own requests do not count
    number = certificate["number"]
    assert [client.get(f"/v/{number}").status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(f"/v/{number}")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    other = client.get(f"/v/{number}", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200  # another client has its own allowance
    clock.advance(seconds=60)
    assert client.get(f"/v/{number}").status_code == 200


@pytest.fixture
def jwks_file(client, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    return str(path)


def test_the_offline_verifier_needs_only_the_jwks(runner, certificate, jwks_file):
    url = f"http://127.0.0.1:5000/v/{certificate['number']}?jws={certificate['jws']}"
    for source in (url, certificate["jws"]):
        result = runner.invoke(args=["cert", "verify", source, "--jwks", jwks_file])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("VALID") and certificate["number"] in result.output
        assert "350 千克" in result.output


@pytest.mark.parametrize("forgery, says", [
    ("changed quantity", "签名无效"),
    ("unknown kid", "未知的签名密钥"),
    ("another certificate's URL", "链接中的编号"),
])
def test_the_offline_verifier_refuses_forgeries_saying_why(runner, certificate, other, jwks_file, forgery, says):
    source = {"changed quantity": with_payload(certificate["jws"], q=1),
              "unknown kid": with_header(certificate["jws"], kid="gone"),
              "another certificate's URL": f"https://x.example/v/{certificate['number']}?jws={other['jws']}"}[forgery]
    result = runner.invoke(args=["cert", "verify", source, "--jwks", jwks_file])
    assert result.exit_code == 1 and result.output.startswith("INVALID") and says in result.output, result.output


def test_a_jws_whose_kid_is_not_a_string_is_refused_not_a_crash(client, runner, certificate, jwks_file):
    token = with_header(certificate["jws"], kid=["x"])
    status, html = page(client, certificate["number"], token)
    assert status == 200 and "✗ 验证失败 Not genuine" in html and "未知的签名密钥" in html
    check = client.get(f"/api/v1/certificates/{certificate['number']}", query_string={"jws": token}).get_json()
    assert check["jws_check"]["genuine"] is False
    result = runner.invoke(args=["cert", "verify", token, "--jwks", jwks_file])
    assert result.exit_code == 1 and result.output.startswith("INVALID"), result.output


def test_clients_in_one_ipv6_64_share_an_allowance(app, client, clock, certificate):
    app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"] = 2
    clock.advance(seconds=60)
    number = certificate["number"]
    codes = [client.get(f"/v/{number}", environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{i}"}).status_code
             for i in range(1, 4)]
    assert codes == [200, 200, 429]  # cycling addresses within one subscriber's /64 does not help
    assert client.get(f"/v/{number}", environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"}).status_code == 200


def test_the_offline_verifier_reads_the_share_card_png(client, runner, certificate, jwks_file, tmp_path):
    card = tmp_path / "card.png"
    card.write_bytes(client.get(f"/api/v1/certificates/{certificate['number']}/certificate.png").data)
    result = runner.invoke(args=["cert", "verify", str(card), "--jwks", jwks_file])
    assert result.exit_code == 0 and result.output.startswith("VALID") and certificate["number"] in result.output
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    result = runner.invoke(args=["cert", "verify", str(blank), "--jwks", jwks_file])
    assert result.exit_code == 1 and "没有二维码" in result.output


@pytest.mark.parametrize("content", ["[]", '{"keys": "abc"}', '{"keys": [{"kid": "k", "kty": "RSA"}]}', "nonsense"])
def test_a_bad_jwks_file_is_the_callers_mistake(runner, certificate, tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = runner.invoke(args=["cert", "verify", certificate["jws"], "--jwks", str(path)])
    assert result.exit_code == 2 and "not a usable JWKS" in result.output, result.output
