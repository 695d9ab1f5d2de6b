"""The signed-in staff member's own settings: the language of the back office."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webinar import i18n
from webinar.accounts import staff
from webinar.state import app_state
from webinar.web.forms import read_form, text


def _back(path: str) -> str:
    # Only a path inside the back office: never an address elsewhere (no open redirect).
    return path if path.startswith("/admin/") and not path.startswith("//") and "\\" not in path else "/admin/"


async def account_language(request: Request) -> Response:
    """`POST /admin/account/language`: keep the chosen language on the account; back to the same page."""
    form = await read_form(request)
    language = text(form, "language")
    if language in i18n.LANGUAGES:
        async with app_state(request).db.transaction() as conn:
            await staff.set_language(conn, request.state.staff.id, language)
    return RedirectResponse(_back(text(form, "next")), status_code=303)
