"""Staff login and logout."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import current_staff
from webinar import audit, i18n
from webinar.accounts import passwords, sessions, staff
from webinar.state import app_state
from webinar.web import ratelimit
from webinar.web.client_ip import client_ip
from webinar.web.cookies import current_sid, set_sid
from webinar.web.forms import read_form, text
from webinar.web.language import choose_language

LOGIN_LIMIT = 10  # attempts per account, and per IP (x5), in each window
LOGIN_WINDOW = dt.timedelta(minutes=15)


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
    form = await read_form(request)
    email, password, next_url = text(form, "email"), form.get("password"), text(form, "next")
    password = password if isinstance(password, str) else ""
    settings = app_state(request).settings
    ip = client_ip(request, settings.trusted_proxies)
    db = app_state(request).db
    async with db.connection() as conn:
        scale = settings.rate_limit_scale
        await ratelimit.hit(conn, f"staff-login:ip:{ip}", LOGIN_LIMIT * 5, LOGIN_WINDOW, scale)
        await ratelimit.hit(conn, f"staff-login:account:{email.casefold()}", LOGIN_LIMIT, LOGIN_WINDOW, scale)
        found = await staff.credentials(conn, email) if email else None
    ok = await passwords.verify_password(found[1] if found else None, password)
    if not ok or found is None:
        return _render(request, email, next_url, error=i18n.gettext("Wrong e-mail address or password."), status=400)
    user = found[0]
    async with db.transaction() as conn:
        if (old := current_sid(request)) is not None:
            await sessions.revoke(conn, old)
        sid = await sessions.create(
            conn,
            sessions.new(
                kind="staff",
                staff_user_id=user.id,
                max_age=dt.timedelta(hours=settings.session_max_hours),
                ip=ip,
                user_agent=request.headers.get("user-agent"),
            ),
        )
        await staff.record_login(conn, user.id)
        if (language := text(form, "language")) in i18n.LANGUAGES and language != user.language:
            await staff.set_language(conn, user.id, language)  # they logged in in it: the back office stays in it
        await audit.record(
            conn, "staff.login", actor=user.email, actor_staff_id=user.id, organisation_id=user.organisation_id, ip=ip
        )
    set_sid(request, sid)
    return RedirectResponse(_safe_next(next_url), status_code=303)


async def logout(request: Request) -> Response:
    await read_form(request)
    sid = current_sid(request)
    if sid is not None:
        async with app_state(request).db.transaction() as conn:
            await sessions.revoke(conn, sid)
    set_sid(request, None)
    return RedirectResponse(f"{request.url_for('admin:login')}?signed_out=1", status_code=303)  # the page says so
