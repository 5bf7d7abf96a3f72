"""Domain errors and the one JSON error envelope of DESIGN.md §9.

Domain functions raise these; the app turns them into ``{"error": {"code", "message", "details"}}`` with the
right status. Messages are Chinese (what users read); codes are English (what programs match on).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(DomainError):
    """A request field is missing, malformed or out of range; ``field`` names it."""

    status = 400
    code = "invalid_request"

    def __init__(self, field: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"{field}: {message}", details=[{"field": field, "message": message}], code=code)
        self.field = field


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request is well-formed but the current state does not allow it."""

    status = 409
    code = "conflict"


class InsufficientCredits(Conflict):
    code = "insufficient_credits"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


_HTTP_MESSAGES = {400: "请求错误", 401: "未认证", 403: "无权访问", 404: "未找到", 405: "不支持的请求方法",
                  413: "请求体过大", 415: "不支持的内容类型", 429: "请求过于频繁"}


def _envelope(status: int, code: str, message: str, details: Any = None):
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return jsonify({"error": body}), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        response = jsonify(error.to_dict())
        if (retry_after := getattr(error, "retry_after", None)) is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response, error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        chinese = _HTTP_MESSAGES.get(error.code or 500, "请求错误")
        response, status = _envelope(error.code or 500, code, f"{chinese} ({error.name.lower()})")
        if isinstance(error, MethodNotAllowed) and error.valid_methods:  # RFC 9110 §15.5.6: a 405 says what is
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response, status

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # A 500 is a bug: log it with the traceback, tell the client nothing internal.
        log.exception("unhandled error")
        return _envelope(500, "internal_error", "服务器内部错误 (internal error)")
