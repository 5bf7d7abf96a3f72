"""Who is calling the mini-program API (backend.accounts.auth, which the permission table uses too) and the
Idempotency-Key every order carries (backend.http)."""

from __future__ import annotations

from backend.accounts.auth import bearer_token, per_user, require_user
from backend.http import idempotency_key

__all__ = ["bearer_token", "idempotency_key", "per_user", "require_user"]
