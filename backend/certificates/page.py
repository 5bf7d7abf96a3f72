"""The public verify page a certificate's QR opens: GET /v/<number>?jws=<compact JWS>.

Plain server-rendered HTML with inline CSS and no script, so it works in WeChat's in-app browser and on any
phone. It says first whether the certificate is genuine — the JWS from the QR checked against the published
keys and against the registry's record — then its status, facts and transparency-log proof.

A document (witness certificate, neutrality certificate …) shows what it states of itself — title, statement,
facts — and lists the retirements it vouches for, each linking to that certificate's own page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Blueprint, make_response, render_template, render_template_string

from backend import certificates
from backend.certificates import lookup, wording
from backend.certificates.api import NUMBER, CertificateQuery
from backend.certificates.verifier import Verdict, verify_token
from backend.errors import DomainError, NotFound
from backend.http import Route, anchored, register

bp = Blueprint("verify_page", __name__, template_folder="templates")


@dataclass(frozen=True)
class Banner:
    css: str
    mark: str
    why: str


def banner(record: dict, url_jws: str | None) -> Banner:
    if url_jws:
        verdict = verify_token(url_jws, certificates.key_ring().jwks(), record=record)
    else:
        verdict = Verdict(**record["record_check"])
    if not verdict.genuine:
        return Banner("invalid", "✗ 验证失败 Not genuine", verdict.reason)
    if record["status"] == "revoked":
        return Banner("revoked", "⚠ 证书已撤销 Revoked", record["revocation"]["reason"])
    why = verdict.reason if url_jws else ("登记记录签名有效（未随附二维码签名）"
                                         "(the registry's record is signed; no QR JWS given)")
    return Banner("genuine", "✓ 真实有效 Genuine", why)


def verify_page(number: str, query: CertificateQuery):
    """Genuine or not, first; then status, facts and the checked log proof. Its errors are pages too (a bad or
    over-long jws: 400; an unknown number: 404)."""
    if not NUMBER.fullmatch(number):
        raise NotFound("证书不存在 (no such certificate)")
    record = lookup.certificate_record(number)
    payload, proof = record["payload"], record["log_proof"]
    shown = _document(payload) if wording.is_document(payload) else _retirement(payload)
    html = render_template(
        "verify.html", record=record, payload=payload, proof=proof, verdict=banner(record, query.jws),
        quantity=wording.quantity_text(payload["quantity_g"]), purpose=wording.purpose_text(payload["purpose"]),
        revoked_at=wording.beijing_time(record["revocation"]["revoked_at"]) if record["revocation"] else "",
        sth_time=_sth_time(proof), api=f"/api/v1/certificates/{number}", **shown)
    return _page(html)


def _retirement(payload: dict) -> dict:
    return {"document": None, "serials": wording.serials_text(payload["serials"]),
            "retired_at": wording.beijing_time(payload["retired_at"])}


def _document(payload: dict) -> dict:
    """What a document states, ready to show; an item links to its certificate's page only if its number is
    one (the payload is ours and signed, but a link is built from it, so it is checked all the same)."""
    items = [{"number": item["certificate_no"],
              "href": f"/v/{item['certificate_no']}" if NUMBER.fullmatch(str(item["certificate_no"])) else None,
              "quantity": wording.quantity_text(item["quantity_g"]), "project": item["project"]["name"],
              "batch": f"{item['batch']['code']} · {item['batch']['vintage']}",
              "serials": wording.serials_text(item["serials"]),
              "retired_at": wording.beijing_time(item["retired_at"]) if item.get("retired_at") else ""}
             for item in payload.get("items") or []]
    return {"document": {"title": payload["title"], "title_en": payload["title_en"],
                         "statement": payload["statement"], "statement_en": payload["statement_en"],
                         "facts": [(str(label), str(value)) for label, value in payload["facts"]], "retirements": items,
                         "issued_at": wording.beijing_time(payload["issued_at"])}}


def _page(html: str, status: int = 200):
    response = make_response(html, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"  # revocation must show at once; Redis does the caching
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the JWS in the URL is not a secret, but nobody's business
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                                                  "base-uri 'none'; frame-ancestors 'none'")
    return response


def _sth_time(proof: dict | None) -> str:
    if not proof or proof["status"] != "included":
        return ""
    moment = datetime.fromtimestamp(proof["sth"]["timestamp"] / 1000, tz=timezone.utc)
    return wording.beijing_time(moment.isoformat())


PROBLEM = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>碳汇+ 证书验证</title></head>
<body style="font:16px/1.6 sans-serif;max-width:560px;margin:40px auto;padding:0 16px">
<h1 style="font-size:20px">碳汇+ 证书验证</h1><p>{{ message }}</p></body></html>"""


@bp.errorhandler(DomainError)
def problem(error: DomainError):
    """People scanning a QR get a page, not JSON: the same status and message."""
    response = _page(render_template_string(PROBLEM, message=error.message), error.status)
    if (retry_after := getattr(error, "retry_after", None)) is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


register(bp, [Route("GET", "/v/<number>", verify_page, "The certificate's public verify page (HTML, no script)",
                    query=CertificateQuery, media_type="text/html", rate_limit=("verify", None),
                    params={"number": anchored(NUMBER)}, tags=("public",), errors=(503,))])
