"""A forgotten staff password: ask for a reset link from the login page, then set a new password with it."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import passwords
from admin.account_forms import parse_new_password
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form, text
from webinar.web.language import choose_language


def _page(request: Request, name: str, context: dict[str, object], status: int = 200) -> Response:
    request.scope.setdefault("state", {}).setdefault("staff", None)  # nobody is signed in on these pages
    choose_language(request)
    values = {"minutes": passwords.RESET_MINUTES, **context}
    # The site's Referrer-Policy (same-origin) already keeps the link's token out of any Referer
    # sent elsewhere; "no-referrer" here would make the browser post its forms with `Origin: null`, refused.
    response: Response = app_state(request).templates.TemplateResponse(request, name, values, status_code=status)
    return response


def _ip(request: Request) -> str:
    return client_ip(request, app_state(request).settings.trusted_proxies)


async def ask_form(request: Request) -> Response:
    """`GET /admin/password-reset`: the address to send a reset link to."""
    return _page(request, "admin/password_forgot.html", {"sent": False, "email": ""})


async def ask(request: Request) -> Response:
    """`POST /admin/password-reset`: the same answer whether or not an account has the address (rate-limited); the
    e-mail, if any, is queued after the answer is sent."""
    form = await read_form(request)
    email = text(form, "email")[:254]
    state = app_state(request)
    later = await passwords.ask_reset(state.db, state.mailer, email, _ip(request))
    response = _page(request, "admin/password_forgot.html", {"sent": True, "email": email})
    response.background = BackgroundTask(later)
    return response


async def reset_form(request: Request) -> Response:
    """`GET /admin/password-reset/{token}`: the new-password form, or why the link does not work (a GET changes
    nothing: a mail scanner opening the link spends nothing)."""
    state = app_state(request)
    user = await passwords.reset_holder(state.db, state.settings, request.path_params["token"])
    if user is None:
        return _page(request, "admin/password_reset.html", {"user": None, "errors": {}}, 400)
    return _page(request, "admin/password_reset.html", {"user": user, "errors": {}})


async def reset(request: Request) -> Response:
    """`POST /admin/password-reset/{token}`: set the new password; every session of the account ends, and signing
    in (with the second factor, when the account has it) comes next."""
    form = await read_form(request)
    state, token = app_state(request), request.path_params["token"]
    data, errors = parse_new_password(form)
    if data is None:
        user = await passwords.reset_holder(state.db, state.settings, token)
        return _page(request, "admin/password_reset.html", {"user": user, "errors": errors}, 400)
    done = await passwords.reset(state.db, state.mailer, token, data.password, _ip(request))
    if done is None:
        return _page(request, "admin/password_reset.html", {"user": None, "errors": {}}, 400)
    return RedirectResponse(f"{request.url_for('admin:login_form')}?password_reset=1", status_code=303)
