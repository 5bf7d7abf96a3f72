"""The acting operator and the Idempotency-Key every credit-moving POST carries. Whether the caller may call a
route at all was decided before the handler ran (backend/access/policy.py)."""

from __future__ import annotations

from backend.access.identity import staff_principal
from backend.http import idempotency_key

__all__ = ["acting", "idempotency_key"]


def acting() -> str:
    """Who the audit chain will name: ``staff:<id>:<username> token:<id>:<name>``."""
    return staff_principal().actor
