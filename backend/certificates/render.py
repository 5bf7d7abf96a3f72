"""A certificate as pictures and paper: its QR code, a WeChat share card (PNG) and an A4 document (PDF).

Pure functions of the certificate's public view (``service.public_view``) and its verify URL
(``<public base URL>/v/<number>?jws=<compact JWS>``): no Flask, no database. The same card gives the same bytes,
so a response's ETag can be a hash of them.
"""

from __future__ import annotations

import functools
import io
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import qrcode
from fpdf import FPDF
from fpdf.enums import TableBordersLayout, WrapMode, XPos, YPos
from PIL import Image, ImageDraw
from qrcode.exceptions import DataOverflowError

from backend.certificates import wording
from backend.certificates.fonts import face, pil_font

# A certificate's verify URL (compact JWS claims, see service.signed_claims: one serial range, or the span of
# many) is ~420–440 bytes from a 26-character base URL: QR version 16 at error correction M, which holds 450. A
# longer PUBLIC_BASE_URL costs versions; 22-M (779 bytes) still scans from a phone screen or a 55 mm print. Past
# that, refuse rather than print a QR nobody can scan.
MAX_QR_VERSION = 22
QUIET_ZONE = 4  # modules of white around the symbol, as ISO/IEC 18004 asks

# What a purpose's reference is (DESIGN.md §5: duty year, event, case number).
REFERENCE_LABELS = {"judicial": "案号", "tree_duty": "尽责年度", "event": "活动"}

TITLE = "碳汇注销证书"
TITLE_EN = "Carbon Credit Retirement Certificate"
SCAN_CAPTION = "扫码验证 · Scan to verify"
REVOKED_MARK, REVOKED_MARK_EN = "已撤销", "REVOKED"


# --- wording (the rest is shared with the verify page, in wording.py) -----------------------------------

def reference_label(purpose: str) -> str:
    return REFERENCE_LABELS.get(purpose, "用途说明")


def verify_address(url: str) -> str:
    """The verify page without its JWS query: short enough to print and type."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def jwks_address(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/.well-known/jwks.json", "", ""))


# --- QR --------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)  # the card and the PDF of one certificate share a symbol (~11 kB each)
def qr_symbol(url: str) -> tuple[int, tuple[bytes, ...]]:
    """(version, rows of modules, 1 = dark) of the URL's QR at error correction M; ValueError if too dense."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(url)
    try:
        version = code.best_fit()
    except (DataOverflowError, ValueError):  # qrcode 8 says "Invalid version (was 41 ...)" for too much data
        version = 41
    if version > MAX_QR_VERSION:
        raise ValueError(f"验证链接太长，无法生成可扫描的二维码 (the verify URL is {len(url.encode())} bytes: at "
                         f"error correction M it needs QR version {version if version <= 40 else '> 40'}, "
                         f"more than the {MAX_QR_VERSION} allowed)")
    code.make(fit=False)
    return version, tuple(bytes(1 if dark else 0 for dark in row) for row in code.modules)


_DARK_TO_BLACK = bytes([255, 0]) + bytes(254)  # module 0 (light) → white, 1 (dark) → black


def _qr_image(url: str, box_size: int) -> Image.Image:
    """The symbol with its quiet zone, ``box_size`` pixels per module, black on white (1-bit)."""
    _version, modules = qr_symbol(url)
    side = len(modules)
    symbol = Image.frombytes("L", (side, side), b"".join(modules).translate(_DARK_TO_BLACK))
    framed = Image.new("L", (side + 2 * QUIET_ZONE,) * 2, 255)
    framed.paste(symbol, (QUIET_ZONE, QUIET_ZONE))
    return framed.resize((framed.width * box_size,) * 2, Image.Resampling.NEAREST).convert("1")


def qr_png(url: str, *, box_size: int = 8) -> bytes:
    """A PNG of the URL's QR code (error correction M, version ≤ MAX_QR_VERSION)."""
    if box_size < 1:
        raise ValueError(f"box_size must be at least 1 pixel, not {box_size}")
    return _png(_qr_image(url, box_size))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --- the facts both formats print --------------------------------------------------------------------------

def card_facts(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines of the share card, in reading order."""
    payload = card["payload"]
    facts = [("项目", payload["project"]["name"]),
             ("批次", f"{payload['batch']['code']} · {payload['batch']['vintage']} 年度"),
             ("用途", wording.purpose_chinese(payload["purpose"]))]
    if payload.get("purpose_ref"):
        facts.append((reference_label(payload["purpose"]), payload["purpose_ref"]))
    facts += [("受益人", payload["beneficiary"]["masked"]),
              ("注销日期", wording.beijing_date(payload["retired_at"])),
              ("证书编号", card["number"])]
    return facts


def _is_revoked(card: dict[str, Any]) -> bool:
    return card.get("status") == "revoked"


# --- share card (PNG) ------------------------------------------------------------------------------------------

CARD_SIZE = (750, 1334)  # the usual WeChat share-poster size
GREEN, PALE_GREEN, WHITE = (28, 94, 62), (236, 244, 236), (255, 255, 255)
INK, GREY, LINE, RED = (33, 33, 33), (118, 118, 118), (222, 228, 222), (204, 32, 32)
_PANEL = (30, 206, 720, 1304)  # left, top, right, bottom of the white panel
_LABEL_X, _VALUE_X, _TEXT_RIGHT = 70, 196, 690
_MIN_QR_SYMBOL_PX, _MAX_QR_PX = 400, 560


def share_card_png(card: dict[str, Any], url: str, *, font_path: str | None = None) -> bytes:
    """A portrait share card for WeChat: the title, what was retired for whom, and a QR that opens the verify page."""
    payload = card["payload"]
    image = Image.new("RGB", CARD_SIZE, PALE_GREEN)
    draw = ImageDraw.Draw(image)

    def font(size: int):
        return pil_font(size, font_path)

    draw.rectangle((0, 0, CARD_SIZE[0], 186), fill=GREEN)
    middle = CARD_SIZE[0] // 2
    draw.text((middle, 26), "碳汇+", font=font(34), fill=WHITE, anchor="mt", stroke_width=1, stroke_fill=WHITE)
    draw.text((middle, 72), TITLE, font=font(50), fill=WHITE, anchor="mt", stroke_width=1, stroke_fill=WHITE)
    draw.text((middle, 140), TITLE_EN, font=font(22), fill=(208, 232, 214), anchor="mt")
    draw.rounded_rectangle(_PANEL, radius=24, fill=WHITE)

    draw.text((middle, 234), wording.quantity_text(payload["quantity_g"]), font=font(64), fill=GREEN, anchor="mt",
              stroke_width=1, stroke_fill=GREEN)
    draw.text((middle, 318), "二氧化碳当量 (CO2e)", font=font(22), fill=GREY, anchor="mt")
    draw.line((_LABEL_X, 362, _TEXT_RIGHT, 362), fill=LINE, width=2)

    y = 380
    label_font, value_font = font(24), font(24)
    for label, value in card_facts(card):
        draw.text((_LABEL_X, y), label, font=label_font, fill=GREY)
        for line in _wrap(value, value_font, _TEXT_RIGHT - _VALUE_X, max_lines=2):
            draw.text((_VALUE_X, y), line, font=value_font, fill=INK)
            y += 34
        y += 8
    facts_end = y

    # The QR takes what room is left, in whole pixels per module so every module is sharp.
    caption_height = 44
    modules = len(qr_symbol(url)[1]) + 2 * QUIET_ZONE
    space = _PANEL[3] - 24 - caption_height - facts_end
    room = min(space, _MAX_QR_PX)
    box = max(1, room // modules)
    if (modules - 2 * QUIET_ZONE) * box < _MIN_QR_SYMBOL_PX:
        raise ValueError(f"the QR (version {qr_symbol(url)[0]}) cannot be drawn {_MIN_QR_SYMBOL_PX} px wide on the "
                         f"card: only {room} px are left")
    qr = _qr_image(url, box)
    qr_top = facts_end + (space - qr.height) // 2
    image.paste(qr, (middle - qr.width // 2, qr_top))
    draw.text((middle, qr_top + qr.height + 2), SCAN_CAPTION, font=font(24), fill=GREY, anchor="mt")

    if _is_revoked(card):
        _stamp_revoked(image, card, centre=(middle, (380 + facts_end) // 2), font_path=font_path)
    return _png(image)


def _wrap(text: str, font, width: int, *, max_lines: int) -> list[str]:
    """Break anywhere (Chinese has no spaces to break at); an ellipsis ends text that would run past max_lines."""
    lines, line = [], ""
    for character in text:
        if line and font.getlength(line + character) > width:
            lines.append(line)
            line = character
        else:
            line += character
    lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines = lines[:max_lines - 1] + [last + "…"]
    return lines


def _stamp_revoked(image: Image.Image, card: dict[str, Any], *, centre: tuple[int, int],
                   font_path: str | None) -> None:
    """A red rubber stamp across the facts; the QR stays clear so the verify page can say why."""
    stamp = Image.new("RGBA", (460, 250), (0, 0, 0, 0))
    draw = ImageDraw.Draw(stamp)
    red = (*RED, 225)
    draw.rounded_rectangle((6, 6, 454, 244), radius=22, outline=red, width=8)
    draw.text((230, 26), REVOKED_MARK, font=pil_font(92, font_path), fill=red, anchor="mt", stroke_width=2,
              stroke_fill=red)
    draw.text((230, 136), REVOKED_MARK_EN, font=pil_font(40, font_path), fill=red, anchor="mt", stroke_width=1,
              stroke_fill=red)
    revoked_at = (card.get("revocation") or {}).get("revoked_at")
    if revoked_at:
        draw.text((230, 198), f"撤销于 {wording.beijing_date(revoked_at)}", font=pil_font(22, font_path), fill=red,
                  anchor="mt")
    turned = stamp.rotate(12, resample=Image.Resampling.BICUBIC, expand=True)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    layer.paste(turned, (centre[0] - turned.width // 2, centre[1] - turned.height // 2))
    image.paste(Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB"))


# --- A4 document (PDF) -----------------------------------------------------------------------------------------

_MARGIN, _PAGE_WIDTH, _PAGE_HEIGHT = 50, 595.28, 841.89
_CONTENT_WIDTH = _PAGE_WIDTH - 2 * _MARGIN
_QR_PT = 165  # about 58 mm: a module is 0.5 mm even at version 22, well within what phone cameras read
_STATEMENT = ("兹证明：下列碳汇已在碳汇+登记簿中注销，专用于下述用途，不得再转让或重复使用。",
              "This certifies that the carbon credits below have been retired in the 碳汇+ registry for the purpose "
              "stated, and cannot be transferred or used again.")
_REVOKED_STATEMENT = ("本证书已撤销，不再证明下列注销；撤销原因见“状态”一栏。",
                      "This certificate has been revoked and no longer vouches for the retirement below; the "
                      "reason is given under Status.")
_PDF_GREEN, _PDF_GREY, _PDF_INK, _PDF_RED = (28, 94, 62), (110, 110, 110), (25, 25, 25), (204, 32, 32)


def certificate_pdf(card: dict[str, Any], url: str, *, font_path: str | None = None,
                    name_proof: tuple[str, str] | None = None) -> bytes:
    """An A4 page for courts and organisers: every fact of the certificate as real (searchable) Chinese text, the
    digest, key and signature needed to check it offline, and the QR. The font is embedded as a subset, so it
    reads the same on a machine without Chinese fonts. ``name_proof`` (full name, salt) makes the buyer's own copy,
    which opens the name commitment: never served publicly, never cached."""
    payload = card["payload"]
    chosen = face(font_path)
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=_MARGIN)
    # Fixed dates and metadata from the card itself: the same card gives the same bytes (stable ETags).
    revoked_at = (card.get("revocation") or {}).get("revoked_at") if _is_revoked(card) else None
    pdf.set_creation_date(datetime.fromisoformat(revoked_at or payload["retired_at"]))
    pdf.set_title(f"{TITLE} {card['number']}")
    pdf.set_author(payload["issuer"])
    pdf.set_subject(TITLE_EN)
    pdf.set_creator("碳汇+ (Carbon Sink Plus)")
    pdf.set_lang("zh-CN")
    pdf.add_font("cjk", fname=chosen.path, collection_font_number=chosen.index)
    pdf.add_page()

    pdf.set_font("cjk", size=10)
    pdf.set_text_color(*_PDF_GREEN)
    pdf.cell(_CONTENT_WIDTH / 2, 14, payload["issuer"])
    pdf.set_text_color(*_PDF_INK)
    pdf.cell(_CONTENT_WIDTH / 2, 14, f"证书编号 No. {card['number']}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(14)
    with pdf.local_context(text_mode="FILL_STROKE", line_width=0.5, draw_color=_PDF_INK):
        pdf.set_font("cjk", size=28)
        pdf.cell(_CONTENT_WIDTH, 36, TITLE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=12)
    pdf.set_text_color(*_PDF_GREY)
    pdf.cell(_CONTENT_WIDTH, 18, TITLE_EN, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*_PDF_GREEN)
    pdf.set_line_width(1.2)
    pdf.line(_MARGIN, pdf.get_y() + 8, _PAGE_WIDTH - _MARGIN, pdf.get_y() + 8)
    pdf.ln(20)

    pdf.set_text_color(*_PDF_INK)
    pdf.set_font("cjk", size=10.5)
    statement, statement_en = _REVOKED_STATEMENT if _is_revoked(card) else _STATEMENT
    pdf.multi_cell(_CONTENT_WIDTH, 16, statement, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=9)
    pdf.set_text_color(*_PDF_GREY)
    pdf.multi_cell(_CONTENT_WIDTH, 13, statement_en, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)

    pdf.set_text_color(*_PDF_INK)
    pdf.set_font("cjk", size=9.5)
    pdf.set_draw_color(200, 208, 200)
    pdf.set_line_width(0.5)
    with pdf.table(col_widths=(150, _CONTENT_WIDTH - 150), width=_CONTENT_WIDTH, first_row_as_headings=False,
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES, text_align="LEFT", line_height=13,
                   padding=(4, 4)) as table:
        for label, value in _document_facts(card, url, name_proof):
            row = table.row()
            row.cell(label)
            row.cell(value)

    _qr_block(pdf, card, url)
    if _is_revoked(card):
        _pdf_stamp_revoked(pdf)
    return bytes(pdf.output())


def _document_facts(card: dict[str, Any], url: str,
                    name_proof: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    payload = card["payload"]
    grams = payload["quantity_g"]
    status = "有效 Valid"
    if _is_revoked(card):
        revocation = card.get("revocation") or {}
        status = "已撤销 Revoked"
        if revocation.get("revoked_at"):
            status += f"，撤销于 {wording.beijing_date(revocation['revoked_at'])}"
        if revocation.get("reason"):
            status += f"；原因：{revocation['reason']}"
    facts = [
        ("证书编号 Certificate No.", card["number"]),
        ("状态 Status", status),
        ("注销量 Quantity", f"{wording.quantity_text(grams)} 二氧化碳当量（{grams:,} 克 CO2e）"),
        ("项目 Project", f"{payload['project']['name']}（项目编号 {payload['project']['id']}）"),
        ("批次 Batch", f"{payload['batch']['code']}（年度 Vintage {payload['batch']['vintage']}）"),
        # A space after each range lets a line break between ranges rather than inside a number.
        ("序列号 Serial numbers", "； ".join(wording.serials_text([each]) for each in payload["serials"])
         + "（每个序号为 1 克 one serial = 1 g）"),
        ("用途 Purpose", wording.purpose_text(payload["purpose"])),
    ]
    if payload.get("purpose_ref"):
        facts.append((f"{reference_label(payload['purpose'])} Reference", payload["purpose_ref"]))
    facts += [
        ("受益人 Beneficiary", payload["beneficiary"]["masked"]),
        ("姓名承诺 Name commitment", payload["beneficiary"]["commitment"]
         + "（SHA-256(盐:全名)，受益人凭盐与全名可证明 salted hash of the full name）"),
    ]
    if name_proof is not None:
        full_name, salt = name_proof
        facts += [("受益人全名 Full name（仅本人副本 own copy only）", full_name),
                  ("盐 Salt", f"{salt}（SHA-256(“{salt}:{full_name}”) 等于上方姓名承诺 equals the commitment above）")]
    facts += [
        ("注销时间 Retired at", f"{wording.beijing_time(payload['retired_at'])} · {payload['retired_at']}"),
        ("签发机构 Issuer", payload["issuer"]),
        ("载荷摘要 Payload SHA-256", card["payload_sha256"]),
        ("签名密钥 Signing key (kid)", card["kid"]),
        ("验证页 Verify at", verify_address(url)),
    ]
    return facts


def _qr_block(pdf: FPDF, card: dict[str, Any], url: str) -> None:
    """The QR at the foot of the page, with what an offline checker needs beside it."""
    top = max(pdf.get_y() + 14, _PAGE_HEIGHT - _MARGIN - _QR_PT - 10)
    if top + _QR_PT > _PAGE_HEIGHT - _MARGIN:  # the facts ran long: the QR goes on a page of its own
        pdf.add_page()
        top = _MARGIN
    _draw_qr(pdf, url, x=_MARGIN, y=top, size=_QR_PT)
    text_x = _MARGIN + _QR_PT + 14
    text_width = _PAGE_WIDTH - _MARGIN - text_x
    pdf.set_xy(text_x, top + 6)
    pdf.set_font("cjk", size=12)
    pdf.set_text_color(*_PDF_INK)
    pdf.cell(text_width, 16, SCAN_CAPTION, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=8)
    pdf.set_text_color(*_PDF_GREY)
    pdf.multi_cell(text_width, 11, f"二维码含签名 (JWS, Ed25519)，可用公开密钥 {jwks_address(url)} 离线核验。"
                   "真伪以验证页为准。The QR carries the signed certificate: check it offline with the published "
                   "keys; the verify page is authoritative. 签名 JWS:",
                   new_x=XPos.LEFT, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR)
    pdf.set_font("cjk", size=6)
    pdf.multi_cell(text_width, 8, card["jws"], new_x=XPos.LEFT, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR)


def _draw_qr(pdf: FPDF, url: str, *, x: float, y: float, size: float) -> None:
    """Vector modules (one rectangle per run of dark modules in a row): sharp at any print resolution."""
    _version, modules = qr_symbol(url)
    module = size / (len(modules) + 2 * QUIET_ZONE)
    origin_x, origin_y = x + QUIET_ZONE * module, y + QUIET_ZONE * module
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(modules):
        run_start = None
        for column, dark in enumerate((*row, 0)):
            if dark and run_start is None:
                run_start = column
            elif not dark and run_start is not None:
                pdf.rect(origin_x + run_start * module, origin_y + row_index * module,
                         (column - run_start) * module, module, style="F")
                run_start = None


def _pdf_stamp_revoked(pdf: FPDF) -> None:
    pdf.page = 1  # across the facts, even if the QR went on to a page of its own
    centre_x, centre_y = _PAGE_WIDTH / 2, 360
    with pdf.local_context(fill_opacity=0.8, stroke_opacity=0.8), pdf.rotation(15, centre_x, centre_y):
        pdf.set_draw_color(*_PDF_RED)
        pdf.set_text_color(*_PDF_RED)
        pdf.set_line_width(4)
        pdf.rect(centre_x - 130, centre_y - 58, 260, 116, round_corners=True, corner_radius=12)
        pdf.set_font("cjk", size=54)
        pdf.set_xy(centre_x - 130, centre_y - 50)
        pdf.cell(260, 62, REVOKED_MARK, align="C")
        pdf.set_font("cjk", size=22)
        pdf.set_xy(centre_x - 130, centre_y + 14)
        pdf.cell(260, 30, REVOKED_MARK_EN, align="C")
