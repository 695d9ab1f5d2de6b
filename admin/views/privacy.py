"""Staff erasures: one registrant from their page, or a whole event (export first, then purge)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.pages import path_id, render, staff_event
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.privacy import services
from webinar.privacy.erasure import Erased, Requester
from webinar.registration import queries
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form, text


def _requester(request: Request) -> Requester:
    user = request.state.staff
    ip = client_ip(request, app_state(request).settings.trusted_proxies)
    return Requester(kind="staff", actor=user.email, staff_id=user.id, ip=ip)


async def registrant_erase_form(request: Request) -> Response:
    """GET …/registrants/{registration_id}/erase: what erasure does, and the button."""
    event = await staff_event(request)
    async with app_state(request).db.connection() as conn:
        reg = await queries.by_id(conn, event.id, path_id(request, "registration_id"))
    if reg is None:
        raise HTTPException(404)
    return render(request, "admin/registrant_erase.html", {"event": event, "reg": reg})


async def registrant_erase(request: Request) -> Response:
    """POST …/registrants/{registration_id}/erase: erase one registrant's personal data now (audited)."""
    event = await staff_event(request)
    await read_form(request)
    reg_id = path_id(request, "registration_id")
    state = app_state(request)
    result = await services.erase_one(state.db, state.settings, event, reg_id, _requester(request))
    if result is Erased.MISSING:
        raise HTTPException(404)
    target = request.url_for("admin:registrant", event_id=event.id, registration_id=reg_id)
    return RedirectResponse(str(target.include_query_params(erased=result.value)), status_code=303)


def _purge_page(request: Request, event: Event, error: str = "", status: int = 200) -> Response:
    return render(request, "admin/event_purge.html", {"event": event, "error": error}, status)


async def event_purge_form(request: Request) -> Response:
    """GET /admin/events/{id}/purge: the exports to take first, and the confirm form."""
    return _purge_page(request, await staff_event(request))


async def event_purge(request: Request) -> Response:
    """POST /admin/events/{id}/purge: erase every registration and mark the event purged (typing its slug confirms)."""
    event = await staff_event(request)
    form = await read_form(request)
    if text(form, "confirm_slug") != event.slug:
        return _purge_page(request, event, _("Type the event's slug exactly to confirm."), 422)
    if event.purged_at is None:
        await services.purge_event(app_state(request).db, event, _requester(request))
    return RedirectResponse(str(request.url_for("admin:event", event_id=event.id)), status_code=303)
