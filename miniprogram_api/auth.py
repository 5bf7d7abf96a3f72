"""Who is calling the mini-program API (backend.accounts.auth, which the permission table uses too) and the
Idempotency-Key every order carries."""

from __future__ import annotations

from flask import request

from backend.accounts.auth import bearer_token, per_user, require_user
from backend.errors import InvalidInput
from backend.ledger.operations import check_client_id

__all__ = ["bearer_token", "idempotency_key", "per_user", "require_user"]


def idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise InvalidInput("Idempotency-Key", "缺少幂等键请求头 (the Idempotency-Key header is required)")
    return check_client_id(key, "Idempotency-Key")
