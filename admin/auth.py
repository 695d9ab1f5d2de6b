"""Who the staff member is: their session, their role, and which organisation's data they may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webinar import i18n
from webinar.accounts import sessions, staff
from webinar.accounts.staff import StaffUser
from webinar.state import app_state
from webinar.web.cookies import current_sid

View = Callable[[Request], Awaitable[Response]]


async def current_staff(request: Request) -> StaffUser | None:
    """The logged-in staff user of this request, if any (cached on the request)."""
    if "staff" in request.scope.setdefault("state", {}):
        cached: StaffUser | None = request.state.staff
        return cached
    user = None
    sid = current_sid(request)
    if sid:
        settings = app_state(request).settings
        async with app_state(request).db.connection() as conn:
            session = await sessions.load(conn, sid, dt.timedelta(minutes=settings.session_idle_minutes))
            if session and session.kind == "staff" and session.staff_user_id is not None:
                user = await staff.by_id(conn, session.staff_user_id)
    request.state.staff = user
    return user


def staff_required(view: View) -> View:
    """Send anonymous visitors to the login page; make the staff user available as `request.state.staff`."""

    @wraps(view)
    async def wrapper(request: Request) -> Response:
        user = await current_staff(request)
        if user is None:
            login = request.url_for("admin:login").include_query_params(next=request.url.path)
            return RedirectResponse(str(login), status_code=303)
        i18n.activate(user.language)
        return await view(request)

    return wrapper


def operator_required(view: View) -> View:
    """Like staff_required, and 404 for organisers: they should not learn the page exists."""

    @staff_required
    @wraps(view)
    async def wrapper(request: Request) -> Response:
        if not request.state.staff.is_operator:
            raise HTTPException(404)
        return await view(request)

    return wrapper


def organisation_scope(user: StaffUser) -> int | None:
    """The organisation whose data the user may see; None for operators (all of them)."""
    return None if user.is_operator else user.organisation_id
