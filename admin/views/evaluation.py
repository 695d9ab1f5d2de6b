"""An event's final evaluation in the back office (SPEC §13): on or off, the pass mark, the questions as plain text."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.pages import render, staff_event
from webinar.evaluation import forms, queries, services
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.registration.services import Actor
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form


async def _page(
    request: Request, event: Event, values: dict[str, Any] | None, errors: dict[str, str], status: int = 200
) -> Response:
    async with app_state(request).db.connection() as conn:
        test = await queries.test_of(conn, event.id)
        answered = await queries.answered_count(conn, event.id)
    context = {
        "event": event,
        "values": values or forms.test_values(event.evaluation, event.evaluation_pass_mark, test),
        "errors": errors,
        "answered": answered,
        "test": test,
        "saved": request.query_params.get("saved", ""),
    }
    return render(request, "admin/evaluation.html", context, status)


async def evaluation(request: Request) -> Response:
    """GET /admin/events/{event_id}/evaluation."""
    return await _page(request, await staff_event(request), None, {})


async def evaluation_post(request: Request) -> Response:
    """POST /admin/events/{event_id}/evaluation: save the evaluation (refused once anyone has taken it)."""
    event = await staff_event(request)
    form = await read_form(request)
    data, errors, values = forms.parse_test_form(form)
    if data is not None:
        user, state = request.state.staff, app_state(request)
        actor = Actor(user.id, user.email, client_ip(request, state.settings.trusted_proxies))
        try:
            await services.save(state.db, event, data, actor)
        except services.Locked:
            errors = {"questions": _("People have already taken this evaluation, so it can no longer change.")}
    if errors:
        return await _page(request, event, values, errors, 422)
    target = request.url_for("admin:evaluation", event_id=event.id).include_query_params(saved="1")
    return RedirectResponse(str(target), status_code=303)
