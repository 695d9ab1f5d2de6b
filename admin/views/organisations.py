"""Client organisations (operators only): the list and the form that adds one."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import queries, services
from admin.account_forms import parse_organisation_form
from admin.pages import actor, path_id, render
from webinar.i18n import gettext as _
from webinar.state import app_state
from webinar.web.forms import read_form

EMPTY = {"name": "", "slug": "", "contact_email": ""}


async def _page(request: Request, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Response:
    async with app_state(request).db.connection() as conn:
        organisations = await queries.all_organisations(conn)
    context = {"organisations": organisations, "values": values, "errors": errors}
    return render(request, "admin/organisations.html", context, status)


async def organisations(request: Request) -> Response:
    return await _page(request, dict(EMPTY), {})


async def organisation_create(request: Request) -> Response:
    data, errors, values = parse_organisation_form(await read_form(request))
    if data is not None:
        try:
            await services.create_organisation(app_state(request).db, actor(request), data)
        except services.Taken:
            errors = {"slug": _("Another organisation already uses this slug.")}
    if errors:
        return await _page(request, values, errors, status=422)
    return RedirectResponse(request.url_for("admin:organisations"), status_code=303)


async def organisation_event_editing(request: Request) -> Response:
    """`POST /admin/organisations/{id}/event-editing`: whether its organisers may create and edit its events (the
    box ticked, `organisers_edit_events=yes`, or not)."""
    allowed = (await read_form(request)).get("organisers_edit_events") == "yes"
    if not await services.set_event_editing(
        app_state(request).db, actor(request), path_id(request, "organisation_id"), allowed
    ):
        raise HTTPException(404)
    return RedirectResponse(request.url_for("admin:organisations"), status_code=303)
