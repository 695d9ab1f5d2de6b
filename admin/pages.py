"""What every back-office handler needs: the acting staff member, ids from the path, rendering."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from admin.auth import organisation_scope
from admin.services import Actor
from webinar.events import queries as event_queries
from webinar.events.queries import Event, Organisation
from webinar.state import app_state
from webinar.web.client_ip import client_ip

MAX_ID = 2**63 - 1  # larger ids cannot exist, and PostgreSQL would refuse to compare with them


def actor(request: Request) -> Actor:
    """The logged-in staff member and their address, for the audit log."""
    return Actor(request.state.staff, client_ip(request, app_state(request).settings.trusted_proxies))


def path_id(request: Request, name: str) -> int:
    """An integer id from the URL; 404 when it cannot be one."""
    value: int = request.path_params[name]
    if not 0 < value <= MAX_ID:
        raise HTTPException(404)
    return value


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """A back-office page."""
    response: Response = app_state(request).templates.TemplateResponse(request, template, context, status_code=status)
    return response


async def staff_event(request: Request) -> Event:
    """The event in the URL if this staff member may see it; 404 otherwise (also another organisation's: no IDOR)."""
    event_id = path_id(request, "event_id")
    async with app_state(request).db.connection() as conn:
        event = await event_queries.by_id(conn, event_id, organisation_scope(request.state.staff))
    if event is None:
        raise HTTPException(404)
    return event


async def staff_organisation(request: Request) -> Organisation:
    """The organisation in the URL if this staff member may manage it (operators; its own organisers); 404 otherwise."""
    org_id = path_id(request, "organisation_id")
    scope = organisation_scope(request.state.staff)
    if scope is not None and scope != org_id:
        raise HTTPException(404)
    async with app_state(request).db.connection() as conn:
        org = await event_queries.organisation(conn, org_id)
    if org is None:
        raise HTTPException(404)
    return org
