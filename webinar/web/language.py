"""The language of a page: the visitor's choice, then the event's language, then the browser's, then English."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webinar import i18n
from webinar.web.cookies import cookie_name, request_cookies, set_cookie_value

COOKIE_NAME = "webinar_lang"
_CHOSEN = "chosen_language"  # where the middleware keeps the visitor's explicit choice for the request
MAX_AGE = 60 * 60 * 24 * 365
QUERY_PARAM = "lang"
# The names the switcher shows, each in its own language (a Romanian speaker looks for "RO", not "Romanian").
LABELS = {"ro": ("RO", "Română"), "en": ("EN", "English")}


def _known(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value if value in i18n.LANGUAGES else None


def chosen_language(conn: HTTPConnection) -> str | None:
    """The visitor's explicit choice: `?lang=` on this request, else the one remembered in the cookie (read once
    per request, by the middleware, when it runs)."""
    state = conn.scope.get("state", {})
    if _CHOSEN in state:
        chosen: str | None = state[_CHOSEN]
        return chosen
    return _known(conn.query_params.get(QUERY_PARAM)) or _known(request_cookies(conn.scope).get(COOKIE_NAME))


def pick_language(conn: HTTPConnection, event_language: str | None = None) -> str:
    """`?lang=` → the cookie → the event's language → Accept-Language → English (the whole rule, in one place)."""
    return (
        chosen_language(conn)
        or _known(event_language)
        or i18n.from_accept_language(conn.headers.get("accept-language"))
        or i18n.DEFAULT_LANGUAGE
    )


def choose_language(conn: HTTPConnection, event_language: str | None = None) -> str:
    """Pick the language of this page (see `pick_language`), make it the active one and return it."""
    return i18n.activate(pick_language(conn, event_language))


def switcher_links(conn: HTTPConnection) -> list[dict[str, str | bool]]:
    """One link per language to the same page (other query parameters kept), the active one marked."""
    current = i18n.active()
    links: list[dict[str, str | bool]] = []
    for code in i18n.LANGUAGES:
        short, name = LABELS[code]
        url = conn.url.remove_query_params(QUERY_PARAM).include_query_params(**{QUERY_PARAM: code})
        href = url.path + (f"?{url.query}" if url.query else "")
        links.append({"code": code, "short": short, "name": name, "href": href, "current": code == current})
    return links


def cookie_header(language: str, https_only: bool) -> str:
    """The Set-Cookie value remembering a language for a year (HttpOnly, SameSite=Lax)."""
    return set_cookie_value(cookie_name(COOKIE_NAME, https_only), language, MAX_AGE, https_only)


class LanguageMiddleware:
    """Starts every request in the visitor's language and remembers an explicit `?lang=` in a cookie.

    Views that know their event refine the choice with `choose_language(request, event.language)`. The
    language is reset when the request ends, so one request's choice never leaks into the next.
    """

    def __init__(self, app: ASGIApp, https_only: bool) -> None:
        self.app = app
        self.https_only = https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        explicit = _known(conn.query_params.get(QUERY_PARAM))
        remembered = request_cookies(scope).get(cookie_name(COOKIE_NAME, self.https_only))
        scope.setdefault("state", {})[_CHOSEN] = explicit or _known(remembered)
        with i18n.use(pick_language(conn)):

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = MutableHeaders(scope=message)
                    if headers.get("content-type", "").startswith("text/html"):
                        # The same URL answers in another language for another browser or choice: tell caches.
                        headers.add_vary_header("Accept-Language, Cookie")
                    if explicit and explicit != remembered:
                        headers.append("Set-Cookie", cookie_header(explicit, self.https_only))
                await send(message)

            await self.app(scope, receive, send_with_cookie)
