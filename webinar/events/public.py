"""What every public page of an event does first: find the event by its slug and choose the page's language."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from webinar.events import queries
from webinar.events.queries import Event
from webinar.state import app_state
from webinar.web.language import choose_language


async def public_event(request: Request) -> Event:
    """The event named by the URL's slug, with the page language chosen for it; 404 if missing or purged."""
    async with app_state(request).db.connection() as conn:
        event = await queries.by_slug(conn, request.path_params["slug"])
    return shown(request, event)


def shown(request: Request, event: Event | None) -> Event:
    """The event a public page shows, with the page language chosen for it; 404 if missing or purged."""
    if event is None or event.purged_at is not None:
        raise HTTPException(404)
    choose_language(request, event.language)
    return event
