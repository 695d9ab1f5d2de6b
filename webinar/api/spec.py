"""The API's operations declared once: each one's route, parameters, body and answers. The routes, the checking of
requests and the OpenAPI 3.1 document are all made from these declarations."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from webinar.api import schema, tokens
from webinar.api.problems import Problem
from webinar.api.schema import Schema, ref
from webinar.api.tokens import Token
from webinar.state import app_state
from webinar.web import ratelimit
from webinar.web.client_ip import client_ip
from webinar.web.ratelimit import Limit

MAX_ID = 2**63 - 1
PAGE_DEFAULT, PAGE_MOST = 50, 500
API_LIMIT, API_WINDOW = 600, dt.timedelta(minutes=1)  # requests per token
BAD_TOKEN_LIMIT = 30  # requests with a missing or wrong token per address and window
BODY_MOST = 64 * 1024  # a request body of the API is one registration or one subscription


@dataclass(frozen=True)
class Param:
    """A path or query parameter: its name, where it is, its schema, whether it must be given."""

    name: str
    where: str  # "path" or "query"
    schema: Schema
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Call:
    """One request as a handler gets it: checked, its token known, its parameters and body parsed."""

    request: Request
    token: Token
    params: dict[str, Any]
    body: Any = None

    @property
    def scope(self) -> int | None:
        """The organisation this token may see (None: every one, a platform token)."""
        return self.token.organisation_id

    @property
    def ip(self) -> str:
        return client_ip(self.request, app_state(self.request).settings.trusted_proxies)


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One operation of the API."""

    method: str
    path: str  # as OpenAPI writes it, under /api/v1
    name: str  # its operationId and route name
    handler: Handler
    summary: str
    answers: dict[int, tuple[str, str]]  # status → (description, schema name, "" for no body)
    params: tuple[Param, ...] = ()
    body: str | None = None  # a component schema's name
    tags: tuple[str, ...] = field(default_factory=tuple)

    def starlette_path(self) -> str:
        path = self.path
        for param in self.params:
            if param.where == "path" and param.schema.get("type") == "integer":
                path = path.replace("{" + param.name + "}", "{" + param.name + ":int}")
        return path

    async def answer(self, request: Request) -> Response:
        token = await authenticate(request)
        params = parse_params(self.params, request)
        body = await read_body(request, self.body) if self.body else None
        return await self.handler(Call(request, token, params, body))


def routes_of(operations: list[Operation]) -> list[Route]:
    """One route per path, for all of its methods (so that a 405 names every method the path has in `Allow`)."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        by_path.setdefault(op.starlette_path(), {})[op.method] = op
    routes = []
    for path, ops in by_path.items():

        async def endpoint(request: Request, ops: dict[str, Operation] = ops) -> Response:
            return await ops[request.method if request.method != "HEAD" else "GET"].answer(request)

        routes.append(Route(path, endpoint, methods=list(ops), name=next(iter(ops.values())).name))
    return routes


def path_param(name: str, description: str) -> Param:
    return Param(name, "path", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, description, required=True)


PAGING = (
    Param("cursor", "query", {"type": "string", "maxLength": 200}, "The `next_cursor` of the page before."),
    Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": PAGE_MOST, "default": PAGE_DEFAULT}),
)


async def authenticate(request: Request) -> Token:
    """The live token of the request; 401 without one (the failures counted per address: 429 past the limit), and
    429 once the token's own limit is passed."""
    state = app_state(request)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    token = await tokens.authenticate(state.db, given.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        ip = client_ip(request, state.settings.trusted_proxies)
        async with state.db.connection() as conn:
            await ratelimit.count(
                conn, Limit.of(state.settings, f"api:bad-token:ip:{ratelimit.address(ip)}", BAD_TOKEN_LIMIT, API_WINDOW)
            )
        raise Problem(401, "A valid API token is needed: Authorization: Bearer wbn_…", headers=_CHALLENGE)
    async with state.db.connection() as conn:
        await ratelimit.count(conn, Limit.of(state.settings, f"api:token:{token.id}", API_LIMIT, API_WINDOW))
    return token


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}


def parse_params(declared: tuple[Param, ...], request: Request) -> dict[str, Any]:
    """The declared parameters, typed; 404 for a path id that cannot exist, 422 with each bad query parameter's
    error."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for param in declared:
        if param.where == "path":
            value = request.path_params[param.name]
            if not 0 < value <= MAX_ID:
                raise Problem(404, "There is nothing at this address.")
            values[param.name] = value
            continue
        raw = request.query_params.get(param.name)
        if raw is None:
            values[param.name] = param.schema.get("default")
            continue
        try:
            values[param.name] = _typed(param.schema, raw)
        except ValueError as exc:
            errors[param.name] = str(exc)
    if errors:
        raise Problem(422, "Some parameters are not valid.", errors)
    return values


def _typed(declared: Schema, raw: str) -> Any:
    kind = declared.get("type")
    if kind == "integer":
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
            raise ValueError("must be a whole number")
        value: Any = int(raw)
    elif declared.get("format") == "date-time":
        value = _moment(raw)
    else:
        value = raw
    problems = schema.check(declared if kind != "string" or "format" not in declared else {}, value)
    if problems:
        raise ValueError(next(iter(problems.values())))
    return value


def _moment(raw: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date and time (ISO 8601, with its offset)") from None
    if moment.tzinfo is None:
        raise ValueError("must say its offset from UTC (Z or +02:00)")
    if not dt.datetime(1970, 1, 2, tzinfo=dt.UTC) <= moment <= dt.datetime(9999, 1, 1, tzinfo=dt.UTC):
        raise ValueError("is out of range")
    return moment.astimezone(dt.UTC)


async def read_body(request: Request, name: str) -> Any:
    """The JSON body, checked against its schema: 415 when it is not JSON by its type, 400 when it does not parse,
    413 when it is too large, 422 with each field's error."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind != "application/json":
        raise Problem(415, "Send the body as application/json.")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > BODY_MOST:
            raise Problem(413, f"A body may have at most {BODY_MOST} bytes.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise Problem(400, "The body is not valid JSON.") from None
    errors = schema.check(ref(name), body)
    if errors:
        raise Problem(422, "Some fields are not valid.", errors)
    return body


def cursor(*values: Any) -> str:
    """The opaque cursor of the row after which the next page starts."""
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def read_cursor(raw: str | None, *kinds: type) -> tuple[Any, ...] | None:
    """The values of a cursor made by `cursor` (datetimes and ints, in `kinds`); 422 when it is not one."""
    if raw is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        typed = tuple(_cursor_value(kind, value) for kind, value in zip(kinds, values, strict=True))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Problem(422, "The cursor is not one of this list.", {"cursor": "is not a cursor of this list"}) from None
    return typed


def _cursor_value(kind: type, value: Any) -> Any:
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID:
        return value
    if kind is dt.datetime and isinstance(value, str):
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            return moment
    raise ValueError


def openapi(operations: list[Operation], base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these operations."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Webinar platform API",
            "version": "1",
            "description": "Events, registrations, viewing sessions, attendance and webhooks (docs/api.md).",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schema.COMPONENTS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "wbn_… tokens"}},
        },
    }


def _operation(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (description, name) in op.answers.items():
        responses[str(status)] = {"description": description}
        if name:
            responses[str(status)]["content"] = {"application/json": {"schema": ref(name)}}
    responses["default"] = {
        "description": "A problem (RFC 9457): 400, 401, 404, 409, 413, 415, 422, 429 (with Retry-After), 503.",
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }
    described: dict[str, Any] = {
        "operationId": op.name, "summary": op.summary, "tags": list(op.tags), "responses": responses,
        "parameters": [
            {"name": p.name, "in": p.where, "required": p.required, "schema": p.schema, "description": p.description}
            for p in op.params
        ],
    }  # fmt: skip
    if op.body:
        described["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(op.body)}}}
    return described
