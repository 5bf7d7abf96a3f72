"""Assertions on the JSON error envelope of DESIGN.md §9."""

from __future__ import annotations


def refused(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """Assert the JSON error envelope with this status (and code, and a detail naming this field)."""
    body = response.get_json()
    assert response.status_code == status, body
    error = body["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        details = error.get("details")
        named = [d.get("field") for d in details] if isinstance(details, list) else [(details or {}).get("field")]
        assert field in named, error
    return error
