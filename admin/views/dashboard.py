"""The back office's front page: the events this staff member may see, with their counts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin.auth import organisation_scope
from webinar.events import queries as event_queries
from webinar.presence.queries import live_now_by_event
from webinar.state import app_state


async def dashboard(request: Request) -> Response:
    user = request.state.staff
    async with app_state(request).db.connection() as conn:
        events = await event_queries.with_counts(conn, organisation_scope(user))
        live = await live_now_by_event(conn, app_state(request).settings.presence_timeout_seconds)
    return app_state(request).templates.TemplateResponse(
        request, "admin/dashboard.html", {"events": events, "live": live}
    )
