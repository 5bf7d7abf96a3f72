"""A keyed fingerprint of a personal value, for comparing it later without keeping it readable.

A plain hash of a name can be confirmed by guessing (there are only so many names); an HMAC under a key derived
from SECRET_KEY cannot, without the key. Rotating SECRET_KEY changes fingerprints: a retry of an old request then
reads as a different request (409), which only matters within an idempotency key's retry window.
"""

from __future__ import annotations

import hashlib
import hmac

PURPOSE = b"tanhui:personal-value-fingerprint:v1"


def key_from(secret: str) -> bytes:
    """The fingerprint key, derived from the app's SECRET_KEY (so no second secret to keep)."""
    return hmac.new(secret.encode(), PURPOSE, hashlib.sha256).digest()


def fingerprint(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
