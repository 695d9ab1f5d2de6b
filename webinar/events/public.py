"""What every public page of an event does first: find the event by its slug, choose the page's language, and dress
the page in its organisation's branding."""

from __future__ import annotations

from databases.core import Connection
from starlette.exceptions import HTTPException
from starlette.requests import Request

from webinar.branding import queries as branding_queries
from webinar.events import queries
from webinar.events.queries import Event
from webinar.state import app_state
from webinar.web.language import choose_language


async def public_event(request: Request) -> Event:
    """The event named by the URL's slug, with the page language chosen for it; 404 if missing or purged."""
    async with app_state(request).db.connection() as conn:
        event = shown(request, await queries.by_slug(conn, request.path_params["slug"]))
        await branded(request, event, conn)
    return event


async def branded(request: Request, event: Event, conn: Connection | None = None) -> None:
    """Show this event's page in its organisation's branding: base.html reads `request.state.brand`."""
    if conn is None:
        async with app_state(request).db.connection() as own:
            request.state.brand = await branding_queries.of_organisation(own, event.organisation_id)
    else:
        request.state.brand = await branding_queries.of_organisation(conn, event.organisation_id)


def shown(request: Request, event: Event | None) -> Event:
    """The event a public page shows, with the page language chosen for it; 404 if missing or purged."""
    if event is None or event.purged_at is not None:
        raise HTTPException(404)
    choose_language(request, event.language)
    return event
