"""The signed-in staff member's own settings: the language of the back office, two-factor sign-in, their sessions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import passwords, signin, twofactor
from admin.account_forms import parse_new_password
from admin.auth import must_enrol
from webinar import i18n
from webinar.accounts import staff
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.cookies import current_sid, set_sid
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


async def _render(request: Request, context: dict[str, object] | None = None, status: int = 200) -> Response:
    settings, user = app_state(request).settings, request.state.staff
    async with app_state(request).db.connection() as conn:
        left = await twofactor.codes_left(conn, user.id) if user.has_two_factor else 0
    values = {
        "idle_minutes": settings.staff_session_idle_minutes,
        "max_hours": settings.staff_session_max_hours,
        "must_enrol": must_enrol(settings, user),
        "codes_left": left,
        "error": None,
        "password_errors": {},
        "notice": request.query_params.get("done", ""),
        **(context or {}),
    }
    return _page(request, "admin/account.html", values, status)


def _page(request: Request, name: str, context: dict[str, object], status: int = 200) -> Response:
    response: Response = app_state(request).templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"  # secrets and recovery codes stay out of every cache
    return response


async def account(request: Request) -> Response:
    """`GET /admin/account`: the staff member's own sign-in: password, two-factor, their sessions ("log out
    everywhere"), and an organiser's daily e-mail of registrations waiting for approval."""
    return await _render(request)


async def two_factor_start(request: Request) -> Response:
    """`POST /admin/account/two-factor`: the enrolment page: the QR code to scan, then a code to confirm it."""
    await read_form(request)
    user = request.state.staff
    if user.has_two_factor:
        return RedirectResponse(request.url_for("admin:account"), status_code=303)
    enrolment = await twofactor.start(app_state(request).db, user)
    return _page(request, "admin/two_factor_enrol.html", {"enrolment": enrolment, "error": None})


async def two_factor_confirm(request: Request) -> Response:
    """`POST /admin/account/two-factor/confirm`: a first code turns two-factor sign-in on; the recovery codes,
    shown this once."""
    form = await read_form(request)
    user, state = request.state.staff, app_state(request)
    if user.has_two_factor:
        return RedirectResponse(request.url_for("admin:account"), status_code=303)
    codes = await twofactor.confirm(state.db, state.settings, user, text(form, "code"), _ip(request))
    if codes is None:
        enrolment = await twofactor.start(state.db, user)
        error = i18n.gettext("Wrong code. Check the time on your phone and type the code the app shows now.")
        return _page(request, "admin/two_factor_enrol.html", {"enrolment": enrolment, "error": error}, 400)
    return _page(request, "admin/recovery_codes.html", {"codes": codes})


async def two_factor_codes(request: Request) -> Response:
    """`POST /admin/account/two-factor/recovery-codes`: new recovery codes after a right code (the old ones stop
    working)."""
    form = await read_form(request)
    state = app_state(request)
    codes = await twofactor.regenerate(state.db, state.settings, request.state.staff, text(form, "code"), _ip(request))
    if codes is None:
        return await _render(request, {"error": i18n.gettext("Wrong code.")}, 400)
    return _page(request, "admin/recovery_codes.html", {"codes": codes})


async def two_factor_off(request: Request) -> Response:
    """`POST /admin/account/two-factor/off`: turn two-factor sign-in off after a right code."""
    form = await read_form(request)
    state = app_state(request)
    if not await twofactor.turn_off(state.db, state.settings, request.state.staff, text(form, "code"), _ip(request)):
        return await _render(request, {"error": i18n.gettext("Wrong code.")}, 400)
    return RedirectResponse(request.url_for("admin:account"), status_code=303)


def _ip(request: Request) -> str:
    return client_ip(request, app_state(request).settings.trusted_proxies)


async def logout_everywhere(request: Request) -> Response:
    """`POST /admin/account/logout-everywhere`: end every session of this account, this one too."""
    await read_form(request)
    await signin.log_out_everywhere(app_state(request).db, request.state.staff, _ip(request))
    set_sid(request, None)
    return RedirectResponse(request.url_for("admin:login_form"), status_code=303)


async def password_change(request: Request) -> Response:
    """`POST /admin/account/password`: a new password after the current one; the other sessions of the account end,
    this one stays."""
    form = await read_form(request)
    state, user = app_state(request), request.state.staff
    data, errors = parse_new_password(form, ask_current=True)
    if data is not None:
        sid = current_sid(request) or ""
        if await passwords.change(state.db, state.mailer, user, data.current, data.password, sid, _ip(request)):
            return RedirectResponse(f"{request.url_for('admin:account')}?done=password", status_code=303)
        errors = {"current_password": i18n.gettext("That is not your current password.")}
    return await _render(request, {"password_errors": errors}, 400)


async def approval_digest(request: Request) -> Response:
    """`POST /admin/account/approval-digest`: an organiser's daily e-mail of registrations waiting, on or off."""
    form = await read_form(request)
    async with app_state(request).db.transaction() as conn:
        await staff.set_approval_digest(conn, request.state.staff.id, text(form, "approval_digest") == "on")
    return RedirectResponse(f"{request.url_for('admin:account')}?done=digest", status_code=303)
