"""Certificate signing keys: what the JWKS publishes, and that anyone can check a signature with it alone.

Signatures are made by our code (joserfc); they are checked here by hand with ``cryptography``'s Ed25519, from
the published JWKS only, so the test does not trust the code it tests.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend import create_app
from backend.certificates import keys
from backend.settings import SettingsError
from tests.conftest import LIVE_WECHAT


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rfc7638_thumbprint(jwk: dict) -> str:
    """SHA-256 over the required members in lexicographic order, no whitespace (RFC 7638 §3, OKP per RFC 8037)."""
    members = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"),
                         sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def verify_by_hand(token: str, jwks: dict) -> dict:
    """Check a compact JWS the long way; return its payload, or raise saying why not."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "Ed25519", header
    jwk = next(key for key in jwks["keys"] if key["kid"] == header["kid"])
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    public.verify(b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode())
    return json.loads(b64url_decode(payload_b64))


def test_the_jwks_publishes_the_signing_key_under_its_thumbprint(app, client):
    jwks = client.get("/.well-known/jwks.json").get_json()
    [key] = jwks["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "Ed25519" and key["use"] == "sig"
    assert "d" not in key  # never the private half
    assert key["kid"] == rfc7638_thumbprint(key)[:16]  # a prefix: the JWS rides in a QR code


def test_a_signature_checks_out_with_the_published_key_alone(app, client):
    token = app.extensions["cert_keys"].sign(b'{"number":"TH2026-00000001","quantity_g":350000}')
    jwks = client.get("/.well-known/jwks.json").get_json()
    assert verify_by_hand(token, jwks) == {"number": "TH2026-00000001", "quantity_g": 350000}
    header, payload = keys.verify(token, jwks)
    assert header["kid"] == jwks["keys"][0]["kid"]


def test_a_changed_payload_or_an_unknown_key_is_refused(app, client):
    ring = app.extensions["cert_keys"]
    jwks = client.get("/.well-known/jwks.json").get_json()
    header, payload, signature = ring.sign(b'{"quantity_g":350000}').split(".")
    forged = ".".join([header, base64.urlsafe_b64encode(b'{"quantity_g":950000}').rstrip(b"=").decode(), signature])
    with pytest.raises(InvalidSignature):
        verify_by_hand(forged, jwks)
    with pytest.raises(ValueError, match="bad signature"):
        keys.verify(forged, jwks)
    with pytest.raises(ValueError, match="unknown kid"):
        keys.verify(ring.sign(b"{}"), {"keys": []})
    with pytest.raises(ValueError, match="not a compact JWS"):
        keys.verify("not.a-jws", jwks)


def test_rotation_keeps_old_certificates_valid_under_their_kid(tmp_path):
    signing, retired = str(tmp_path / "signing.pem"), str(tmp_path / "retired.json")
    before = keys.load(signing, retired, may_generate=True)
    old_token = before.sign(b'{"n":1}')
    old_kid, new_kid = keys.rotate(signing, retired)
    assert old_kid == before.kid and new_kid != old_kid
    after = keys.load(signing, retired, may_generate=False)
    assert after.kid == new_kid
    jwks = after.jwks()
    assert [key["kid"] for key in jwks["keys"]] == [new_kid, old_kid]
    assert verify_by_hand(old_token, jwks) == {"n": 1}
    assert keys.verify(after.sign(b'{"n":2}'), jwks)[0]["kid"] == new_kid


def test_the_cli_rotates_and_shows_the_keys(app, runner):
    first = app.extensions["cert_keys"].kid
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and f"{first} retired" in result.output


def test_production_never_generates_a_signing_key(tmp_path):
    """A missing key in production is a configuration error, not something to paper over with a new key: the
    app starts (so `flask keys rotate` can create one) but is unhealthy and publishes nothing until then."""
    settings = {"APP_ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "REDIS_URL": "redis://x:1/0",
                "SECRET_KEY": "x" * 40, "PUBLIC_BASE_URL": "https://tanhui.example.cn",
                "CERT_SIGNING_KEY_FILE": str(tmp_path / "absent.pem"), "SEQUENCER_INTERVAL_MS": 0, **LIVE_WECHAT}
    app = create_app(settings)
    assert not (tmp_path / "absent.pem").exists()
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and "does not exist" in health.get_json()["certificates"]
    jwks = client.get("/.well-known/jwks.json")
    assert jwks.status_code == 503 and jwks.get_json()["error"]["code"] == "signing_key_unavailable"
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and (tmp_path / "absent.pem").exists()
    with pytest.raises(SettingsError, match="CERT_SIGNING_KEY_FILE"):
        create_app({**settings, "CERT_SIGNING_KEY_FILE": None})
