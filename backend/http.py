"""Route tables, request parsing and the OpenAPI document, all from one description of each route.

A blueprint declares its routes as a list of ``Route``; ``register`` wires them into Flask, parses and validates
JSON bodies and query strings with the route's pydantic models (strict: "100" is not an integer), and
``openapi_document`` describes the same routes from the same models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from werkzeug.routing import IntegerConverter

from backend.access.policy import POLICY
from backend.access.rules import Citizen, Member, Platform, SignedIn
from backend.dbtypes import MAX_ID
from backend.errors import InvalidInput
from backend.ledger.operations import MAX_AMOUNT_G
from backend.ratelimit import limit

# JSON bodies larger than this are refused before parsing.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    view: Callable[..., Any]
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    tags: tuple[str, ...] = field(default_factory=tuple)
    max_body: int = MAX_BODY_BYTES  # larger only where a body is a list of records (an event's participants)
    # (bucket, per minute: a number, the name of a setting, or None for the public default), counted before parsing
    rate_limit: tuple[str, int | str | None] | None = None
    # whose allowance rate_limit counts, e.g. the signed-in user's (it runs after the permission check);
    # None: the client's address
    rate_limit_who: Callable[[], str] | None = None


def _field_name(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


_PYDANTIC_MESSAGES = {
    "missing": "必填 (required)",
    "extra_forbidden": "不允许的字段 (unknown field)",
    "int_type": "应为整数 (must be an integer)",
    "string_type": "应为字符串 (must be a string)",
    "bool_type": "应为布尔值 (must be a boolean)",
    "greater_than": "数值过小 (too small)",
    "greater_than_equal": "数值过小 (too small)",
    "less_than_equal": "数值过大 (too large)",
    "less_than": "数值过大 (too large)",
    "decimal_parsing": "应为数字 (must be a number)",
    "decimal_type": "应为数字 (must be a number)",
    "decimal_max_places": "小数位过多 (too many decimal places)",
    "finite_number": "应为有限数字 (must be finite)",
    "literal_error": "取值不在允许范围 (not an allowed value)",
    "union_tag_invalid": "未知的类型 (unknown kind)",
    "string_pattern_mismatch": "格式不正确 (malformed)",
    "too_short": "过短 (too short)",
    "too_long": "过长 (too long)",
    "string_too_short": "过短 (too short)",
    "string_too_long": "过长 (too long)",
    "int_parsing": "应为整数 (must be an integer)",
    "union_tag_not_found": "缺少类型字段 (missing the field naming the kind)",
    "model_type": "应为 JSON 对象 (must be a JSON object)",
    "list_type": "应为数组 (must be a list)",
}
MAX_DETAILS = 20  # a body with thousands of bad records gets the first few, not a response larger than it


def validation_error(error: ValidationError, *, prefix: tuple[str, ...] = ()) -> InvalidInput:
    """One 400 naming every bad field; the message names the first."""
    details = []
    for item in error.errors(include_url=False)[:MAX_DETAILS]:
        name = _field_name(prefix + tuple(item["loc"]))
        text = _PYDANTIC_MESSAGES.get(item["type"], "")
        message = f"{text}: {item['msg']}" if text else item["msg"]
        details.append({"field": name, "message": message})
    first = details[0]
    invalid = InvalidInput(first["field"], first["message"])
    invalid.details = details
    return invalid


def parse_body(model: type[BaseModel], max_bytes: int = MAX_BODY_BYTES) -> BaseModel:
    if (request.content_length or 0) > max_bytes:  # refused before reading it
        raise InvalidInput("body", f"请求体过大 (larger than {max_bytes} bytes)")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise InvalidInput("body", f"请求体过大 (larger than {max_bytes} bytes)")
    if not raw.strip():
        raw = b"{}"
    try:
        json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise InvalidInput("body", "不是合法的 JSON (malformed JSON)", code="invalid_json") from None
    try:
        parsed = model.model_validate_json(raw, strict=True)
    except ValidationError as error:
        if any(item["type"] == "model_type" and not item["loc"] for item in error.errors()):
            raise InvalidInput("body", "应为 JSON 对象 (must be a JSON object)") from None
        raise validation_error(error) from None
    refuse_nul(parsed.model_dump())
    return parsed


def refuse_nul(value: Any, path: str = "") -> None:
    """PostgreSQL text cannot hold U+0000, so no string we accept may contain it (whatever the field)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(path or "body", "不能包含 NUL 字符 (must not contain U+0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            refuse_nul(item, f"{path}.{index}" if path else str(index))


def parse_query(model: type[BaseModel]) -> BaseModel:
    # Query strings are text; lax mode turns "20" into 20 but still refuses "abc".
    try:
        parsed = model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise validation_error(error) from None
    refuse_nul(parsed.model_dump())
    return parsed


def _make_view(route: Route) -> Callable[..., Any]:
    def view(**path_args: Any):
        if route.rate_limit is not None:  # counted before the body is read: a bad body costs an allowance too
            bucket, per_minute = route.rate_limit
            limit(bucket, current_app.config[per_minute] if isinstance(per_minute, str) else per_minute,
                  who=route.rate_limit_who() if route.rate_limit_who is not None else None)
        kwargs = dict(path_args)
        if route.body is not None:
            kwargs["body"] = parse_body(route.body, route.max_body)
        if route.query is not None:
            kwargs["query"] = parse_query(route.query)
        result = route.view(**kwargs)
        if isinstance(result, tuple) or hasattr(result, "status_code"):
            return result
        return jsonify(result), route.status

    view.__name__ = route.view.__name__
    view.__doc__ = route.view.__doc__
    return view


def register(blueprint: Blueprint, routes: list[Route]) -> None:
    """Add every route of the table to the blueprint and remember the table for the OpenAPI document."""
    for route in routes:
        blueprint.add_url_rule(route.rule, endpoint=route.view.__name__, view_func=_make_view(route),
                               methods=[route.method])
    tables = getattr(blueprint, "route_tables", [])
    tables.append(routes)
    blueprint.route_tables = tables  # type: ignore[attr-defined]


def _openapi_path(prefix: str, rule: str) -> str:
    return prefix + re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule)


def openapi_document(app: Flask) -> dict[str, Any]:
    models: set[type[BaseModel]] = set()
    entries = []
    for blueprint in app.blueprints.values():
        prefix = blueprint.url_prefix or ""
        for table in getattr(blueprint, "route_tables", []):
            for route in table:
                entries.append((prefix, route, f"{blueprint.name}.{route.view.__name__}"))
                models.update(m for m in (route.body, route.query) if m is not None)
    # Two models may share a name (admin's and the public ProjectQuery): pydantic gives each its own schema
    # name, and ``refs`` says which.
    refs, schema = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: (m.__module__, m.__name__))],
        ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel]) -> str:
        return refs[(model, "validation")]["$ref"]
    paths: dict[str, dict[str, Any]] = {}
    for prefix, route, endpoint in entries:
        rule = POLICY.get(endpoint)
        operation: dict[str, Any] = {
            "summary": route.summary + (f" — {rule}" if rule is not None else ""),
            "operationId": route.view.__name__,
            "responses": {str(route.status): {"description": "OK"},
                          "4XX": {"description": "错误 (error envelope)",
                                  "content": {"application/json": {"schema": {
                                      "$ref": "#/components/schemas/ErrorEnvelope"}}}}},
        }
        if route.tags:
            operation["tags"] = list(route.tags)
        if (scheme := security_scheme(rule)) is not None:
            operation["security"] = [{scheme: []}]
        if route.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": ref(route.body)}}}}
        if route.query is not None:
            operation["parameters"] = [
                {"name": name, "in": "query", "required": info.is_required(),
                 "schema": {"$ref": f"{ref(route.query)}/properties/{name}"}}
                for name, info in route.query.model_fields.items()]
        paths.setdefault(_openapi_path(prefix, route.rule), {})[route.method.lower()] = operation
    components = dict(schema.get("$defs", {}))
    security = {"personalToken": {"type": "http", "scheme": "bearer",
                                  "description": "a staff account's personal API token (thp_…)"},
                "citizenSession": {"type": "http", "scheme": "bearer",
                                   "description": "a mini-program session token from POST /api/mp/v1/auth/login"}}
    components["ErrorEnvelope"] = {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}}
    return {"openapi": "3.1.0",
            "info": {"title": "碳汇+ (Carbon Sink Plus) API", "version": current_app.config.get("VERSION", "0")},
            "paths": dict(sorted(paths.items())), "components": {"schemas": components, "securitySchemes": security}}


def security_scheme(rule: Any) -> str | None:
    """How a route authenticates, from its entry in the permission table."""
    if isinstance(rule, Citizen):
        return "citizenSession"
    if isinstance(rule, (SignedIn, Platform, Member)):
        return "personalToken"
    return None


class IdConverter(IntegerConverter):
    """``<int:…>`` in our routes is a row id: a number no primary key can hold matches no route (404)."""

    def __init__(self, map, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, **kwargs)


class SerialConverter(IntegerConverter):
    """A serial number: 1 … the largest batch (MAX_AMOUNT_G)."""

    def __init__(self, map) -> None:
        super().__init__(map, max=MAX_AMOUNT_G)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["serial"] = SerialConverter

    @app.get("/openapi.json")
    def openapi_json():
        return jsonify(openapi_document(app))

