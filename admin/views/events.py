"""Events in the back office: the event's page, and the form that creates, edits or copies one (operators, and
organisers an operator allowed: admin/routes.py EVENT_EDITING)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import queries, services
from admin.forms import copy_values, event_values, new_event_values, parse_event_form, timezone_names
from admin.pages import actor, render, staff_event
from webinar import clock
from webinar.attendance import queries as attendance
from webinar.events import embed
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.presence.queries import live_now
from webinar.registration.fields import FIELDS
from webinar.state import app_state
from webinar.web.forms import read_form


def _slug_taken() -> str:
    return _("Another event already uses this address (slug); choose another or leave it empty.")


async def _form_page(
    request: Request,
    event: Event | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    copy_of: Event | None = None,
) -> Response:
    async with app_state(request).db.connection() as conn:
        ids = await _organisation_ids(request, event or copy_of)
        organisations = [org for org in await queries.all_organisations(conn) if org.id in ids]
        versions = await event_queries.consent_versions(conn, event.id) if event else []
    context = {
        "event": event,
        "copy_of": copy_of,
        "organisations": organisations,
        "versions": versions,
        "timezones": timezone_names(),
        "fields": FIELDS,
        "values": values,
        "errors": errors,
    }
    return render(request, "admin/event_form.html", context, status)


async def _organisation_ids(request: Request, event: Event | None = None) -> set[int]:
    """The organisations the form may give the event: any for an operator; an organiser's own (the organisation of
    an event is an operator's to change)."""
    user = request.state.staff
    if not user.is_operator:
        return {event.organisation_id if event else user.organisation_id}
    async with app_state(request).db.connection() as conn:
        return {org.id for org in await queries.all_organisations(conn)}


async def _event_page(request: Request, found: Event, errors: dict[str, str], status: int = 200) -> Response:
    async with app_state(request).db.connection() as conn:
        counts = await event_queries.registration_counts(conn, found.id)
        consents = await event_queries.current_consents(conn, found.id)
        organisation = await event_queries.organisation(conn, found.organisation_id)
        watching = await live_now(conn, found.id, app_state(request).settings.presence_timeout_seconds)
        # Nobody has attended before the start: no need to run the verdict over the event's sessions.
        qualifying = await attendance.qualifying_count(conn, found) if clock.now() >= found.starts_at else 0
    context = {"event": found, "counts": counts, "consents": consents, "organisation": organisation}
    context |= {
        "watching_now": watching,
        "qualifying": qualifying,
        "errors": errors,
        "over": clock.now() >= found.ends_at,
        "embed": _embed(request, found),
    }
    return render(request, "admin/event.html", context, status)


def _embed(request: Request, found: Event) -> dict[str, Any]:
    """The embed section of the event's page: the sites allowed, and the code to paste into one of their pages."""
    path = request.app.url_path_for("embed", slug=found.slug)
    url = str(app_state(request).settings.base_url).rstrip("/") + path
    frame, resizer = embed.snippet(url, _("Registration: %(title)s") % {"title": found.title})
    return {"origins": embed.origins(found.embed_origins), "url": url, "frame": frame, "resizer": resizer}


async def event(request: Request) -> Response:
    """One event's page: when, where, how many people, which consent wording; links to what can be done."""
    return await _event_page(request, await staff_event(request), {})


async def event_cancel(request: Request) -> Response:
    """`POST /admin/events/{id}/cancel`, from the confirm box of the event's page: cancel it and e-mail everyone
    registered or waiting (422 with the box unticked; 409 once the event is over)."""
    found = await staff_event(request)
    form = await read_form(request)
    if form.get("confirm") != "yes":
        errors = {"confirm": _("Tick the box to confirm that the event is cancelled and its registrants told.")}
        return await _event_page(request, found, errors, status=422)
    state = app_state(request)
    try:
        await services.cancel_event(state.db, state.settings, actor(request), found.id)
    except services.NotCancellable:
        raise HTTPException(409, _("This event is over: it can no longer be cancelled.")) from None
    return RedirectResponse(request.url_for("admin:event", event_id=found.id), status_code=303)


async def event_new(request: Request) -> Response:
    ids = await _organisation_ids(request)
    return await _form_page(request, None, new_event_values(next(iter(ids)) if len(ids) == 1 else None), {})


async def event_create(request: Request) -> Response:
    data, errors, values = parse_event_form(await read_form(request), await _organisation_ids(request))
    if data is not None:
        try:
            event_id = await services.create_event(app_state(request).db, actor(request), data)
        except services.Taken:
            errors = {"slug": _slug_taken()}
    if errors:
        return await _form_page(request, None, values, errors, status=422)
    return RedirectResponse(request.url_for("admin:event", event_id=event_id), status_code=303)


async def event_edit(request: Request) -> Response:
    found = await staff_event(request)
    async with app_state(request).db.connection() as conn:
        consents = await event_queries.current_consents(conn, found.id)
    return await _form_page(request, found, event_values(found, consents), {})


async def event_update(request: Request) -> Response:
    found = await staff_event(request)
    data, errors, values = parse_event_form(await read_form(request), await _organisation_ids(request, found))
    if data is not None:
        try:
            state = app_state(request)
            await services.update_event(state.db, state.settings, actor(request), found.id, data)
        except services.Taken:
            errors = {"slug": _slug_taken()}
    if errors:
        return await _form_page(request, found, values, errors, status=422)
    return RedirectResponse(request.url_for("admin:event", event_id=found.id), status_code=303)


async def event_duplicate_form(request: Request) -> Response:
    """`GET /admin/events/{id}/duplicate`: the event form filled with the event's settings, for a copy; its dates and
    address are to be set."""
    found = await staff_event(request)
    async with app_state(request).db.connection() as conn:
        consents = await event_queries.current_consents(conn, found.id)
    return await _form_page(request, None, copy_values(found, consents), {}, copy_of=found)


async def event_duplicate(request: Request) -> Response:
    """`POST /admin/events/{id}/duplicate`: store the copy (its questions, e-mail texts and evaluation too, never
    its registrants), then show its edit form."""
    found = await staff_event(request)
    data, errors, values = parse_event_form(await read_form(request), await _organisation_ids(request, found))
    if data is not None:
        try:
            event_id = await services.duplicate_event(app_state(request).db, actor(request), found.id, data)
        except services.Taken:
            errors = {"slug": _slug_taken()}
    if errors:
        return await _form_page(request, None, values, errors, status=422, copy_of=found)
    return RedirectResponse(request.url_for("admin:event_edit", event_id=event_id), status_code=303)
