"""Absolute URLs of the app's own pages, built once per address the site is reached at, and redirects to them."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse

_MOST = 4096
_built: dict[tuple[Hashable, ...], str] = {}


def address(conn: HTTPConnection) -> tuple[Hashable, ...]:
    """Everything an absolute URL of this app depends on besides the route: scheme, host, root path."""
    scope = conn.scope
    host = conn.headers.get("host")
    return scope["scheme"], host, scope.get("server"), scope.get("root_path"), scope.get("app_root_path")


def url(conn: HTTPConnection, name: str, **params: Any) -> str:
    """The absolute URL of route `name` (Starlette's `url_for`, which tries every route and builds URL objects,
    made once for each address, route and parameters)."""
    key = (conn.app, *address(conn), name, *sorted(params.items()))
    found = _built.get(key)
    if found is None:
        if len(_built) >= _MOST:
            _built.clear()
        found = _built[key] = str(conn.url_for(name, **params))
    return found


def see_other(conn: HTTPConnection, name: str, query: str = "", **params: Any) -> RedirectResponse:
    """303 See Other to route `name` (after a form, or from the join link to the stream page)."""
    return RedirectResponse(url(conn, name, **params) + query, status_code=303)
