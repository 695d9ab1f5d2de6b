"""The session cookie: a signed, opaque session id, read and written by a small middleware; how every cookie of
ours is named and written (`__Host-` first with HTTPS)."""

from __future__ import annotations

import re

from itsdangerous import BadSignature, Signer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webinar.accounts.sessions import new_id

COOKIE_NAME = "webinar_session"
MAX_AGE = 60 * 60 * 24 * 30


class SessionCookieMiddleware:
    """Puts the verified raw session id in `scope["state"]["sid"]` and writes the cookie when it changes."""

    def __init__(self, app: ASGIApp, secret: str, https_only: bool) -> None:
        self.app = app
        self.signer = Signer(secret, salt="webinar.session-cookie")
        self.https_only = https_only
        self.name = cookie_name(COOKIE_NAME, https_only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["sid"] = self._read(request_cookies(scope).get(self.name))
        state["sid_changed"] = False

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get("sid_changed"):
                headers = MutableHeaders(scope=message)
                headers.append("Set-Cookie", self._cookie(state.get("sid")))
                headers.append("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _read(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return self.signer.unsign(value).decode()
        except BadSignature:
            return None

    def _cookie(self, sid: str | None) -> str:
        value = self.signer.sign(sid).decode() if sid else ""
        return set_cookie_value(self.name, value, MAX_AGE if sid else 0, self.https_only)


def cookie_name(name: str, https: bool) -> str:
    """The name a cookie goes by: with HTTPS, `__Host-` first, which browsers keep only when it was set Secure,
    for Path=/ and without a Domain (so no sibling subdomain, nor plain HTTP, can plant or overwrite it)."""
    return f"__Host-{name}" if https else name


def set_cookie_value(name: str, value: str, max_age: int, secure: bool) -> str:
    """A Set-Cookie value for the whole site, HttpOnly and SameSite=Lax. `value` must be a cookie-safe token (our
    signed ids and language codes are: letters, digits, '-', '_' and '.'), so nothing is quoted."""
    if not _COOKIE_SAFE.fullmatch(value):
        raise ValueError(f"not a cookie-safe value: {value!r}")
    return f"{name}={value}; HttpOnly; Max-Age={max_age}; Path=/; SameSite=Lax" + ("; Secure" if secure else "")


_COOKIE_SAFE = re.compile(r"[A-Za-z0-9._-]*")


def request_cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies, parsed once per request (each middleware that reads them shares the result)."""
    state = scope.setdefault("state", {})
    cookies: dict[str, str] | None = state.get("cookies")
    if cookies is None:
        cookies = state["cookies"] = HTTPConnection(scope).cookies
    return cookies


def current_sid(conn: HTTPConnection) -> str | None:
    """The raw session id the browser presented (verified), if any."""
    sid: str | None = conn.scope.get("state", {}).get("sid")
    return sid


def ensure_sid(conn: HTTPConnection) -> str:
    """The browser's session id, giving it one (anonymous, no row) when it has none: CSRF tokens bind to it."""
    sid = current_sid(conn)
    if sid is None:
        sid = new_id()
        set_sid(conn, sid)
    return sid


def set_sid(conn: HTTPConnection, sid: str | None) -> None:
    """Replace the browser's session id (a new one at every login; None clears the cookie)."""
    state = conn.scope.setdefault("state", {})
    state["sid"] = sid
    state["sid_changed"] = True
