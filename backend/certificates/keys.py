"""The certificate signing keys: one current Ed25519 key that signs, and retired keys that still verify.

Certificates are compact JWS with ``alg: Ed25519`` (RFC 9864's fully-specified name; ``EdDSA`` is deprecated)
and the first 16 characters (96 bits) of the signing key's RFC 7638 thumbprint as ``kid`` — short, because the
JWS travels in a QR code whose every byte counts, and still unique among the handful of keys a registry has.
The public keys are published as a JWKS at ``/.well-known/jwks.json``; rotating moves the current key's public
half to the retired set, so every certificate ever issued still verifies under its ``kid``, offline, with that
file alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from backend.errors import DomainError

ALGORITHM = "Ed25519"
KID_LENGTH = 16


class KeyFileError(DomainError):
    """A key file is missing, unreadable or not an Ed25519 key: the service cannot sign or publish keys."""

    status = 503
    code = "signing_key_unavailable"


@dataclass
class KeyRing:
    current: OKPKey
    retired: dict[str, OKPKey] = field(default_factory=dict)

    @cached_property  # a thumbprint costs a hash over the JWK: once per process, not per certificate
    def kid(self) -> str:
        return kid_of(self.current)

    def sign(self, payload: bytes) -> str:
        """A compact JWS of the payload, signed with the current key."""
        return jws.serialize_compact({"alg": ALGORITHM, "kid": self.kid}, payload, self.current,
                                     algorithms=[ALGORITHM])

    def sign_bytes(self, message: bytes) -> bytes:
        """A raw Ed25519 signature with the current key (signed tree heads are not JWS)."""
        return self.current.private_key.sign(message)

    def public_key(self, kid: str) -> OKPKey | None:
        if kid == self.kid:
            return self.current
        return self.retired.get(kid)

    def jwks(self) -> dict[str, Any]:
        """The published key set (read-only: it is computed once and shared)."""
        return self._jwks

    @cached_property
    def _jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.current)] + [public_jwk(key) for key in self.retired.values()]}


def kid_of(key: OKPKey) -> str:
    return key.thumbprint()[:KID_LENGTH]


def public_jwk(key: OKPKey) -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": kid_of(key), "alg": ALGORITHM, "use": "sig"}


def _read_private(path: Path) -> OKPKey:
    try:
        key = OKPKey.import_key(path.read_bytes())
    except (OSError, JoseError, ValueError) as error:
        raise KeyFileError(f"cannot read the certificate signing key {path}: {error}") from None
    if key.curve_name != "Ed25519" or not key.is_private:
        raise KeyFileError(f"{path} must hold an Ed25519 private key")
    return key


def _write_private(path: Path, key: OKPKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.as_pem(private=True))


def _read_retired(path: Path) -> dict[str, OKPKey]:
    if not path.exists():
        return {}
    try:
        keys = [OKPKey.import_key(item) for item in json.loads(path.read_text(encoding="utf-8"))["keys"]]
    except (OSError, JoseError, ValueError, KeyError, TypeError) as error:
        raise KeyFileError(f"cannot read the retired keys {path}: {error}") from None
    return {kid_of(key): key for key in keys}


def load(signing_key_file: str, retired_keys_file: str, *, may_generate: bool) -> KeyRing:
    """Read the key ring; in development a missing signing key is generated (never in production)."""
    path = Path(signing_key_file)
    if not path.exists():
        if not may_generate:
            raise KeyFileError(f"the certificate signing key {path} does not exist "
                            "(generate one with: flask --app backend keys rotate)")
        _write_private(path, OKPKey.generate_key("Ed25519"))
    return KeyRing(_read_private(path), _read_retired(Path(retired_keys_file)))


def rotate(signing_key_file: str, retired_keys_file: str) -> tuple[str | None, str]:
    """Retire the current key (its public half keeps verifying) and make a new one; returns (old kid, new kid)."""
    path, retired_path = Path(signing_key_file), Path(retired_keys_file)
    old_kid = None
    if path.exists():
        old = _read_private(path)
        old_kid = kid_of(old)
        retired = _read_retired(retired_path)
        retired[old_kid] = OKPKey.import_key(old.as_dict(private=False))
        retired_path.parent.mkdir(parents=True, exist_ok=True)
        retired_path.write_text(json.dumps({"keys": [public_jwk(k) for k in retired.values()]}, indent=2),
                                encoding="utf-8")
        path.replace(path.with_suffix(path.suffix + f".retired-{old_kid[:8]}"))
    new = OKPKey.generate_key("Ed25519")
    _write_private(path, new)
    return old_kid, kid_of(new)


def check_jwks(value: Any) -> dict[str, Any]:
    """A JWKS we can verify with: an object whose ``keys`` are Ed25519 public keys with string kids."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise ValueError('a JWKS is an object with a "keys" list')
    for item in value["keys"]:
        if not isinstance(item, dict) or not isinstance(item.get("kid"), str):
            raise ValueError("every key needs a string kid")
        if (item.get("kty"), item.get("crv")) != ("OKP", "Ed25519"):
            raise ValueError(f"key {item['kid']!r} is not an Ed25519 (OKP) key")
        try:
            OKPKey.import_key(item)
        except (JoseError, ValueError) as error:
            raise ValueError(f"key {item['kid']!r} is unreadable: {error}") from None
    return value


def _published_key(kid: Any, key_ring_jwks: dict[str, Any]) -> OKPKey:
    if not isinstance(kid, str):
        raise ValueError(f"unknown kid {kid!r} (a kid is a string)")
    jwk = next((item for item in key_ring_jwks.get("keys", []) if item.get("kid") == kid), None)
    if jwk is None:
        raise ValueError(f"unknown kid {kid!r}")
    return OKPKey.import_key(jwk)


def verify_bytes(message: bytes, signature: bytes, kid: str, key_ring_jwks: dict[str, Any]) -> None:
    """Check a raw Ed25519 signature by the published key ``kid``; raises ValueError saying why not."""
    try:
        _published_key(kid, key_ring_jwks).public_key.verify(signature, message)
    except InvalidSignature:
        raise ValueError("bad signature") from None


def verify(token: str, key_ring_jwks: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Check a compact JWS against a published JWKS; returns (header, payload) or raises ValueError saying why."""
    try:
        header = dict(jws.extract_compact(token.encode()).protected)
    except (JoseError, ValueError) as error:
        raise ValueError(f"not a compact JWS: {error}") from None
    if header.get("alg") != ALGORITHM:
        raise ValueError(f"unexpected alg {header.get('alg')!r}, expected {ALGORITHM}")
    key = _published_key(header.get("kid"), key_ring_jwks)
    try:
        result = jws.deserialize_compact(token, key, algorithms=[ALGORITHM])
    except JoseError as error:
        raise ValueError(f"bad signature: {error}") from None
    return header, result.payload
