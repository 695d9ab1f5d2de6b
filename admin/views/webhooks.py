"""An organisation's webhook subscriptions (its organisers and operators): each one's last answers, and "send test"."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import organisation_scope
from admin.pages import actor, path_id, render
from webinar import audit
from webinar.events import queries as event_queries
from webinar.state import app_state
from webinar.web.forms import read_form
from webinar.webhooks import queue, subscriptions


async def _organisation(request: Request) -> tuple[int, str]:
    """The organisation in the URL and its name; 404 for another's."""
    org_id = path_id(request, "organisation_id")
    scope = organisation_scope(request.state.staff)
    async with app_state(request).db.connection() as conn:
        org = await event_queries.organisation(conn, org_id)
    if org is None or (scope is not None and scope != org_id):
        raise HTTPException(404)
    return org_id, org.name


async def webhooks_page(request: Request) -> Response:
    org_id, name = await _organisation(request)
    async with app_state(request).db.connection() as conn:
        listed = [
            (sub, await subscriptions.last_attempts(conn, sub.id), await subscriptions.waiting(conn, sub.id))
            for sub in await subscriptions.of(conn, org_id)
        ]
    context = {"subscriptions": listed, "owner": name, "org_id": org_id, "sent": request.query_params.get("sent")}
    return render(request, "admin/webhooks.html", context)


async def webhook_test(request: Request) -> Response:
    org_id, _name = await _organisation(request)
    await read_form(request)
    who = actor(request)
    sub_id = path_id(request, "subscription_id")
    async with app_state(request).db.transaction() as conn:
        if await subscriptions.by_id(conn, org_id, sub_id) is None:
            raise HTTPException(404)
        await queue.announce_test(conn, sub_id)
        await audit.record(
            conn, "webhook.test", actor=who.user.email, actor_staff_id=who.user.id, organisation_id=org_id, ip=who.ip,
            details={"subscription_id": sub_id},
        )  # fmt: skip
    url = request.url_for("admin:organisation_webhooks_page", organisation_id=org_id)
    return RedirectResponse(f"{url}?sent={sub_id}", status_code=303)
