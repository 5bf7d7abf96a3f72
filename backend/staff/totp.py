"""The second factor: RFC 6238 TOTP (pyotp), six digits, 30-second steps, one step of clock drift either way.

A code is accepted once: the account remembers the last step it accepted, so a code seen over a shoulder or in
a proxy log cannot be replayed within its minute.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

ISSUER = "碳汇+"
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, RFC 4226's recommended length


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def accepted_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The step the code belongs to, if it is valid now and newer than ``last_step``; otherwise None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step if last_step is None or step > last_step else None
    return None


def code_at(secret: str, now: datetime) -> str:
    """The code an authenticator shows at ``now`` (for tests and for confirming enrolment in the CLI)."""
    return pyotp.TOTP(secret).at(now)
