"""Route tables, request parsing and the OpenAPI document, all from one description of each route.

A blueprint declares its routes as a list of ``Route``; ``register`` wires them into Flask, parses and validates
JSON bodies and query strings with the route's pydantic models (strict: "100" is not an integer), and
``openapi_document`` describes the same routes from the same models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from werkzeug.exceptions import NotFound
from werkzeug.routing import AnyConverter, IntegerConverter
from werkzeug.routing import ValidationError as RoutingValidationError

from backend.access.policy import POLICY
from backend.access.rules import Citizen, Loopback, Member, OrgKind, Platform, SignedIn
from backend.dbtypes import MAX_ID
from backend.errors import InvalidInput
from backend.ledger.operations import CLIENT_ID_PATTERN, MAX_AMOUNT_G, check_client_id
from backend.orders.models import ORDER_CLIENT_PREFIX
from backend.ratelimit import limit
from backend.schemas import Out

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
    # The success body's shape, for the document and for clients (handlers return dicts; tests check every
    # answer against it). None: a JSON object with no documented keys, which only new routes should have.
    response: type[BaseModel] | None = None
    media_type: str | tuple[str, ...] = "application/json"  # of the success body: image/png, text/html …
    # Reads the Idempotency-Key header, which it requires: declared in the document; missing, a 400 naming it
    # before the body is read; its format is checked by the handler (admin/auth.py, miniprogram_api/auth.py).
    idempotent: bool = False
    # Error statuses it can answer beyond those derived from the route (see _error_statuses): e.g. 409 where a
    # state conflict can refuse it, 422, 503.
    errors: tuple[int, ...] = ()
    # The pattern a string path parameter must match (its handler answers 404 otherwise): name → regex.
    params: Mapping[str, str] = field(default_factory=dict)
    description: str = ""  # more than the summary: rules the schema cannot say, what the answer means
    # False: the handler reads the raw request itself (a signed payment notification must be verified over its
    # exact bytes); ``body`` then only documents what arrives.
    parse: bool = True
    # Other request headers it reads: name → (required, JSON schema, description)
    headers: Mapping[str, tuple[bool, Mapping[str, Any], str]] = field(default_factory=dict)
    # A multipart/form-data body (an uploaded file): ``form`` validates its text fields as a query string is
    # validated, ``files`` names its file parts (the handler reads them from request.files); ``max_body`` bounds
    # the whole request, refused naming the first file part.
    form: type[BaseModel] | None = None
    files: tuple[str, ...] = ()
    # Responses that are not the JSON error envelope (a payment notification is answered as WeChat expects):
    # status → (description, model)
    responses: Mapping[int, tuple[str, type[BaseModel]]] = field(default_factory=dict)


def anchored(pattern: re.Pattern[str] | str) -> str:
    """A pattern the handler uses with ``fullmatch``, as JSON Schema says it (``pattern`` searches)."""
    text = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    return "^(?:" + text.removeprefix("^").removesuffix("$") + ")$"


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


def parse_form(model: type[BaseModel], max_bytes: int, too_large: str) -> BaseModel:
    """A multipart form's text fields (lax, as a query string: "true" is a boolean); the request is refused before
    it is read when larger than ``max_bytes``, naming the field ``too_large``."""
    if (request.content_length or 0) > max_bytes:
        raise InvalidInput(too_large, f"上传内容过大 (larger than {max_bytes // 1024 // 1024} MB)")
    try:
        parsed = model.model_validate(request.form.to_dict())
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
        if route.idempotent and request.headers.get("Idempotency-Key") is None:  # its format: the handler's check
            raise InvalidInput("Idempotency-Key", "缺少幂等键请求头 (the Idempotency-Key header is required)")
        kwargs = dict(path_args)
        if route.parse and route.body is not None:
            kwargs["body"] = parse_body(route.body, route.max_body)
        if route.parse and route.query is not None:
            kwargs["query"] = parse_query(route.query)
        if route.parse and route.form is not None:
            kwargs["form"] = parse_form(route.form, route.max_body, route.files[0] if route.files else "body")
        result = route.view(**kwargs)
        if isinstance(result, tuple) or hasattr(result, "status_code"):
            return result
        return jsonify(result), route.status

    view.__name__ = route.view.__name__
    view.__doc__ = route.view.__doc__
    return view


def register(target: Blueprint | Flask, routes: list[Route]) -> None:
    """Add every route of the table to the blueprint (or, for the few app-wide routes such as /healthz, the app)
    and remember the table for the OpenAPI document."""
    for route in routes:
        target.add_url_rule(route.rule, endpoint=route.view.__name__, view_func=_make_view(route),
                            methods=[route.method])
    if isinstance(target, Flask):
        target.extensions.setdefault("route_tables", []).append(routes)
        return
    tables = getattr(target, "route_tables", [])
    tables.append(routes)
    target.route_tables = tables  # type: ignore[attr-defined]


# --- the OpenAPI document ---------------------------------------------------------------------------------------

IDEMPOTENCY_KEY_SCHEMA: dict[str, Any] = {
    "type": "string", "pattern": CLIENT_ID_PATTERN.pattern, "maxLength": 64,
    # "order:…" keys are the orders' own (idempotency_key below refuses them, in any case)
    "not": {"pattern": "^[Oo][Rr][Dd][Ee][Rr]:"}}
_ERROR_TEXT = {
    400: "请求无效 (invalid request: details name each bad field)",
    401: "未认证 (no valid token or session)",
    403: "无权执行 (your roles do not allow this)",
    404: "不存在 (no such record — or one of an organisation you are not in)",
    304: "未修改 (not modified: the ETag matches)",
    409: "与当前状态冲突 (the current state does not allow it, or the Idempotency-Key was used for another "
         "request)",
    413: "请求体过大 (body too large)",
    422: "无法生成 (cannot be rendered)",
    429: "请求过于频繁 (too many requests: retry after Retry-After seconds)",
    503: "服务暂不可用 (a store, WeChat or the signing key is unavailable)",
}
ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "description": "Every error: an English code for programs, a Chinese message (English in parentheses) for "
                   "people, and details (for a 400, the fields: [{field, message}]).",
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}}
DOCUMENT_DESCRIPTION = """碳汇+ JSON API, generated from the route tables and the pydantic models that validate each request.

Left out on purpose: the server-rendered pages for people (operator console `/admin/`, organisation portal
`/org/`, sign-in and account pages, `/assets/…`, `/static/…`) and this document's own viewer `/docs`. The public
certificate page `/v/{number}` is included: a certificate's QR points at it.

Authentication: `/api/admin/v1`, `/api/org/v1` and `/api/staff/v1` take a staff account's personal API token,
`/api/mp/v1` routes that are someone's own take the mini-program session token; which roles may call a route is
at the end of its summary. Every POST that moves credits or money on a caller's say-so carries an
`Idempotency-Key` header; the few that act once by the record's state instead (a kept order's refund, an
operator's resolve of a queued order) refuse a second call with 409.

Parsing is strict: an integer is written as one (`17646`, not `17646.0` or `"17646"`), a string is never taken for
a number, unknown fields are refused; every refusal is a 400 naming the field. Rules between fields that JSON
Schema cannot state are in each operation's description."""


NO_NUL = "^[^\\x00]*$"


class _RequestSchemas(GenerateJsonSchema):
    """What a request may carry, as the parser accepts it: PostgreSQL text cannot hold U+0000, so no string may
    contain it (refuse_nul); the document says so on every string that has no narrower pattern."""

    def str_schema(self, schema: Any) -> dict[str, Any]:
        json_schema = super().str_schema(schema)
        if self.mode == "validation" and "pattern" not in json_schema:
            json_schema["pattern"] = NO_NUL
        return json_schema


def _error_statuses(route: Route, rule: Any, has_path_params: bool) -> set[int]:
    """The error statuses a route can answer: from what it parses, how it authenticates, whether its path names a
    record, its rate limit — and what its table entry adds (``errors``)."""
    codes = set(route.errors)
    if route.body is not None or route.query is not None or route.form is not None or route.idempotent:
        codes.add(400)
    if isinstance(rule, Citizen):
        codes |= {401, 503}  # sessions live in Redis: 503 when it is unreachable
    elif isinstance(rule, (SignedIn, Platform)):
        codes |= {401, 403}
    elif isinstance(rule, (Member, OrgKind)):
        codes |= {401, 403, 404}
    elif isinstance(rule, Loopback):
        codes.add(403)
    if has_path_params:
        codes.add(404)
    if route.rate_limit is not None:
        codes.add(429)
    if route.idempotent or (route.method != "GET" and security_scheme(rule) is not None):
        codes.add(409)  # a staff or citizen change can meet a state that refuses it
    return codes


def _path_parameter_schema(converter: Any, pattern: str | None) -> dict[str, Any]:
    if isinstance(converter, IntegerConverter):  # our int (IdConverter) and serial converters
        return {"type": "integer", "minimum": 1, "maximum": converter.max}
    if isinstance(converter, AnyConverter):
        return {"type": "string", "enum": sorted(converter.items)}
    # the default converter: one path segment; the handler checks its pattern and answers 404 otherwise
    return {"type": "string", "pattern": pattern or "^[^/]+$"}


def _query_parameter_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A query string has no null: an optional parameter is absent, never null."""
    schema = {key: value for key, value in schema.items() if key not in ("default", "title")}
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        if len(options) == 1:
            schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **options[0]}
    return schema


def routes_of(app: Flask) -> list[tuple[Route, str]]:
    """Every route of every table with its endpoint: the app's own, then each blueprint's."""
    found = [(route, route.view.__name__) for table in app.extensions.get("route_tables", []) for route in table]
    for blueprint in app.blueprints.values():
        for table in getattr(blueprint, "route_tables", []):
            found.extend((route, f"{blueprint.name}.{route.view.__name__}") for route in table)
    return found


def openapi_document(app: Flask) -> dict[str, Any]:
    """The document, built once per app (the routes do not change once the app serves)."""
    if "openapi_document" not in app.extensions:
        app.extensions["openapi_document"] = _build_document(app)
    return app.extensions["openapi_document"]


def _build_document(app: Flask) -> dict[str, Any]:
    entries = routes_of(app)
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    wanted: set[tuple[type[BaseModel], str]] = set()
    for route, _ in entries:
        wanted.update((m, "validation") for m in (route.body, route.query) if m is not None)
        wanted.update((m, "serialization") for m in (route.response,) if m is not None)
        wanted.update((m, "serialization") for _, m in route.responses.values())
    # Two models may share a name (admin's and the public ProjectQuery): pydantic gives each its own schema
    # name, and ``refs`` says which.
    refs, schema = models_json_schema(
        sorted(wanted, key=lambda pair: (pair[0].__module__, pair[0].__name__, pair[1])),
        ref_template="#/components/schemas/{model}", schema_generator=_RequestSchemas)

    def ref(model: type[BaseModel], mode: str) -> dict[str, str]:
        return {"$ref": refs[(model, mode)]["$ref"]}

    components = dict(schema.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for route, endpoint in entries:
        url_rule = rules[endpoint]
        policy = POLICY.get(endpoint)
        names = re.findall(r"<(?:[^<>]+:)?(\w+)>", url_rule.rule)
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True,
             "schema": _path_parameter_schema(url_rule._converters[name], route.params.get(name))}
            for name in names]
        if route.query is not None:
            query_schema = route.query.model_json_schema(mode="validation", schema_generator=_RequestSchemas)
            parameters += [
                {"name": name, "in": "query", "required": info.is_required(),
                 "schema": _query_parameter_schema(query_schema["properties"][name])}
                | ({"description": info.description} if info.description else {})
                for name, info in route.query.model_fields.items()]
        if route.idempotent:
            parameters.append({"name": "Idempotency-Key", "in": "header", "required": True,
                               "schema": IDEMPOTENCY_KEY_SCHEMA,
                               "description": "the client's id for this request: the same key with the same "
                                              "request answers the first result; with another request, 409"})
        for name, (required, header_schema, text) in route.headers.items():
            parameters.append({"name": name, "in": "header", "required": required, "schema": dict(header_schema),
                               "description": text})
        media_types = (route.media_type,) if isinstance(route.media_type, str) else route.media_type
        content: dict[str, Any] = {}
        for media_type in media_types:
            if media_type == "application/json":
                body_schema = ref(route.response, "serialization") if route.response else {"type": "object"}
                content[media_type] = {"schema": body_schema}
            elif media_type.startswith("text/"):
                content[media_type] = {"schema": {"type": "string"}}
            else:  # bytes (OpenAPI 3.1: a binary body is described by its media type alone)
                content[media_type] = {}
        responses: dict[str, Any] = {str(route.status): {"description": route.summary, "content": content}}
        for status in sorted(_error_statuses(route, policy, bool(names))):
            if status < 400:  # 304: no body
                responses[str(status)] = {"description": _ERROR_TEXT.get(status, "")}
                continue
            if media_types == ("text/html",):  # a page answers its errors with a page
                content = {"text/html": {"schema": {"type": "string"}}}
            else:
                content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
            responses[str(status)] = {"description": _ERROR_TEXT.get(status, "错误 (error)"), "content": content}
            if status == 429:
                responses["429"]["headers"] = {"Retry-After": {
                    "description": "seconds until the allowance renews", "schema": {"type": "integer"}}}
        for status, (text, model) in route.responses.items():
            responses[str(status)] = {"description": text,
                                      "content": {"application/json": {"schema": ref(model, "serialization")}}}
        summary = route.summary + (f" — {policy}" if policy is not None else "")
        operation: dict[str, Any] = {"operationId": endpoint, "summary": summary[:300], "responses": responses}
        description = "\n\n".join(text for text in (route.description, route.view.__doc__ and
                                                     " ".join(route.view.__doc__.split())) if text)
        if description:
            operation["description"] = description
        operation["tags"] = list(route.tags) or [endpoint.split(".")[0]]  # untagged: by blueprint
        if (scheme := security_scheme(policy)) is not None:
            operation["security"] = [{scheme: []}]
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {"required": route.parse, "content": {"application/json": {
                "schema": ref(route.body, "validation")}}}
        if route.form is not None:  # one object: the form's text fields and its file parts side by side
            fields = route.form.model_json_schema(mode="validation", schema_generator=_RequestSchemas)
            form_schema = {"type": "object", "additionalProperties": False,
                           "required": [*fields.get("required", ()), *route.files],
                           "properties": {**fields["properties"],
                                          **{name: {"type": "string", "format": "binary"} for name in route.files}}}
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form_schema}}}
        path = re.sub(r"<(?:[^<>]+:)?(\w+)>", r"{\1}", url_rule.rule)
        paths.setdefault(path, {})[route.method.lower()] = operation
    security = {"personalToken": {"type": "http", "scheme": "bearer",
                                  "description": "a staff account's personal API token (thp_…)"},
                "citizenSession": {"type": "http", "scheme": "bearer",
                                   "description": "a mini-program session token from POST /api/mp/v1/auth/login"}}
    components["ErrorEnvelope"] = ERROR_ENVELOPE
    return {"openapi": "3.1.0",
            "info": {"title": "碳汇+ (Carbon Sink Plus) API", "version": current_app.config.get("VERSION", "0"),
                     "description": DOCUMENT_DESCRIPTION},
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": dict(sorted(components.items())), "securitySchemes": security}}


def security_scheme(rule: Any) -> str | None:
    """How a route authenticates, from its entry in the permission table."""
    if isinstance(rule, Citizen):
        return "citizenSession"
    if isinstance(rule, (SignedIn, Platform, Member, OrgKind)):
        return "personalToken"
    return None


class _BoundedConverter(IntegerConverter):
    """Digits out of range name nothing: 404. Raised here rather than as werkzeug's ValidationError, which would
    let the router answer 405 when the same path has a route for another method (PUT and DELETE of a role)."""

    def to_python(self, value: str) -> Any:
        try:
            return super().to_python(value)
        except RoutingValidationError:
            raise NotFound() from None


class IdConverter(_BoundedConverter):
    """``<int:…>`` in our routes is a row id: a number no primary key can hold matches no route (404)."""

    def __init__(self, map, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, **kwargs)


class SerialConverter(_BoundedConverter):
    """A serial number: 1 … the largest batch (MAX_AMOUNT_G)."""

    def __init__(self, map) -> None:
        super().__init__(map, max=MAX_AMOUNT_G)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["serial"] = SerialConverter

    register(app, ROUTES)


def openapi_json():
    """This document (OpenAPI 3.1); /docs shows it."""
    return jsonify(openapi_document(current_app))


class OpenAPIDocument(Out):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


ROUTES = [Route("GET", "/openapi.json", openapi_json, "The OpenAPI 3.1 document of this API",
                response=OpenAPIDocument, tags=("public",))]


def idempotency_key() -> str:
    """The ``Idempotency-Key`` header of a request that moves credits or money (the Route's ``idempotent``).

    Keys starting ``order:`` (in any case: SQLite's LIKE, which ``ledger sweep`` uses, ignores it) are refused
    everywhere: they are the prefix of every order's own ledger transfers, and the document says so once for all."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise InvalidInput("Idempotency-Key", "缺少幂等键请求头 (the Idempotency-Key header is required)")
    return checked_idempotency_key(key, "Idempotency-Key")


def checked_idempotency_key(key: str, field: str) -> str:
    """An idempotency key however it came (the header, or a console form's hidden field): the ledger's client-id
    shape, and not an order's own prefix."""
    if key.lower().startswith(ORDER_CLIENT_PREFIX):
        raise InvalidInput(field, f"以 {ORDER_CLIENT_PREFIX} 开头的幂等键保留给订单使用 "
                                  f"(keys starting {ORDER_CLIENT_PREFIX!r} are reserved for orders)")
    return check_client_id(key, field)
