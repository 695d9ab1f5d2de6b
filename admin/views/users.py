"""Staff accounts (operators only): the list, a new account, "log out everywhere" and deactivation."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import queries, services
from admin.account_forms import parse_staff_form
from admin.pages import actor, path_id, render
from webinar.accounts import staff
from webinar.i18n import gettext as _
from webinar.state import app_state
from webinar.web.forms import read_form

EMPTY = {"email": "", "role": "organiser", "organisation_id": ""}


async def _page(request: Request, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Response:
    async with app_state(request).db.connection() as conn:
        users = await staff.all_users(conn)
        organisations = await queries.all_organisations(conn)
    context = {"users": users, "organisations": organisations, "values": values, "errors": errors}
    return render(request, "admin/users.html", context, status)


async def users(request: Request) -> Response:
    return await _page(request, dict(EMPTY), {})


async def user_create(request: Request) -> Response:
    form = await read_form(request)
    async with app_state(request).db.connection() as conn:
        organisation_ids = {org.id for org in await queries.all_organisations(conn)}
    data, errors, values = parse_staff_form(form, organisation_ids)
    if data is not None:
        try:
            await services.create_staff_account(app_state(request).db, actor(request), data)
        except services.Taken:
            errors = {"email": _("A staff account with this address already exists.")}
    if errors:
        return await _page(request, values, errors, status=422)
    return RedirectResponse(request.url_for("admin:users"), status_code=303)


async def user_revoke_sessions(request: Request) -> Response:
    await read_form(request)
    if not await services.revoke_staff_sessions(app_state(request).db, actor(request), path_id(request, "user_id")):
        raise HTTPException(404)
    return RedirectResponse(request.url_for("admin:users"), status_code=303)


async def user_deactivate(request: Request) -> Response:
    await read_form(request)
    user_id = path_id(request, "user_id")
    if user_id == request.state.staff.id:
        raise HTTPException(400, _("You cannot deactivate your own account: ask another operator."))
    if not await services.deactivate_staff(app_state(request).db, actor(request), user_id):
        raise HTTPException(404)
    return RedirectResponse(request.url_for("admin:users"), status_code=303)
