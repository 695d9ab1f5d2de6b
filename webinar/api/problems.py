"""The API's errors as `application/problem+json` (RFC 9457): one exception, and the handlers of its mount."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.web.errors import DATABASE_DOWN, UNSTORABLE_TEXT, RateLimited

log = logging.getLogger("webinar.api")
PROBLEM = "application/problem+json"


class Problem(Exception):
    """An answer other than success: a status, a title, optionally a detail, each field's error and headers."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors or {}, headers or {}

    def response(self) -> Response:
        body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(self.status).phrase, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = self.errors
        return problem_response(body, self.status, self.headers)


def problem_response(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False).encode()
    return Response(content, status_code=status, media_type=PROBLEM, headers=headers)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response()


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
    return Problem(exc.status_code, detail, headers=dict(exc.headers or {})).response()


async def _rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    return Problem(429, "Too many requests; try again later.", headers={"Retry-After": str(exc.retry_after)}).response()


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return Problem(503, "The service is briefly unavailable.", headers={"Retry-After": "5"}).response()


async def _unstorable(request: Request, exc: Exception) -> Response:
    return Problem(422, "The request contains characters that cannot be stored.").response()


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Problem(500, "An error happened on our side; it has been logged.").response()


def handlers() -> dict:
    """The handler table of the API's mount: every error it answers is a problem document."""
    table: dict = {Problem: _problem, HTTPException: _http, RateLimited: _rate_limited, Exception: _server_error}
    for exc_type in DATABASE_DOWN:
        table[exc_type] = _unavailable
    for exc_type in UNSTORABLE_TEXT:
        table[exc_type] = _unstorable
    return table
