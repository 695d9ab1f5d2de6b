"""The signed-in staff member's own settings: the language of the back office, their sessions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import signin
from webinar import i18n
from webinar.accounts import staff
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.cookies import set_sid
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


def _render(request: Request, context: dict[str, object] | None = None, status: int = 200) -> Response:
    settings = app_state(request).settings
    values = {
        "idle_minutes": settings.staff_session_idle_minutes,
        "max_hours": settings.staff_session_max_hours,
        **(context or {}),
    }
    response: Response = app_state(request).templates.TemplateResponse(
        request, "admin/account.html", values, status_code=status
    )
    return response


async def account(request: Request) -> Response:
    """`GET /admin/account`: the staff member's own sign-in: their sessions (and "log out everywhere")."""
    return _render(request)


async def logout_everywhere(request: Request) -> Response:
    """`POST /admin/account/logout-everywhere`: end every session of this account, this one too."""
    await read_form(request)
    ip = client_ip(request, app_state(request).settings.trusted_proxies)
    await signin.log_out_everywhere(app_state(request).db, request.state.staff, ip)
    set_sid(request, None)
    return RedirectResponse(request.url_for("admin:login_form"), status_code=303)
