"""A certificate's QR, share card and PDF, checked as people will use them: the QR is read back by a real decoder
(zxing-cpp), out of the card and out of the printed page; the PDF's text is read by PDFium (the engine of Chrome
and Edge) and its fonts by pypdf.

Pure functions: no app, no stores. The cards are built by hand the way service.certifier builds them, signed
with a fresh Ed25519 key, so the URLs are as long as real ones.
"""

from __future__ import annotations

import hashlib
import io
import re

import pypdfium2
import pytest
import zxingcpp
from fontTools.ttLib import TTCollection, TTFont
from joserfc.jwk import OKPKey
from PIL import Image
from pypdf import PdfReader

from backend.canonical import canonical_json
from backend.certificates import fonts, render, wording
from backend.certificates.keys import KeyRing
from backend.certificates.service import signed_claims
from backend.ledger.models import RETIREMENT_PURPOSES

BASE_URL = "https://tanhui.example.cn"
RING = KeyRing(OKPKey.generate_key("Ed25519"))
RED_STAMP = (204, 32, 32)


def certificate_card(*, status: str = "valid", purpose: str = "judicial",
                     purpose_ref: str | None = "（2024）川0129刑初12号", quantity_g: int = 12_500_000,
                     serials: list[list[int]] | None = None, retired_at: str = "2026-03-12T02:00:00.000000Z") -> dict:
    """A public view as service.public_view gives it, with a real signature over the same fields."""
    serials = serials or [[1, quantity_g]]
    payload = {"v": 1, "number": "TH2026-00000001", "issuer": "碳汇+ (Carbon Sink Plus)", "purpose": purpose,
               "purpose_ref": purpose_ref, "quantity_g": quantity_g,
               "project": {"id": 2, "name": "红原县草原碳汇项目"},
               "batch": {"code": "SC-GRA-513233-0001-2024-01", "vintage": 2024}, "serials": serials,
               "retired_at": retired_at,
               "beneficiary": {"masked": "张*", "commitment": hashlib.sha256("salt:张三".encode()).hexdigest()}}
    digest = hashlib.sha256(canonical_json(payload)).hexdigest()
    signed = signed_claims(payload, digest)
    revocation = {"reason": "重复下单，已退款", "revoked_at": "2026-04-01T03:00:00.000000Z", "by": "operator"}
    return {"number": payload["number"], "status": status, "revocation": revocation if status == "revoked" else None,
            "payload": payload, "payload_sha256": digest, "jws": RING.sign(canonical_json(signed)), "kid": RING.kid}


def verify_url(card: dict) -> str:
    return f"{BASE_URL}/v/{card['number']}?jws={card['jws']}"


def read_qr_codes(image: Image.Image) -> list:
    return [code for code in zxingcpp.read_barcodes(image) if code.format == zxingcpp.BarcodeFormat.QRCode]


def png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data))


# --- QR --------------------------------------------------------------------------------------------------------

def test_the_qr_reads_back_as_the_verify_url_at_error_correction_m():
    url = verify_url(certificate_card())
    assert 400 < len(url) <= 450  # as long as a real one: a JWS over ~150 bytes of compact JSON
    image = png(render.qr_png(url))
    [code] = read_qr_codes(image)
    assert code.text == url
    assert code.extra["ECLevel"] == "M"
    version = int(code.extra["Version"])
    assert version <= 16  # 16-M holds 450 bytes: a one-range certificate's URL fits, as the issue asks
    assert image.size == ((17 + 4 * version + 2 * 4) * 8,) * 2  # a 4-module quiet zone, 8 px a module by default


@pytest.mark.parametrize("ranges", [1, 2, 40])
def test_any_number_of_serial_ranges_fits_version_16(ranges):
    """One range is signed as it is; a fragmented retirement signs the span of its ranges and their count."""
    serials = [[10**12 + i * 10**7, 10**12 + i * 10**7 + 999] for i in range(ranges)]  # 13-digit serials
    card = certificate_card(quantity_g=1_000 * ranges, serials=serials)
    url = verify_url(card)
    [code] = read_qr_codes(png(render.qr_png(url, box_size=4)))
    assert code.text == url and int(code.extra["Version"]) <= 16, (len(url), code.extra["Version"])


def test_a_url_too_dense_for_a_scannable_qr_is_refused():
    # Lower-case letters are bytes to a QR: 22-M holds 779 of them and not one more.
    fits = f"{BASE_URL}/v/" + "a" * (779 - len(BASE_URL) - 3)
    assert int(read_qr_codes(png(render.qr_png(fits, box_size=4)))[0].extra["Version"]) == 22
    with pytest.raises(ValueError, match=r"version 23, more than the 22 allowed"):
        render.qr_png(fits + "a")
    with pytest.raises(ValueError, match=r"version > 40"):
        render.qr_png(fits * 5)


# --- share card (PNG) -----------------------------------------------------------------------------------------

def test_the_share_card_is_a_portrait_png_whose_qr_scans_as_drawn():
    card = certificate_card()
    url = verify_url(card)
    image = png(render.share_card_png(card, url))
    assert image.format == "PNG" and image.size == (750, 1334)
    [code] = read_qr_codes(image.convert("L"))
    assert code.text == url
    corners = code.position
    assert corners.top_right.x - corners.top_left.x >= 400  # the symbol alone, quiet zone not counted


def test_the_share_card_says_what_was_retired_for_whom_in_chinese():
    facts = dict(render.card_facts(certificate_card()))
    assert facts == {"项目": "红原县草原碳汇项目", "批次": "SC-GRA-513233-0001-2024-01 · 2024 年度",
                     "用途": "生态司法替代性修复", "案号": "（2024）川0129刑初12号", "受益人": "张*",
                     "注销日期": "2026年3月12日", "证书编号": "TH2026-00000001"}


def test_long_names_and_many_serial_ranges_leave_the_qr_scannable():
    serials = [[10**9 + i * 10**7, 10**9 + i * 10**7 + 99_999] for i in range(11)]
    card = certificate_card(quantity_g=1_100_000, serials=serials)
    card["payload"]["project"]["name"] = ("四川省阿坝藏族羌族自治州红原县退化草原生态修复"
                                          "与草原碳汇计量监测示范项目（二期）")
    card["payload"]["purpose_ref"] = ("（2024）川0129刑初12号之一、（2024）川0129刑初13号、"
                                      "（2024）川0129刑初14号及附带民事公益诉讼")
    url = verify_url(card)
    image = png(render.share_card_png(card, url))
    [code] = read_qr_codes(image.convert("L"))
    assert code.text == url and code.position.top_right.x - code.position.top_left.x >= 400
    assert int(code.extra["Version"]) <= 16
    assert len(PdfReader(io.BytesIO(render.certificate_pdf(card, url))).pages) <= 2  # eleven ranges may spill over


def test_the_card_date_is_the_beijing_date():
    late_evening_utc = certificate_card(retired_at="2026-03-11T16:30:00.000000Z")  # 00:30 on the 12th in Beijing
    assert dict(render.card_facts(late_evening_utc))["注销日期"] == "2026年3月12日"


def test_a_purpose_without_reference_has_no_reference_line():
    facts = dict(render.card_facts(certificate_card(purpose="personal", purpose_ref=None)))
    assert facts["用途"] == "个人碳中和"
    assert not {"案号", "尽责年度", "活动", "用途说明"} & facts.keys()


def test_every_retirement_purpose_reads_in_chinese_and_an_unknown_one_as_itself():
    for purpose in RETIREMENT_PURPOSES:
        label = dict(render.card_facts(certificate_card(purpose=purpose)))["用途"]
        assert re.search(r"[\u4e00-\u9fff]", label) and purpose not in label, (purpose, label)
    assert dict(render.card_facts(certificate_card(purpose="carbon_gift")))["用途"] == "carbon_gift"


def test_the_card_font_has_a_glyph_for_everything_the_card_draws():
    card = certificate_card(status="revoked")
    drawn = "".join([render.TITLE, render.TITLE_EN, render.SCAN_CAPTION, render.REVOKED_MARK, "碳汇+撤销于",
                     "二氧化碳当量 (CO2e)", wording.quantity_text(12_500_000), wording.quantity_text(1),
                     *(label + value for label, value in render.card_facts(card)),
                     *(wording.purpose_chinese(purpose) for purpose in RETIREMENT_PURPOSES)])
    face = fonts.face()
    assert (face.path.endswith("NotoSansCJK-Regular.ttc"), face.index) == (True, 2)
    font = TTCollection(face.path, lazy=True).fonts[face.index]
    assert font["name"].getDebugName(1) == "Noto Sans CJK SC"
    cmap = font.getBestCmap()
    missing = sorted({character for character in drawn if ord(character) not in cmap and not character.isspace()})
    assert not missing


def test_a_revoked_card_carries_a_red_stamp_and_still_scans():
    valid, revoked = certificate_card(), certificate_card(status="revoked")
    url = verify_url(valid)
    valid_image, revoked_image = (png(render.share_card_png(card, url)).convert("RGB") for card in (valid, revoked))

    def stamp_red(image):
        pixels = image.tobytes()
        return sum(1 for i in range(0, len(pixels), 3)
                   if pixels[i] > 170 and pixels[i + 1] < 90 and pixels[i + 2] < 90)

    assert stamp_red(valid_image) == 0
    assert stamp_red(revoked_image) > 10_000
    assert [code.text for code in read_qr_codes(revoked_image.convert("L"))] == [url]


def test_the_same_card_gives_the_same_bytes():
    card = certificate_card()
    assert render.share_card_png(card, verify_url(card)) == render.share_card_png(card, verify_url(card))


def test_a_missing_font_file_is_said_plainly():
    card = certificate_card()
    with pytest.raises(FileNotFoundError, match="/nowhere/font.ttf"):
        render.share_card_png(card, verify_url(card), font_path="/nowhere/font.ttf")


# --- PDF --------------------------------------------------------------------------------------------------------

def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    return "".join(page.get_textpage().get_text_range() for page in document)


def test_the_pdf_is_one_a4_page_of_real_chinese_text():
    card = certificate_card()
    data = render.certificate_pdf(card, verify_url(card))
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    text = pdf_text(data)
    for fact in ["碳汇注销证书", "TH2026-00000001", "12.5 吨", "12,500,000 克", "红原县草原碳汇项目", "张*",
                 "生态司法替代性修复", "（2024）川0129刑初12号", "1–12,500,000", "SC-GRA-513233-0001-2024-01",
                 "2026年3月12日 10:00", card["payload_sha256"], card["kid"], card["payload"]["issuer"],
                 card["payload"]["beneficiary"]["commitment"], f"{BASE_URL}/v/TH2026-00000001", "有效"]:
        assert fact in text, fact
    assert "已撤销" not in text


def test_the_pdf_embeds_a_subset_of_its_font():
    card = certificate_card()
    reader = PdfReader(io.BytesIO(render.certificate_pdf(card, verify_url(card))))
    fonts_used = [font.get_object() for font in reader.pages[0]["/Resources"]["/Font"].values()]
    assert fonts_used
    for font in fonts_used:
        assert font["/Subtype"] == "/Type0"
        descendant = font["/DescendantFonts"][0].get_object()
        assert re.fullmatch(r"/[A-Z]{6}\+NotoSansCJKSC", descendant["/BaseFont"])  # a subset, by PDF's naming
        descriptor = descendant["/FontDescriptor"].get_object()
        program = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
        assert program is not None
        size = len(program.get_object().get_data())
        assert 1_000 < size < 200_000  # the glyphs used, not the 19 MB collection


def test_the_qr_on_the_printed_page_scans():
    card = certificate_card()
    url = verify_url(card)
    page = pypdfium2.PdfDocument(render.certificate_pdf(card, url))[0]
    printed = page.render(scale=150 / 72).to_pil().convert("L")  # 150 dpi, an office scan
    assert [code.text for code in read_qr_codes(printed)] == [url]


def test_a_revoked_pdf_says_so_and_why():
    card = certificate_card(status="revoked")
    text = pdf_text(render.certificate_pdf(card, verify_url(card)))
    assert "已撤销" in text and "REVOKED" in text
    assert "撤销于 2026年4月1日" in text and "重复下单，已退款" in text


def test_the_same_card_gives_the_same_pdf_bytes():
    card = certificate_card()
    first = render.certificate_pdf(card, verify_url(card))
    assert render.certificate_pdf(card, verify_url(card)) == first
    assert b"/CreationDate (D:20260312020000Z" in first  # the retirement's time, not the rendering's


def test_a_font_path_may_name_a_single_font_file(tmp_path):
    """An operator's own font instead of the packaged one: here the SC face, saved alone as an OTF."""
    face = fonts.face()
    single = tmp_path / "NotoSansCJKsc-Regular.otf"
    TTFont(face.path, fontNumber=face.index).save(single)
    card = certificate_card()
    data = render.certificate_pdf(card, verify_url(card), font_path=str(single))
    assert "碳汇注销证书" in pdf_text(data)
    assert png(render.share_card_png(card, verify_url(card), font_path=str(single))).size == (750, 1334)


# --- quantities -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("grams", "text"), [
    (12_500_000, "12.5 吨"), (850_000, "850 千克"), (1, "0.001 千克"), (1_234_567, "1.234567 吨"),
    (999_999, "999.999 千克"), (1_000_000, "1 吨"), (1_000, "1 千克"), (2_500_000_000, "2,500 吨"),
])
def test_quantities_read_exactly_in_tonnes_from_one_tonne_and_kilograms_below(grams, text):
    assert wording.quantity_text(grams) == text
