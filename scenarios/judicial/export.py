"""What a court takes out of the system: its cases as a CSV file, and a payer's 小程序码 to print. The JSON API
(token) and the /org/ pages (session) answer with the same bytes; each scopes the case itself before calling here.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, make_response

from backend import wechat

CSV_COLUMNS = ("id", "case_no", "cause", "status", "required_g", "required_fen", "paid_g", "paid_fen", "deadline",
               "overdue", "created_at")
CLAIM_PAGE = "pages/judicial/claim"  # the mini-program page a payer's 小程序码 opens (scene c=<claim code>)


def cases_csv(rows: list[dict[str, Any]]) -> Response:
    """Case summaries (service.summary_view) as CSV, UTF-8 with BOM so that Excel opens the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
    response = make_response("\ufeff" + buffer.getvalue())
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = 'attachment; filename="cases.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _cell(value: Any) -> str:
    """No cell starts a formula when a spreadsheet opens the file (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def claim_code_image(claim_code: str) -> Response:
    """A 小程序码 that opens the payer's claim in the mini-program (scene c=<claim code>), as WeChat made it."""
    image, mimetype = wechat.miniapp().mini_program_code(f"c={claim_code}", page=CLAIM_PAGE)
    response = make_response(image)
    response.mimetype = mimetype
    response.cache_control.private = True
    return response
