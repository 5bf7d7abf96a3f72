"""Operator authentication: for now one fixed bearer token from settings (real operator accounts come with the
console). Permission checks are functions that raise."""

from __future__ import annotations

import hmac

from flask import current_app, request

from backend.errors import InvalidInput, Unauthorized
from backend.ledger.operations import check_client_id
from backend.orders.models import ORDER_CLIENT_PREFIX

OPERATOR_ACTOR = "operator"


def require_operator() -> str:
    """The acting operator's name, or Unauthorized."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = current_app.config["OPERATOR_TOKEN"]
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise Unauthorized("需要运营人员令牌 (operator bearer token required)")
    return OPERATOR_ACTOR


def idempotency_key() -> str:
    """The ``Idempotency-Key`` header every credit-moving POST must carry."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise InvalidInput("Idempotency-Key", "缺少幂等键请求头 (the Idempotency-Key header is required)")
    if key.lower().startswith(ORDER_CLIENT_PREFIX):  # any case: SQLite's LIKE, which ledger sweep uses, ignores it
        raise InvalidInput("Idempotency-Key", f"以 {ORDER_CLIENT_PREFIX} 开头的幂等键保留给订单使用 "
                                              f"(keys starting {ORDER_CLIENT_PREFIX!r} are reserved for orders)")
    return check_client_id(key, "Idempotency-Key")
