"""ASGI middleware: security headers, request-size limits and cross-site Origin refusal."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOWHERE = "'none'"


def content_security_policy(frame_src: str | None = None, frame_ancestors: str | None = None) -> str:
    """Our CSP: no inline script, nothing from third parties except a stream the organiser chose, and framed by
    nobody but the sites an event lists for its embedded form."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            # HLS playlists and segments come from the organiser's streaming provider.
            "media-src 'self' https: blob:",
            "connect-src 'self' https:",
            "worker-src 'self' blob:",
            f"frame-src {frame_src}" if frame_src else "frame-src 'none'",
            f"frame-ancestors {frame_ancestors or NOWHERE}",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


# The pages with personal data, which no cache (a shared proxy's, the browser's back button on a shared computer) may
# keep: the back office, /me and what hangs off it, the stream page, and the pages of the personal links.
PRIVATE_PATHS = re.compile(r"/admin(/.*)?|/events/[^/]+/(me|watch|join|cancel|unsubscribe)(/.*)?")
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (and `Cache-Control: no-store` to the PRIVATE_PATHS'); a page
    may widen frame-src for its embed (`state.csp_frame_src`), and an embed page may be framed by the sites its event
    lists (`state.csp_frame_ancestors`, webinar/events/embed.py): then it has no X-Frame-Options, which knows only
    DENY or SAMEORIGIN (browsers that know frame-ancestors ignore it there anyway)."""

    def __init__(self, app: ASGIApp, https_only: bool) -> None:
        self.app = app
        self.https_only = https_only
        self.headers = self._headers(None, None)  # the same on every page but the embedding and embedded: built once

    def _headers(self, frame_src: str | None, frame_ancestors: str | None) -> list[tuple[bytes, bytes]]:
        headers = {
            "content-security-policy": content_security_policy(frame_src, frame_ancestors),
            "x-frame-options": "DENY",
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
            "cross-origin-opener-policy": "same-origin",
        }
        if frame_ancestors not in (None, NOWHERE):
            del headers["x-frame-options"]
        if self.https_only:
            headers["strict-transport-security"] = "max-age=63072000; includeSubDomains"
        return [(name.encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        private = PRIVATE_PATHS.fullmatch(scope["path"]) is not None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state", {})
                frame_src, ancestors = state.get("csp_frame_src"), state.get("csp_frame_ancestors")
                ours = self._headers(frame_src, ancestors) if frame_src or ancestors else self.headers
                headers = message.setdefault("headers", [])
                if private:  # whatever the page said: nothing personal is kept by a cache
                    headers = [h for h in headers if h[0].lower() != b"cache-control"] + [NO_STORE]
                present = {name.lower() for name, _value in headers}  # a response's own value wins
                message["headers"] = [*headers, *(h for h in ours if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies over the limit with 413, before or while they are read.

    `uploads` maps the paths that take a file (regular expressions, matched whole) to their own, larger limit. Such
    a request goes on to its handler even when its declared length is over it, so that the page can say so in
    words (the handler looks at the length before reading anything); reading past the limit raises 413 there too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = [(re.compile(path), most) for path, most in (uploads or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        most = next((m for path, m in self.uploads if path.fullmatch(scope["path"])), None)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or (int(length) > self.max_bytes and most is None)):
            status = 413 if length.isdigit() else 400
            await _plain(send, status, b"Request body too large." if status == 413 else b"Bad Content-Length.", scope)
            return
        limit = most or self.max_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413)
            return message

        await self.app(scope, limited_receive, send)


class NulRefusalMiddleware:
    """Refuses (400) a path or query string carrying NUL: nothing legitimate does, and PostgreSQL cannot store it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            query = scope.get("query_string", b"").lower()
            if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
                if scope["type"] == "http":
                    await _plain(send, 400, b"Bad request: the address contains a NUL character.", scope)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin_of(url: str) -> str:
    """The origin of a URL as browsers write it in an Origin header: lower-case scheme and host, no default port."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:  # not a port: no origin of ours
        return ""
    return f"{scheme}://{host}" if port in (None, DEFAULT_PORTS.get(scheme)) else f"{scheme}://{host}:{port}"


def same_origin(origin: str | None, base_url: str) -> bool:
    """Whether an Origin header names our site, BASE_URL, and nothing else: the Host header is the client's to
    choose (a rebound DNS name sends its own), so it is never what the origin is compared with."""
    return bool(origin) and origin_of(origin or "") == origin_of(base_url)


class OriginCheckMiddleware:
    """Refuses unsafe requests whose Origin header names another site than BASE_URL (a CSRF defence in depth)."""

    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        self.base_url = base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not same_origin(origin, self.base_url):
                await _plain(send, 403, b"Cross-site request refused.", scope)
                return
        await self.app(scope, receive, send)


API_PREFIX = "/api/"  # the JSON API answers its refusals as problem documents (RFC 9457), like its own errors


async def _plain(send: Send, status: int, body: bytes, scope: Scope) -> None:
    kind = b"text/plain; charset=utf-8"
    if scope.get("path", "").startswith(API_PREFIX):
        detail = json.dumps(body.decode()).encode()
        body = b'{"type": "about:blank", "title": "%s", "status": %d, "detail": %s}' % (
            HTTPStatus(status).phrase.encode(),
            status,
            detail,
        )
        kind = b"application/problem+json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
