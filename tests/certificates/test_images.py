"""A certificate's QR, share card and PDF as served: the QR a phone scans opens the verify page and carries a JWS
anyone can check with the published keys; each file is rendered once and revalidated by ETag."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from backend.certificates import images
from tests.certificates.test_certificates import retire
from tests.certificates.test_keys import verify_by_hand
from tests.envelope import refused


@pytest.fixture
def number(operator):
    batch = operator.registered_project(quantity_g=100_000_000)["batch"]
    return retire(operator, batch, "images-1")["certificate_no"]


def scan(png: bytes) -> str:
    [code] = [c for c in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
              if c.format == zxingcpp.BarcodeFormat.QRCode]
    assert code.extra["ECLevel"] == "M" and int(code.extra["Version"]) <= 16, code.extra
    return code.text


@pytest.mark.parametrize("kind", ["qr.png", "certificate.png"])
def test_scanning_the_served_qr_leads_to_a_genuine_verdict(app, client, number, kind):
    response = client.get(f"/api/v1/certificates/{number}/{kind}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    url = urlsplit(scan(response.data))
    assert f"{url.scheme}://{url.netloc}" == app.config["PUBLIC_BASE_URL"] and url.path == f"/v/{number}"

    page = client.get(f"{url.path}?{url.query}").get_data(as_text=True)  # what the phone opens
    assert "✓ 真实有效 Genuine" in page and "与登记记录一致" in page
    token = url.query.removeprefix("jws=")
    claims = verify_by_hand(token, client.get("/.well-known/jwks.json").get_json())  # not our signing code
    assert claims["n"] == number and claims["q"] == 350_000


def test_the_pdf_is_one_a4_page(client, number):
    response = client.get(f"/api/v1/certificates/{number}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-") and b"/MediaBox [0 0 595.28 841.89]" in response.data
    assert response.headers["Content-Disposition"] == f'inline; filename="{number}.pdf"'


@pytest.mark.parametrize("kind", ["qr.png", "certificate.png", "certificate.pdf"])
def test_files_are_rendered_once_and_revalidated_by_etag(app, client, number, kind, monkeypatch):
    first = client.get(f"/api/v1/certificates/{number}/{kind}")
    etag = first.headers["ETag"]

    # A second render would now fail the test.
    monkeypatch.setitem(images.KINDS, kind, (images.KINDS[kind][0], lambda *a: pytest.fail("rendered twice")))
    again = client.get(f"/api/v1/certificates/{number}/{kind}")
    assert again.data == first.data and again.headers["ETag"] == etag
    unchanged = client.get(f"/api/v1/certificates/{number}/{kind}", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""


def test_a_revocation_changes_the_card_and_its_etag(client, operator, number):
    before = client.get(f"/api/v1/certificates/{number}/certificate.png")
    operator.ok(operator.post(f"/certificates/{number}/revocation", {"reason": "重复下单"}), 201)
    stale = client.get(f"/api/v1/certificates/{number}/certificate.png",
                       headers={"If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200 and stale.headers["ETag"] != before.headers["ETag"]
    assert stale.data != before.data  # the card now carries the revoked stamp


def test_unknown_certificates_and_files_are_404(client, number):
    refused(client.get("/api/v1/certificates/TH2026-00000099/certificate.png"), 404)
    assert client.get(f"/api/v1/certificates/{number}/certificate.gif").status_code == 404


def test_a_fragmented_retirement_signs_its_span_and_still_scans(client, operator):
    """Corrections leave holes in the inventory; a later retirement spanning them gets several serial ranges."""
    batch = operator.registered_project(quantity_g=100_000_000)["batch"]
    small = [retire(operator, batch, f"small-{i}", amount_g=1_000) for i in range(6)]
    for i in (0, 2, 4):  # give back every other one: serials 1-1000, 2001-3000, 4001-5000 are free again
        operator.ok(operator.post(f"/ledger/transfers/{small[i]['transfer_id']}/correct", {"reason": "退回"},
                                  key=f"undo-{i}"), 201)
    number = retire(operator, batch, "spanning", amount_g=5_000)["certificate_no"]
    certificate = client.get(f"/api/v1/certificates/{number}").get_json()
    assert certificate["payload"]["serials"] == [[1, 1000], [2001, 3000], [4001, 5000], [6001, 8000]]
    claims = verify_by_hand(certificate["jws"], client.get("/.well-known/jwks.json").get_json())
    assert (claims["s"], claims["r"]) == ([[1, 8000]], 4)
    url = urlsplit(scan(client.get(f"/api/v1/certificates/{number}/qr.png").data))
    assert "✓ 真实有效 Genuine" in client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    assert client.get(f"/api/v1/certificates/{number}/certificate.pdf").status_code == 200
