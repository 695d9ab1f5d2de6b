"""Pages every visitor sees alike but for their CSRF token: rendered once, then served with the token filled in.

The stream page is loaded by everyone in the minutes before a webinar starts, and rendering it was the largest
part of serving it. A page is kept under everything its output depends on: the template, the caller's key
(for an event: its id and `updated_at`, which every edit changes), the language, and the request's scheme,
host, path and query (the page's absolute links and language switcher). The context given must hold only what
that key covers, never anything of one visitor (their name, their session): templates are strict about
undefined names, so a page that starts using one fails instead of showing it to someone else.

The CSRF token is the one per-visitor part: the page is rendered with a placeholder token (random per process,
never anyone's token) that is replaced by the visitor's own token on every response.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from webinar import i18n
from webinar.web.forms import csrf_token
from webinar.web.urls import address

# The query parameters a kept page may differ by (the language switcher's, the "signed out" notice): an address with
# any other (a campaign's utm_*, a social network's click id, different for every visitor) is rendered and not kept,
# so that it cannot push out the pages everyone loads.
KEPT_PARAMETERS = frozenset({"lang", "signed_out"})


class PageCache:
    """Rendered pages by what they depend on, the most recently used `most` of them."""

    def __init__(self, templates: Jinja2Templates, most: int = 256) -> None:
        self.templates = templates
        self.most = most
        self.placeholder = secrets.token_hex(32)  # as long as a real token, and nobody's
        self._pages: OrderedDict[tuple[Hashable, ...], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    def response(self, request: Request, name: str, key: Hashable, context: Mapping[str, Any]) -> HTMLResponse:
        """The page `name` for this request: rendered from `context` the first time for `key`, then reused."""
        scope = request.scope
        full_key = (name, key, i18n.active(), *address(request), scope["path"], scope["query_string"])
        page = self._pages.get(full_key)
        if page is None:
            values = {**context, "request": request, "csrf_token": self._placeholder}
            page = self.templates.get_template(name).render(values)
            if not KEPT_PARAMETERS.issuperset(request.query_params.keys()):
                return self._with_token(request, page)
            if len(self._pages) >= self.most:
                self._pages.popitem(last=False)
            self._pages[full_key] = page
        else:
            self._pages.move_to_end(full_key)
        return self._with_token(request, page)

    def _with_token(self, request: Request, page: str) -> HTMLResponse:
        if self.placeholder not in page:  # a page without a form: no token, and no session given for one
            return HTMLResponse(page)
        return HTMLResponse(page.replace(self.placeholder, csrf_token(request)))

    def _placeholder(self, _request: Request) -> str:
        return self.placeholder
