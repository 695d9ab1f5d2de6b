"""The public home page: upcoming listed events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from webinar.clock import now
from webinar.events import queries
from webinar.state import app_state
from webinar.web.language import choose_language


async def home(request: Request) -> Response:
    """Upcoming listed events."""
    choose_language(request)
    async with app_state(request).db.connection() as conn:
        upcoming = await queries.upcoming_listed(conn, now())
    return app_state(request).templates.TemplateResponse(request, "webinar/home.html", {"events": upcoming})
