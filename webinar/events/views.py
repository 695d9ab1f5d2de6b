"""Public event pages: the list of upcoming events and one event's page."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.clock import now
from webinar.events import queries
from webinar.events.queries import Event
from webinar.registration.views import render_event
from webinar.web.language import choose_language


async def public_event(request: Request) -> Event:
    """The event named by the URL's slug, with the page language chosen for it; 404 if missing or purged."""
    async with request.app.state.db.connection() as conn:
        event = await queries.by_slug(conn, request.path_params["slug"])
    return shown(request, event)


def shown(request: Request, event: Event | None) -> Event:
    """The event a public page shows, with the page language chosen for it; 404 if missing or purged."""
    if event is None or event.purged_at is not None:
        raise HTTPException(404)
    choose_language(request, event.language)
    return event


async def home(request: Request) -> Response:
    """Upcoming listed events."""
    choose_language(request)
    async with request.app.state.db.connection() as conn:
        upcoming = await queries.upcoming_listed(conn, now())
    return request.app.state.templates.TemplateResponse(request, "webinar/home.html", {"events": upcoming})


async def event_page(request: Request) -> Response:
    """One event: its details, the organiser and the registration form."""
    async with request.app.state.db.connection() as conn:
        event = await queries.by_slug(conn, request.path_params["slug"])
        if event is None or event.purged_at is not None:
            raise HTTPException(404)
        return await render_event(request, conn, event)
