"""The acting operator and the Idempotency-Key every credit-moving POST carries. Whether the caller may call a
route at all was decided before the handler ran (backend/access/policy.py)."""

from __future__ import annotations

from flask import request

from backend.access.identity import staff_principal
from backend.errors import InvalidInput
from backend.ledger.operations import check_client_id
from backend.orders.models import ORDER_CLIENT_PREFIX


def acting() -> str:
    """Who the audit chain will name: ``staff:<id>:<username> token:<id>:<name>``."""
    return staff_principal().actor


def idempotency_key() -> str:
    """The ``Idempotency-Key`` header every credit-moving POST must carry."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise InvalidInput("Idempotency-Key", "缺少幂等键请求头 (the Idempotency-Key header is required)")
    if key.lower().startswith(ORDER_CLIENT_PREFIX):  # any case: SQLite's LIKE, which ledger sweep uses, ignores it
        raise InvalidInput("Idempotency-Key", f"以 {ORDER_CLIENT_PREFIX} 开头的幂等键保留给订单使用 "
                                              f"(keys starting {ORDER_CLIENT_PREFIX!r} are reserved for orders)")
    return check_client_id(key, "Idempotency-Key")
