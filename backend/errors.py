"""Domain errors and the one JSON error envelope of DESIGN.md §9.

Domain functions raise these; the app turns them into ``{"error": {"code", "message", "details"}}`` with the
right status. Messages are Chinese (what users read); codes are English (what programs match on).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

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


def _envelope(status: int, code: str, message: str, details: Any = None):
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return jsonify({"error": body}), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return jsonify(error.to_dict()), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return _envelope(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # A 500 is a bug: log it with the traceback, tell the client nothing internal.
        log.exception("unhandled error")
        return _envelope(500, "internal_error", "服务器内部错误 (internal error)")
