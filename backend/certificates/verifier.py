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

# What a certificate's JWS signs, each taken from the certificate's payload (see service.certifier).
SIGNED_FROM_PAYLOAD = ("number", "quantity_g", "serials", "retired_at", "purpose")


@dataclass(frozen=True)
class Verdict:
    genuine: bool
    reason: str
    claims: dict[str, Any] | None = None
    kid: str | None = None


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
    if not isinstance(claims, dict) or not isinstance(claims.get("number"), str):
        return Verdict(False, "签名内容缺少证书编号 (the signed payload names no certificate)", kid=header.get("kid"))
    kid = header.get("kid")
    if record is None:
        return Verdict(True, "签名有效 (signature valid)", claims, kid)
    if claims["number"] != record["number"]:
        return Verdict(False, f"二维码属于另一张证书 {claims['number']} (the QR is certificate {claims['number']}'s, "
                       f"not {record['number']}'s)", claims, kid)
    expected = {field: record["payload"].get(field) for field in SIGNED_FROM_PAYLOAD}
    expected["batch"] = record["payload"].get("batch", {}).get("code")
    expected["payload_sha256"] = record["payload_sha256"]
    differing = sorted(field for field, value in expected.items() if claims.get(field) != value)
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
    number = parts.path.rstrip("/").rsplit("/", 1)[-1] or None
    found = parse_qs(parts.query).get("jws")
    return number, found[0] if found else ""
