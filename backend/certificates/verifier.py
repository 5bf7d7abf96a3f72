"""Is this certificate JWS genuine? The one answer the verify page, the JSON API and the offline CLI all give.

Pure: a compact JWS, the published JWKS and, when a server is at hand, the registry's record. Every "no" says
why, in Chinese with English alongside, so a citizen and a court clerk read the same reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from backend.certificates import keys
from backend.certificates.service import signed_claims

# "t" keeps one name for both: a retirement's time, or when a document ("k", its kind) was issued.
CLAIM_NAMES = {"n": "number", "q": "quantity_g", "b": "batch", "s": "serials", "t": "retired_at", "p": "purpose",
               "h": "payload_sha256", "r": "serial_range_count", "k": "kind"}


@dataclass(frozen=True)
class Verdict:
    genuine: bool
    reason: str
    claims: dict[str, Any] | None = None
    kid: str | None = None


def claims_view(claims: dict[str, Any]) -> dict[str, Any]:
    """The signed claims under their long names, for people and logs."""
    return {CLAIM_NAMES.get(name, name): value for name, value in claims.items()}


def verify_token(token: str, jwks: dict[str, Any], *, record: dict[str, Any] | None = None) -> Verdict:
    """Check the signature with the JWKS; with ``record`` (a certificate's public view) also that the JWS is that
    certificate's, so a genuine JWS lifted from another certificate is refused."""
    try:
        header, payload = keys.verify(token, jwks)
    except ValueError as error:
        return Verdict(False, _why(str(error)))
    try:
        claims = json.loads(payload)
    except ValueError:
        return Verdict(False, "签名内容不是 JSON (the signed payload is not JSON)", kid=header.get("kid"))
    if not isinstance(claims, dict) or not isinstance(claims.get("n"), str):
        return Verdict(False, "签名内容缺少证书编号 (the signed payload names no certificate)", kid=header.get("kid"))
    kid = header.get("kid")
    if record is None:
        return Verdict(True, "签名有效 (signature valid)", claims, kid)
    if claims["n"] != record["number"]:
        return Verdict(False, f"二维码属于另一张证书 {claims['n']} (the QR is certificate {claims['n']}'s, "
                       f"not {record['number']}'s)", claims, kid)
    expected = signed_claims(record["payload"], record["payload_sha256"])
    differing = sorted(CLAIM_NAMES.get(name, name) for name in set(expected) | set(claims)
                       if claims.get(name) != expected.get(name))
    if differing:
        return Verdict(False, f"二维码内容与登记记录不符：{', '.join(differing)} (the QR does not match the "
                       "registry's record)", claims, kid)
    return Verdict(True, "签名有效，且与登记记录一致 (signature valid and matches the registry's record)", claims, kid)


def _why(problem: str) -> str:
    if problem.startswith("unknown kid"):
        return f"未知的签名密钥 (unknown signing key): {problem}"
    if problem.startswith("bad signature"):
        return "签名无效，内容可能被篡改 (bad signature: the content was altered)"
    if problem.startswith("unexpected alg"):
        return f"签名算法不对 (wrong algorithm): {problem}"
    return f"不是有效的证书签名 (not a certificate JWS): {problem}"


def split_verify_url(text: str) -> tuple[str | None, str]:
    """What a certificate QR holds — ``<base>/v/<number>?jws=<JWS>`` — as (number, JWS); a bare JWS as (None, it)."""
    text = text.strip()
    if "://" not in text:
        return None, text
    parts = urlsplit(text)
    head, _, last = parts.path.rstrip("/").rpartition("/")
    number = last if head.endswith("/v") and last else None  # only a /v/<number> path names a certificate
    found = parse_qs(parts.query).get("jws")
    return number, found[0] if found else ""
