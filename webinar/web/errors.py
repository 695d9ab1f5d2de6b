"""Friendly error pages: what went wrong in plain words, never a stack trace."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping

import asyncpg
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from webinar.i18n import gettext as _
from webinar.state import app_state
from webinar.web.redact import redact

log = logging.getLogger("webinar")


class RateLimited(Exception):
    """Too many attempts; the client may try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood. Please check what you sent and try again.")),
        403: (_("Not allowed"), _("You do not have access to this page.")),
        404: (_("Page not found"), _("There is no page at this address. It may have moved, or the link is wrong.")),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        413: (_("Too large"), _("What you sent is too large. Please send less and try again.")),
        429: (_("Too many attempts"), _("Please wait a little and try again.")),
        500: (_("Something went wrong"), _("An error happened on our side. It has been logged; please try again.")),
        503: (
            _("Temporarily unavailable"),
            _("The service is briefly unavailable. Please try again in a few seconds."),
        ),
    }


def render_error(
    request: Request, status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """The error page for a status, with an optional more specific message."""
    title, message = _titles().get(status, (_("Error"), ""))
    if detail and status not in (404, 500, 503):
        message = detail
    if request.scope["type"] != "http":
        return PlainTextResponse(message, status_code=status)
    templates = app_state(request).templates
    return templates.TemplateResponse(
        request,
        "errors/error.html",
        {"status": status, "title": title, "message": message},
        status_code=status,
        headers=dict(headers) if headers else None,
    )


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.detail and exc.detail != _default_phrase(exc.status_code) else None
    return render_error(request, exc.status_code, detail, exc.headers)


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


async def rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    return render_error(request, 429, headers={"Retry-After": str(exc.retry_after)})


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return render_error(request, 503, headers={"Retry-After": "5"})


async def unstorable_text(request: Request, exc: Exception) -> Response:
    """Text PostgreSQL cannot hold (NUL) that reached a query unchecked: the sender's fault, a 422, never a 500."""
    log.warning("refused unstorable text on %s %s: %s", request.method, redact(request.url.path), exc)
    return render_error(request, 422, _("This contains characters that are not allowed."))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, redact(request.url.path), exc_info=exc)
    return render_error(request, 500)


# Exceptions that mean "the database cannot be reached right now", not "our code is wrong".
DATABASE_DOWN: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.QueryCanceledError,
    # A pooled connection whose server backend was terminated mid-operation can surface as this.
    asyncpg.exceptions.InternalClientError,
    sqlite3.OperationalError,
)


# "invalid byte sequence for encoding UTF8: 0x00" and its kin: the input, not the database, is at fault.
UNSTORABLE_TEXT: tuple[type[Exception], ...] = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)


def exception_handlers() -> dict:
    """The handler table for `Starlette(exception_handlers=…)`."""
    handlers: dict = {HTTPException: http_exception, RateLimited: rate_limited, Exception: server_error}
    for exc_type in DATABASE_DOWN:
        handlers[exc_type] = database_unavailable
    for exc_type in UNSTORABLE_TEXT:
        handlers[exc_type] = unstorable_text
    return handlers
