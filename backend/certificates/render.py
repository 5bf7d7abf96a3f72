"""A certificate as pictures and paper: its QR code, a WeChat share card (PNG) and an A4 document (PDF).

Pure functions of the certificate's public view (``service.public_view``) and its verify URL
(``<public base URL>/v/<number>?jws=<compact JWS>``): no Flask, no database. The same card gives the same bytes,
so a response's ETag can be a hash of them.

A retirement's certificate is laid out from its payload's fixed fields. A scenario's document (witness
certificate, neutrality certificate, tree-duty voucher …, see service.issue_document) is laid out from what it
says of itself — ``title``, ``title_en``, ``statement``, ``statement_en``, ``facts``, ``items`` — never from its
kind, so a new kind of document needs no code here.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import re
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import qrcode
from fpdf import FPDF
from fpdf.enums import TableBordersLayout, WrapMode, XPos, YPos
from fpdf.fonts import FontFace
from PIL import Image, ImageDraw
from qrcode.exceptions import DataOverflowError

from backend.certificates import wording
from backend.certificates import fonts
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


def titles(card: dict[str, Any]) -> tuple[str, str]:
    """(Chinese, English) title: a document names itself; a retirement's certificate is TITLE."""
    payload = card["payload"]
    if wording.is_document(payload):
        return payload["title"], payload["title_en"]
    return TITLE, TITLE_EN


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
    """(label, value) lines of the share card, in reading order. A document's own facts come first, under the
    Chinese part of their labels (the card is read in Chinese, like a retirement's); the card draws as many of
    them as fit above the QR, then always the date and number (``_CLOSING_FACTS`` of them)."""
    payload = card["payload"]
    if wording.is_document(payload):
        return [(_chinese_label(label), str(value)) for label, value in payload["facts"]] + [
            ("签发日期", wording.beijing_date(payload["issued_at"])), ("证书编号", card["number"])]
    facts = [("项目", payload["project"]["name"]),
             ("批次", f"{payload['batch']['code']} · {payload['batch']['vintage']} 年度"),
             ("用途", wording.purpose_chinese(payload["purpose"]))]
    if payload.get("purpose_ref"):
        facts.append((reference_label(payload["purpose"]), payload["purpose_ref"]))
    facts += [("受益人", payload["beneficiary"]["masked"]),
              ("注销日期", wording.beijing_date(payload["retired_at"])),
              ("证书编号", card["number"])]
    return facts


_CLOSING_FACTS = 2  # a document card's date and number, which are never left out
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _chinese_label(label: str) -> str:
    """"案号 Case No." → "案号": the part before the first space, when it is Chinese."""
    head = label.split(" ", 1)[0]
    return head if _HAN.search(head) else label


def _is_revoked(card: dict[str, Any]) -> bool:
    return card.get("status") == "revoked"


# --- share card (PNG) ------------------------------------------------------------------------------------------

CARD_SIZE = (750, 1334)  # the usual WeChat share-poster size
GREEN, PALE_GREEN, WHITE = (28, 94, 62), (236, 244, 236), (255, 255, 255)
INK, GREY, LINE, RED = (33, 33, 33), (118, 118, 118), (222, 228, 222), (204, 32, 32)
_PANEL = (30, 206, 720, 1304)  # left, top, right, bottom of the white panel
_LABEL_X, _VALUE_X, _MAX_VALUE_X, _TEXT_RIGHT = 70, 196, 300, 690
_TITLE_WIDTH, _FACTS_TOP = 690, 380
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
    title, title_en = titles(card)
    draw.text((middle, 26), "碳汇+", font=font(34), fill=WHITE, anchor="mt", stroke_width=1, stroke_fill=WHITE)
    draw.text((middle, 72), title, font=_fitting_font(title, 50, _TITLE_WIDTH, font), fill=WHITE, anchor="mt",
              stroke_width=1, stroke_fill=WHITE)
    draw.text((middle, 140), title_en, font=_fitting_font(title_en, 22, _TITLE_WIDTH, font), fill=(208, 232, 214),
              anchor="mt")
    draw.rounded_rectangle(_PANEL, radius=24, fill=WHITE)

    draw.text((middle, 234), wording.quantity_text(payload["quantity_g"]), font=font(64), fill=GREEN, anchor="mt",
              stroke_width=1, stroke_fill=GREEN)
    draw.text((middle, 318), "二氧化碳当量 (CO2e)", font=font(22), fill=GREY, anchor="mt")
    draw.line((_LABEL_X, 362, _TEXT_RIGHT, 362), fill=LINE, width=2)

    y = _FACTS_TOP
    label_font, value_font = font(24), font(24)
    facts = card_facts(card)
    # Labels wider than a retirement's (a document's own) push the values right, up to a limit.
    widest = max(label_font.getlength(label) for label, _value in facts)
    value_x = min(max(_VALUE_X, int(_LABEL_X + widest + 18)), _MAX_VALUE_X)
    caption_height = 44
    modules = len(qr_symbol(url)[1]) + 2 * QUIET_ZONE
    lines = [(label, _wrap(value, value_font, _TEXT_RIGHT - value_x, max_lines=2)) for label, value in facts]
    if wording.is_document(payload):
        lines = _fitting_facts(lines, room=_PANEL[3] - 24 - caption_height - _qr_room(modules) - _FACTS_TOP)
    for label, wrapped in lines:
        draw.text((_LABEL_X, y), _wrap(label, label_font, value_x - _LABEL_X - 12, max_lines=1)[0],
                  font=label_font, fill=GREY)
        for line in wrapped:
            draw.text((value_x, y), line, font=value_font, fill=INK)
            y += 34
        y += 8
    facts_end = y

    # The QR takes what room is left, in whole pixels per module so every module is sharp.
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
        _stamp_revoked(image, card, centre=(middle, (_FACTS_TOP + facts_end) // 2), font_path=font_path)
    return _png(image)


def _fitting_font(text: str, size: int, width: int, font):
    """The font at ``size``, or smaller until ``text`` fits ``width``: a document's title may be long."""
    while size > 12 and font(size).getlength(text) > width:
        size -= 1
    return font(size)


def _qr_room(modules: int) -> int:
    """Pixels the smallest scannable QR of ``modules`` (quiet zone included) needs, in whole pixels per module."""
    return modules * -(-_MIN_QR_SYMBOL_PX // (modules - 2 * QUIET_ZONE))


def _fitting_facts(lines: list[tuple[str, list[str]]], *, room: int) -> list[tuple[str, list[str]]]:
    """A document's first facts, as many as fit in ``room`` pixels, then its closing facts (date, number),
    which always do: the QR must stay scannable, and the verify page and PDF show every fact."""
    def height(wrapped: list[str]) -> int:
        return 34 * len(wrapped) + 8

    leading, closing = lines[:-_CLOSING_FACTS], lines[-_CLOSING_FACTS:]
    left = room - sum(height(wrapped) for _label, wrapped in closing)
    shown = []
    for label, wrapped in leading:
        if height(wrapped) > left:
            break
        shown.append((label, wrapped))
        left -= height(wrapped)
    return shown + closing


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
_REVOKED_DOCUMENT_STATEMENT = ("本文件已撤销，不再证明下列事项；撤销原因见“状态”一栏。",
                               "This document has been revoked and no longer vouches for what is stated below; the "
                               "reason is given under Status.")
# One line of headings, and project and batch in one column so that a row is two lines: a few facts and up to
# three items leave room for the QR at the foot of page 1.
_ITEM_COLUMNS = (("证书编号 No.", 82), ("项目与批次 Project, batch · vintage", 190), ("序列号 Serials", 125),
                 ("数量 Quantity", _CONTENT_WIDTH - 397))
_PDF_GREEN, _PDF_GREY, _PDF_INK, _PDF_RED = (28, 94, 62), (110, 110, 110), (25, 25, 25), (204, 32, 32)


@functools.cache
def _drawn_text() -> str:
    """Every character this module and its wording could print besides a card's own: their source text."""
    return inspect.getsource(sys.modules[__name__]) + inspect.getsource(wording)


def font_for_many(cards: Iterable[dict[str, Any]], directory: Path) -> str:
    """A font file cut to what certificate_pdf can draw for these cards (fonts.subset_file), for drawing many."""
    chars = set(_drawn_text())
    for card in cards:
        chars.update(json.dumps(card, ensure_ascii=False))
    return fonts.subset_file("".join(chars), directory)


def certificate_pdf(card: dict[str, Any], url: str, *, font_path: str | None = None,
                    name_proof: tuple[str, str] | None = None) -> bytes:
    """An A4 page for courts and organisers: every fact of the certificate as real (searchable) Chinese text, the
    digest, key and signature needed to check it offline, and the QR. The font is embedded as a subset, so it
    reads the same on a machine without Chinese fonts. ``name_proof`` (full name, salt) makes the buyer's own copy,
    which opens the name commitment: never served publicly, never cached."""
    payload = card["payload"]
    title, title_en = titles(card)
    chosen = face(font_path)
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=_MARGIN)
    # Fixed dates and metadata from the card itself: the same card gives the same bytes (stable ETags).
    revoked_at = (card.get("revocation") or {}).get("revoked_at") if _is_revoked(card) else None
    pdf.set_creation_date(datetime.fromisoformat(revoked_at or wording.dated(payload)))
    pdf.set_title(f"{title} {card['number']}")
    pdf.set_author(payload["issuer"])
    pdf.set_subject(title_en)
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
        _fit_pdf_font(pdf, title, 28)
        pdf.cell(_CONTENT_WIDTH, 36, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _fit_pdf_font(pdf, title_en, 12)
    pdf.set_text_color(*_PDF_GREY)
    pdf.cell(_CONTENT_WIDTH, 18, title_en, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*_PDF_GREEN)
    pdf.set_line_width(1.2)
    pdf.line(_MARGIN, pdf.get_y() + 8, _PAGE_WIDTH - _MARGIN, pdf.get_y() + 8)
    pdf.ln(20)

    pdf.set_text_color(*_PDF_INK)
    pdf.set_font("cjk", size=10.5)
    statement, statement_en = _statement(card)
    pdf.multi_cell(_CONTENT_WIDTH, 16, statement, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=9)
    pdf.set_text_color(*_PDF_GREY)
    pdf.multi_cell(_CONTENT_WIDTH, 13, statement_en, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)

    pdf.set_text_color(*_PDF_INK)
    pdf.set_font("cjk", size=9.5)
    pdf.set_draw_color(200, 208, 200)
    pdf.set_line_width(0.5)
    if wording.is_document(payload):
        _facts_table(pdf, _stated_facts(card) + (_name_facts(payload, name_proof) if "beneficiary" in payload else []))
        if payload.get("items"):
            _items_table(pdf, payload["items"])
        _facts_table(pdf, _signature_facts(card, url), one_line_digest=True)
    else:
        _facts_table(pdf, _retirement_facts(card, name_proof) + _signature_facts(card, url))

    _qr_block(pdf, card, url)
    if _is_revoked(card):
        _pdf_stamp_revoked(pdf)
    return bytes(pdf.output())


def _fit_pdf_font(pdf: FPDF, text: str, size: float) -> None:
    """The cjk font at ``size``, or smaller until ``text`` fits the line: a document's title may be long."""
    pdf.set_font("cjk", size=size)
    while size > 8 and pdf.get_string_width(text) > _CONTENT_WIDTH:
        size -= 0.5
        pdf.set_font("cjk", size=size)


def _statement(card: dict[str, Any]) -> tuple[str, str]:
    """What the page certifies, in Chinese and English: a document's own words, or what revocation left of them."""
    document = wording.is_document(card["payload"])
    if _is_revoked(card):
        return _REVOKED_DOCUMENT_STATEMENT if document else _REVOKED_STATEMENT
    if document:
        return card["payload"]["statement"], card["payload"]["statement_en"]
    return _STATEMENT


_DIGEST_LABEL = "载荷摘要 Payload SHA-256"
# 64 hex digits at 9.5 pt may run 377 pt wide (all "d"), past the 337 pt of a value cell; at 8 pt never.
_ONE_LINE_DIGEST = FontFace(size_pt=8)


def _facts_table(pdf: FPDF, facts: list[tuple[str, str]], *, one_line_digest: bool = False) -> None:
    """Label, value rows. ``one_line_digest`` sets the digest small enough never to wrap (a document's; a
    retirement's keeps the layout its certificates were first drawn with)."""
    with pdf.table(col_widths=(150, _CONTENT_WIDTH - 150), width=_CONTENT_WIDTH, first_row_as_headings=False,
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES, text_align="LEFT", line_height=13,
                   padding=(4, 4)) as table:
        for label, value in facts:
            row = table.row()
            row.cell(label)
            if one_line_digest and label == _DIGEST_LABEL:
                row.cell(value, style=_ONE_LINE_DIGEST)
            else:
                row.cell(value)


def _items_table(pdf: FPDF, items: list[dict[str, Any]]) -> None:
    """The retirements a document vouches for, one row each, under a heading that repeats on a new page."""
    pdf.ln(6)
    pdf.set_font("cjk", size=10.5)
    pdf.set_text_color(*_PDF_GREEN)
    pdf.cell(_CONTENT_WIDTH, 16, f"所证明的注销 Retirements vouched for（{len(items)}）",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_PDF_INK)
    pdf.set_font("cjk", size=8)
    heading = FontFace(emphasis="", color=_PDF_GREY)
    with pdf.table(col_widths=[width for _name, width in _ITEM_COLUMNS], width=_CONTENT_WIDTH,
                   headings_style=heading, borders_layout=TableBordersLayout.HORIZONTAL_LINES,
                   text_align="LEFT", line_height=11, padding=(3, 3)) as table:
        header = table.row()
        for name, _width in _ITEM_COLUMNS:
            header.cell(name)
        for item in items:
            row = table.row()
            for text in (item["certificate_no"],
                         f"{item['project']['name']}\n{item['batch']['code']} · {item['batch']['vintage']}",
                         # A space after each range lets a line break between ranges rather than inside a number.
                         "； ".join(wording.serials_text([each]) for each in item["serials"]),
                         f"{wording.quantity_text(item['quantity_g'])}\n{item['quantity_g']:,} 克"):
                row.cell(text)
    pdf.ln(6)
    pdf.set_font("cjk", size=9.5)


def _status_text(card: dict[str, Any]) -> str:
    if not _is_revoked(card):
        return "有效 Valid"
    revocation = card.get("revocation") or {}
    status = "已撤销 Revoked"
    if revocation.get("revoked_at"):
        status += f"，撤销于 {wording.beijing_date(revocation['revoked_at'])}"
    if revocation.get("reason"):
        status += f"；原因：{revocation['reason']}"
    return status


def _quantity_fact(payload: dict[str, Any]) -> tuple[str, str]:
    grams = payload["quantity_g"]
    return "注销量 Quantity", f"{wording.quantity_text(grams)} 二氧化碳当量（{grams:,} 克 CO2e）"


def _stated_facts(card: dict[str, Any]) -> list[tuple[str, str]]:
    """A document's number, status and quantity, then the facts it states in its own words and order (its title
    and statement already say what it is for: no purpose row)."""
    payload = card["payload"]
    return [("证书编号 Certificate No.", card["number"]), ("状态 Status", _status_text(card)),
            _quantity_fact(payload), *((str(label), str(value)) for label, value in payload["facts"]),
            ("签发时间 Issued at", f"{wording.beijing_time(payload['issued_at'])} · {payload['issued_at']}"),
            ("签发机构 Issuer", payload["issuer"])]


def _signature_facts(card: dict[str, Any], url: str) -> list[tuple[str, str]]:
    """What an offline checker needs to find the key and the record."""
    return [(_DIGEST_LABEL, card["payload_sha256"]), ("签名密钥 Signing key (kid)", card["kid"]),
            ("验证页 Verify at", verify_address(url))]


def _name_facts(payload: dict[str, Any], name_proof: tuple[str, str] | None) -> list[tuple[str, str]]:
    """The commitment to the beneficiary's full name; in the beneficiary's own copy, its opening too."""
    facts = [("姓名承诺 Name commitment", payload["beneficiary"]["commitment"]
              + "（SHA-256(盐:全名)，受益人凭盐与全名可证明 salted hash of the full name）")]
    if name_proof is not None:
        full_name, salt = name_proof
        facts += [("受益人全名 Full name（仅本人副本 own copy only）", full_name),
                  ("盐 Salt", f"{salt}（SHA-256(“{salt}:{full_name}”) 等于上方姓名承诺 equals the commitment above）")]
    return facts


def _retirement_facts(card: dict[str, Any], name_proof: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    payload = card["payload"]
    facts = [
        ("证书编号 Certificate No.", card["number"]),
        ("状态 Status", _status_text(card)),
        _quantity_fact(payload),
        ("项目 Project", f"{payload['project']['name']}（项目编号 {payload['project']['id']}）"),
        ("批次 Batch", f"{payload['batch']['code']}（年度 Vintage {payload['batch']['vintage']}）"),
        # A space after each range lets a line break between ranges rather than inside a number.
        ("序列号 Serial numbers", "； ".join(wording.serials_text([each]) for each in payload["serials"])
         + "（每个序号为 1 克 one serial = 1 g）"),
        ("用途 Purpose", wording.purpose_text(payload["purpose"])),
    ]
    if payload.get("purpose_ref"):
        facts.append((f"{reference_label(payload['purpose'])} Reference", payload["purpose_ref"]))
    facts += [("受益人 Beneficiary", payload["beneficiary"]["masked"]), *_name_facts(payload, name_proof)]
    facts += [
        ("注销时间 Retired at", f"{wording.beijing_time(payload['retired_at'])} · {payload['retired_at']}"),
        ("签发机构 Issuer", payload["issuer"]),
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
