"""Every answer a test gets is checked against /openapi.json: its status is one the operation declares, its media
type too, and a JSON body matches the declared schema. So the document cannot drift from the code: a handler that
grows a 409 or drops a key fails the test that made it happen, whatever that test was about.

Installed on every test app by tests/conftest.py (an ``after_request`` hook). Answers of routes outside the
document (pages, static files, unmatched URLs) and 500s (a bug the test itself reports) are not checked.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request
from jsonschema import Draft202012Validator

from backend.http import openapi_document, routes_of

# The document is a function of the route tables, the permission table and which blueprints the app registered:
# one per set of blueprints, not one per test app (building it takes ~60 ms).
_DOCUMENTS: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, tuple[str, str]]]] = {}
_VALIDATORS: dict[tuple[int, str], Draft202012Validator] = {}


class NotInTheDocument(AssertionError):
    """An answer the OpenAPI document does not describe."""


def _document(app: Flask) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    key = tuple(sorted(app.blueprints))
    if key not in _DOCUMENTS:
        document = openapi_document(app)
        rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
        operations = {}
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                operations[operation["operationId"]] = (path, method)
        _DOCUMENTS[key] = (document, operations)
        assert {endpoint for _, endpoint in routes_of(app)} <= set(rules)
    return _DOCUMENTS[key]


def _validator(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    key = (id(document), pointer)
    if key not in _VALIDATORS:
        schema = {"$ref": pointer, "components": document["components"], "paths": document["paths"]}
        _VALIDATORS[key] = Draft202012Validator(schema)
    return _VALIDATORS[key]


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def check_answer(response: Response) -> Response:
    endpoint = request.endpoint
    if endpoint is None or response.status_code >= 500 and response.status_code != 503:
        return response
    document, operations = _document(current_app)
    if endpoint not in operations:
        return response
    path, method = operations[endpoint]
    declared = document["paths"][path][method]["responses"]
    status = str(response.status_code)
    where = f"{request.method} {request.path} → {status}"
    if status not in declared:
        raise NotInTheDocument(f"{where}: status not declared in /openapi.json (declared: {sorted(declared)})")
    content = declared[status].get("content")
    if not content or response.status_code == 304:
        return response
    media_type = response.mimetype
    if media_type not in content:
        raise NotInTheDocument(f"{where}: {media_type} not declared (declared: {sorted(content)})")
    if media_type != "application/json" or "schema" not in content[media_type]:
        return response
    pointer = "#/" + "/".join(_escape(part) for part in ("paths", path, method, "responses", status, "content",
                                                          media_type, "schema"))
    errors = sorted(_validator(document, pointer).iter_errors(response.get_json()), key=lambda e: e.path)
    if errors:
        shown = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:200]}"
                          for e in errors[:5])
        raise NotInTheDocument(f"{where}: body does not match its declared schema: {shown}")
    return response


def install(app: Flask) -> None:
    app.after_request(check_answer)
