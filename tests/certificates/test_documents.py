"""A court's witness certificate: one document vouching for the retirements a defendant paid for, numbered,
signed and logged like a certificate, and shown from what it says of itself (title, statement, facts, items).

The story: two retirements for case (2024)川0129刑初***号, then the witness certificate over both, issued the way a
scenario issues it (``certify().issue_document`` in a transaction). Its signature is checked by hand from the
JWKS (test_keys.verify_by_hand); its QR is read back by a real decoder; its PDF's text by PDFium.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from urllib.parse import urlsplit

import pypdfium2
import pytest

from backend import certificates
from backend.canonical import canonical_json
from backend.certificates import render
from backend.certificates.invariants import check_certificates
from backend.certificates.service import signed_claims
from backend.certificates.verifier import verify_token
from backend.db import atomic, snapshot
from tests.certificates.test_certificates import retire
from tests.certificates.test_images import scan
from tests.certificates.test_keys import verify_by_hand
from tests.certificates.test_render import RING, pdf_text, png, read_qr_codes
from tests.certificates.test_verify import page
from tests.tampering import tamper

CASE = "(2024)川0129刑初***号"
TITLE, TITLE_EN = "替代性生态修复见证书", "Witness Certificate of Substitutive Ecological Restoration"
STATEMENT = "兹证明：被告人已通过碳汇+认购并注销下列林业碳汇，用于替代性修复其行为造成的森林生态损害。"
STATEMENT_EN = ("This certifies that the defendant has bought and retired, through 碳汇+, the forestry carbon credits "
                "below, to restore by substitution the forest damage caused.")
FACTS = [["案号 Case No.", CASE], ["审理机关 Court", "大邑县人民法院"], ["被告人 Defendant", "张*"],
         ["生态损害 Ecological loss", "0.85 吨 CO2e"]]


def item_of(certificate: dict) -> dict:
    """A retirement as a document lists it, from its certificate's public record."""
    payload = certificate["payload"]
    return {"certificate_no": certificate["number"], "quantity_g": payload["quantity_g"],
            "project": payload["project"], "batch": payload["batch"], "serials": payload["serials"],
            "retired_at": payload["retired_at"], "beneficiary_masked": payload["beneficiary"]["masked"]}


def issue_witness(app, items: list[dict], *, facts=FACTS) -> str:
    """The witness certificate over ``items``, issued as the judicial scenario issues it; its number."""
    content = {"title": TITLE, "title_en": TITLE_EN, "statement": STATEMENT, "statement_en": STATEMENT_EN,
               "facts": facts, "items": items, "record": {"case_no": CASE, "court": "大邑县人民法院"}}
    with app.app_context():
        now = app.config["CLOCK"]()
        return atomic(lambda session: certificates.certify().issue_document(
            session, now, kind="judicial_witness", purpose="judicial", purpose_ref=CASE,
            quantity_g=sum(item["quantity_g"] for item in items), content=content)).number


@pytest.fixture
def retirements(operator, client):
    batch = operator.registered_project(quantity_g=100_000_000)["batch"]
    numbers = [retire(operator, batch, f"case-{i}", amount_g=amount, purpose="judicial", purpose_ref=CASE,
                      beneficiary_name="张三")["certificate_no"] for i, amount in enumerate((500_000, 350_000))]
    return [client.get(f"/api/v1/certificates/{number}").get_json() for number in numbers]


@pytest.fixture
def witness(app, client, retirements):
    number = issue_witness(app, [item_of(certificate) for certificate in retirements])
    return client.get(f"/api/v1/certificates/{number}").get_json()


def test_the_witness_certificate_is_served_signed_and_logged(client, retirements, witness):
    assert witness["number"] == "TH2026-00000003"  # numbered in the same series as the certificates it lists
    assert witness["status"] == "valid" and witness["revocation"] is None
    payload = witness["payload"]
    assert (payload["kind"], payload["title"], payload["quantity_g"]) == ("judicial_witness", TITLE, 850_000)
    assert [item["certificate_no"] for item in payload["items"]] == [c["number"] for c in retirements]
    assert hashlib.sha256(canonical_json(payload)).hexdigest() == witness["payload_sha256"]
    assert witness["record_check"]["genuine"] and witness["log_proof"]["verified"]

    signed = verify_by_hand(witness["jws"], client.get("/.well-known/jwks.json").get_json())
    issued_at = datetime.fromisoformat(payload["issued_at"].replace("Z", "+00:00"))
    digest = base64.urlsafe_b64encode(bytes.fromhex(witness["payload_sha256"])).rstrip(b"=").decode()
    assert signed == {"n": witness["number"], "k": "judicial_witness", "q": 850_000, "p": "judicial",
                      "t": int(issued_at.timestamp()), "h": digest}
    assert client.get(f"/api/v1/certificates/{witness['number']}/proof").status_code == 200


def test_its_jws_checks_offline_and_only_against_its_own_record(client, retirements, witness):
    jwks = client.get("/.well-known/jwks.json").get_json()
    assert verify_token(witness["jws"], jwks, record=witness).genuine

    borrowed = verify_token(witness["jws"], jwks, record=retirements[0])
    assert not borrowed.genuine and "二维码属于另一张证书" in borrowed.reason
    assert not verify_token(retirements[0]["jws"], jwks, record=witness).genuine

    # The same number with another kind (or any other signed field) in the record: named, by its long name.
    relabelled = {**witness, "payload": {**witness["payload"], "kind": "event_neutrality"}}
    differs = verify_token(witness["jws"], jwks, record=relabelled)
    assert not differs.genuine and "kind" in differs.reason

    check = client.get(f"/api/v1/certificates/{witness['number']}",
                       query_string={"jws": retirements[1]["jws"]}).get_json()
    assert check["jws_check"]["genuine"] is False


def test_the_verify_page_shows_what_the_document_states_and_links_its_items(client, retirements, witness):
    status, html = page(client, witness["number"], witness["jws"])
    assert status == 200 and "✓ 真实有效 Genuine" in html and "与登记记录一致" in html
    assert TITLE in html and TITLE_EN in html and STATEMENT in html and "850 千克" in html
    for label, value in FACTS:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html
    assert "签发时间 Issued at" in html and "2026年3月12日 17:00 (北京时间)" in html and "签发方 Issuer" in html
    for certificate in retirements:
        assert f'href="/v/{certificate["number"]}">{certificate["number"]}</a>' in html
    assert "<dt>受益人 Beneficiary</dt>" not in html and "<dt>序列号 Serials</dt>" not in html  # not a retirement
    assert "✓ 已收录并验证" in html

    # Following an item's link opens that retirement's own page, genuine by the registry's record.
    status, item_page = page(client, retirements[0]["number"])
    assert status == 200 and "✓ 真实有效 Genuine" in item_page and CASE in item_page


def test_the_pdf_reads_as_the_document(app, client, retirements, witness):
    response = client.get(f"/api/v1/certificates/{witness['number']}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    text = pdf_text(response.data)
    for fact in [TITLE, TITLE_EN, STATEMENT, witness["number"], "850 千克", "850,000 克", "大邑县人民法院", CASE,
                 "被告人 Defendant", "所证明的注销", witness["payload_sha256"], witness["kid"],
                 f"/v/{witness['number']}", "有效", "2026年3月12日 17:00"]:
        assert fact in text, fact
    for certificate in retirements:
        assert certificate["number"] in text and certificate["payload"]["batch"]["code"] in text
    assert "1–500,000" in text and "500,001–850,000" in text
    assert "碳汇注销证书" not in text and "已撤销" not in text
    assert b"/CreationDate (D:20260312090000Z" in response.data  # issued-at: the same document, the same bytes

    # A few facts and items leave the QR on the one A4 page, where it scans as printed.
    [printed] = pypdfium2.PdfDocument(response.data)
    scanned = read_qr_codes(printed.render(scale=150 / 72).to_pil().convert("L"))
    assert [code.text for code in scanned] == [f"{app.config['PUBLIC_BASE_URL']}/v/{witness['number']}"
                                               f"?jws={witness['jws']}"]


@pytest.mark.parametrize("kind", ["qr.png", "certificate.png"])
def test_its_qr_opens_a_genuine_verdict(app, client, witness, kind):
    response = client.get(f"/api/v1/certificates/{witness['number']}/{kind}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    url = urlsplit(scan(response.data))
    assert f"{url.scheme}://{url.netloc}" == app.config["PUBLIC_BASE_URL"] and url.path == f"/v/{witness['number']}"
    assert url.query == f"jws={witness['jws']}"
    status, html = page(client, witness["number"], url.query.removeprefix("jws="))
    assert "✓ 真实有效 Genuine" in html and TITLE in html


def test_a_revoked_document_says_so_everywhere(client, operator, witness):
    number = witness["number"]
    card_before = client.get(f"/api/v1/certificates/{number}/certificate.png")
    revoked = operator.ok(operator.post(f"/certificates/{number}/revocation", {"reason": "判决已撤销"}), 201)
    assert revoked["status"] == "revoked" and revoked["revocation"]["by"] == "operator"

    assert client.get(f"/api/v1/certificates/{number}").get_json()["status"] == "revoked"
    status, html = page(client, number, witness["jws"])
    assert "⚠ 证书已撤销 Revoked" in html and "判决已撤销" in html and "真实有效" not in html
    text = pdf_text(client.get(f"/api/v1/certificates/{number}/certificate.pdf").data)
    assert "已撤销" in text and "REVOKED" in text and "判决已撤销" in text and "本文件已撤销" in text
    card = client.get(f"/api/v1/certificates/{number}/certificate.png",
                      headers={"If-None-Match": card_before.headers["ETag"]})
    assert card.status_code == 200 and card.data != card_before.data  # the stamp
    assert scan(card.data).startswith(f"{client.application.config['PUBLIC_BASE_URL']}/v/{number}?jws=")


@pytest.mark.tampers
def test_a_document_whose_row_and_payload_disagree_breaks_the_invariant(app, witness):
    with snapshot(app.extensions["db_engine"]) as session:
        assert check_certificates(session) == []
    tamper(app.extensions["db_engine"], "UPDATE certificate SET kind = 'event_neutrality' WHERE number = :number",
           number=witness["number"])
    with snapshot(app.extensions["db_engine"]) as session:
        [violation] = check_certificates(session)
    assert witness["number"] in str(violation) and "judicial_witness" in str(violation)


# --- the card and the page, drawn from the document alone (no app) ---------------------------------------------

def document_card(*, facts: list[list[str]], title: str = TITLE, title_en: str = TITLE_EN) -> dict:
    """A document's public view as service.public_view gives it, signed with the render tests' key."""
    items = [{"certificate_no": "TH2026-00000040", "quantity_g": 95_000_000, "project": {"id": 1, "name": "大邑县林场"},
              "batch": {"code": "SC-FOR-510129-0001-2023-01", "vintage": 2023}, "serials": [[1, 95_000_000]],
              "retired_at": "2026-12-05T02:00:00.000000Z", "beneficiary_masked": "张*"}]
    payload = {"v": 1, "kind": "judicial_witness", "number": "TH2026-00000042", "issuer": "碳汇+ (Carbon Sink Plus)",
               "purpose": "judicial", "purpose_ref": CASE, "quantity_g": 95_000_000,
               "issued_at": "2026-12-05T03:00:00.000000Z", "title": title, "title_en": title_en,
               "statement": STATEMENT, "statement_en": STATEMENT_EN, "facts": facts, "items": items, "record": {}}
    digest = hashlib.sha256(canonical_json(payload)).hexdigest()
    return {"number": payload["number"], "status": "valid", "revocation": None, "payload": payload,
            "payload_sha256": digest, "jws": RING.sign(canonical_json(signed_claims(payload, digest))),
            "kid": RING.kid}


def test_the_card_shows_the_documents_facts_in_chinese_then_its_date_and_number():
    assert render.card_facts(document_card(facts=FACTS)) == [
        ("案号", CASE), ("审理机关", "大邑县人民法院"), ("被告人", "张*"), ("生态损害", "0.85 吨 CO2e"),
        ("签发日期", "2026年12月5日"), ("证书编号", "TH2026-00000042")]
    assert render.titles(document_card(facts=FACTS)) == (TITLE, TITLE_EN)


def test_a_card_with_more_facts_than_fit_shows_the_first_ones_and_keeps_its_qr_scannable():
    many = [[f"附注{i} Note {i}", f"第{i}条说明" * 8] for i in range(12)]
    card = document_card(facts=many, title="替代性生态修复暨增殖放流与补植复绿综合见证书",
                         title_en="Witness Certificate of Substitutive Ecological Restoration, Restocking and "
                                  "Replanting")
    url = f"https://tanhui.example.cn/v/{card['number']}?jws={card['jws']}"
    image = png(render.share_card_png(card, url)).convert("L")
    [code] = read_qr_codes(image)
    assert code.text == url and code.position.top_right.x - code.position.top_left.x >= 400
    # Every fact is still on paper (a long value wraps: read it with the line breaks taken out).
    text = pdf_text(render.certificate_pdf(card, url)).replace("\r\n", "")
    assert [value for _label, value in many if value not in text] == []
