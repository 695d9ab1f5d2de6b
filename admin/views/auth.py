"""Staff login and logout."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import signin
from admin.auth import current_staff
from webinar import i18n
from webinar.accounts import sessions, staff
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.cookies import cookie_name, current_sid, request_cookies, set_cookie_value, set_sid
from webinar.web.forms import read_form, text
from webinar.web.language import choose_language


def _safe_next(value: str) -> str:
    """Only local admin paths; never an open redirect."""
    return value if value.startswith("/admin") and not value.startswith("//") else "/admin/"


async def login_form(request: Request) -> Response:
    if await current_staff(request):
        return RedirectResponse(request.url_for("admin:dashboard"), status_code=303)
    return _render(request, "", request.query_params.get("next", ""), error=None)


def _render(request: Request, email: str, next_url: str, error: str | None, status: int = 200) -> Response:
    request.scope.setdefault("state", {}).setdefault("staff", None)  # the nav asks; a failed login has no one
    choose_language(request)
    return app_state(request).templates.TemplateResponse(
        request, "admin/login.html", {"email": email, "next": next_url, "error": error}, status_code=status
    )


async def login(request: Request) -> Response:
    """`POST /admin/login`: the password under the login limits (admin/signin.py); a known device gets through."""
    form = await read_form(request)
    email, password, next_url = text(form, "email"), form.get("password"), text(form, "next")
    password = password if isinstance(password, str) else ""
    settings = app_state(request).settings
    done = await signin.sign_in(app_state(request).db, settings, email, password, _client(request))
    if done is None:
        return _render(request, email, next_url, error=i18n.gettext("Wrong e-mail address or password."), status=400)
    if isinstance(done, signin.SecondStep):
        return _render_code(request, done.token, next_url, error=None)
    return await _signed_in(request, done, next_url, text(form, "language"))


async def login_code(request: Request) -> Response:
    """`POST /admin/login/code`: the second step of a login to an account with two-factor sign-in."""
    form = await read_form(request)
    token, code, next_url = text(form, "token"), text(form, "code"), text(form, "next")
    settings = app_state(request).settings
    if signin.pending_user(settings, token, current_sid(request)) is None:
        error = i18n.gettext("That took too long; please sign in again.")
        return _render(request, "", next_url, error=error, status=400)
    done = await signin.second_step(app_state(request).db, settings, token, code, _client(request))
    if done is None:
        return _render_code(request, token, next_url, error=i18n.gettext("Wrong code."), status=400)
    return await _signed_in(request, done, next_url, text(form, "language"))


def _client(request: Request) -> signin.Client:
    settings = app_state(request).settings
    return signin.Client(
        client_ip(request, settings.trusted_proxies),
        request.headers.get("user-agent", ""),
        current_sid(request),
        request_cookies(request.scope).get(cookie_name(signin.DEVICE_COOKIE, settings.https_only)),
    )


def _render_code(request: Request, token: str, next_url: str, error: str | None, status: int = 200) -> Response:
    request.scope.setdefault("state", {}).setdefault("staff", None)
    choose_language(request)
    context = {"token": token, "next": next_url, "error": error}
    response: Response = app_state(request).templates.TemplateResponse(
        request, "admin/login_code.html", context, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"  # the page carries the second step's token
    return response


async def _signed_in(request: Request, done: signin.SignedIn, next_url: str, language: str) -> Response:
    settings = app_state(request).settings
    if language in i18n.LANGUAGES and language != done.user.language:
        async with app_state(request).db.connection() as conn:
            await staff.set_language(conn, done.user.id, language)  # they logged in in it: the back office stays in it
    set_sid(request, done.sid)
    response = RedirectResponse(_safe_next(next_url), status_code=303)
    _set_device(response, settings.https_only, done.device_cookie)
    return response


def _set_device(response: Response, https: bool, value: str) -> None:
    name = cookie_name(signin.DEVICE_COOKIE, https)
    response.headers.append("set-cookie", set_cookie_value(name, value, signin.DEVICE_DAYS * 86400, https))


async def logout(request: Request) -> Response:
    await read_form(request)
    sid = current_sid(request)
    if sid is not None:
        async with app_state(request).db.transaction() as conn:
            await sessions.revoke(conn, sid)
    set_sid(request, None)
    return RedirectResponse(f"{request.url_for('admin:login')}?signed_out=1", status_code=303)  # the page says so
