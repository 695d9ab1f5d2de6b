"""The audit log page: who did what and when; operators see everything, organisers their organisation's entries."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from admin import audit_queries
from admin.auth import organisation_scope
from admin.pages import MAX_ID, render
from webinar.state import app_state


def _positive(raw: str) -> int | None:
    """A positive whole number from the query string, or None."""
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID else None


async def audit(request: Request) -> Response:
    params = request.query_params
    scope = organisation_scope(request.state.staff)
    wanted = audit_queries.AuditFilter(scope, params.get("action", "")[:50], _positive(params.get("event", "")))
    page = _positive(params.get("page", "")) or 1
    async with app_state(request).db.connection() as conn:
        entries, pages = await audit_queries.entries(conn, wanted, page)
        actions = await audit_queries.actions(conn, scope)
        events = await audit_queries.event_choices(conn, scope)
    query = {"action": wanted.action, "event": wanted.event_id or ""}
    context = {
        "entries": entries,
        "page": min(page, pages),
        "pages": pages,
        "actions": actions,
        "events": events,
        "selected": wanted,
        "base_query": urlencode({k: v for k, v in query.items() if v}),
    }
    return render(request, "admin/audit.html", context)
