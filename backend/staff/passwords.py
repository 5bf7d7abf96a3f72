"""Passwords: argon2id through argon2-cffi, with RFC 9106's second recommended parameter set (t=3, 64 MiB, p=4,
argon2-cffi's default), so each check costs tens of milliseconds of CPU and 64 MiB: slow on purpose.

Hashes made with older parameters are re-hashed at the next successful sign-in (``needs_rehash``).
"""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from backend.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 128  # argon2 takes any length; a megabyte "password" would only cost us hashing time

_hasher = PasswordHasher()
# Checked against when the username is unknown, so that "no such user" costs as much time as "wrong password".
_DUMMY_HASH = _hasher.hash("no account has this password")


def check_policy(password: str, *, username: str = "", field: str = "password") -> str:
    """The password, normalised (NFKC, so the same keys typed on another keyboard match), or InvalidInput."""
    password = unicodedata.normalize("NFKC", password)
    if len(password) < MIN_LENGTH:
        raise InvalidInput(field, f"密码至少 {MIN_LENGTH} 个字符 (at least {MIN_LENGTH} characters)")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(field, f"密码最多 {MAX_LENGTH} 个字符 (at most {MAX_LENGTH} characters)")
    if any(unicodedata.category(c) == "Cc" for c in password):
        raise InvalidInput(field, "密码不能包含控制字符 (must not contain control characters)")
    if username and username.lower() in password.lower():
        raise InvalidInput(field, "密码不能包含用户名 (must not contain the username)")
    if len(set(password)) < 4:
        raise InvalidInput(field, "密码过于简单 (too simple: use more different characters)")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(unicodedata.normalize("NFKC", password))


def new_hash(password: str, *, username: str = "", field: str = "password") -> str:
    """The policy checked, then the hash: call it before the transaction that stores it (it takes a while)."""
    return hash_password(check_policy(password, username=username, field=field))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; always spends one argon2 check, also when there is no hash to check."""
    candidate = unicodedata.normalize("NFKC", password)[:MAX_LENGTH + 1]
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, candidate) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
