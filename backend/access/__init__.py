"""Permissions, enforced in one place: before every request the app looks up the route's rule in
``backend.access.policy.POLICY`` and applies it, before the handler reads the body.
"""

from __future__ import annotations

import logging

from flask import Flask, request

from backend.access.policy import POLICY
from backend.errors import DomainError, Forbidden

log = logging.getLogger(__name__)


def authorise_request() -> None:
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: the 404 or 405 follows
        return
    rule = POLICY.get(endpoint)
    if rule is None:  # fail closed; tests/access/test_policy.py catches this before it ships
        log.error("route %s (%s) has no entry in the permission table", endpoint, request.path)
        raise Forbidden("该接口未配置访问权限 (no permission entry for this route)", code="no_policy")
    rule.authorise()


def allowed(endpoint: str) -> bool:
    """Whether the caller may use the route: a page shows only the buttons its reader may press, by the same table
    that refuses the POST (pages call it for platform routes, whose rules need no path argument)."""
    rule = POLICY.get(endpoint)
    if rule is None:
        return False
    try:
        rule.authorise()
    except DomainError as refusal:
        if refusal.status in (401, 403, 404):
            return False
        raise
    return True


def init_app(app: Flask) -> None:
    app.before_request(authorise_request)
    app.jinja_env.globals["may"] = allowed
