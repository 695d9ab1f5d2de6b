"""The attendee's certificate (`/events/{slug}/me/certificate.pdf`) and the public verification page."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.access import services as access_services
from webinar.certificates import documents, numbers, queries, services
from webinar.events.public import public_event
from webinar.state import app_state
from webinar.web.cookies import current_sid
from webinar.web.language import choose_language


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = app_state(request).templates.TemplateResponse(
        request, f"webinar/{name}", context, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def pdf_response(body: bytes, number: str) -> Response:
    return Response(
        body, media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{documents.filename(number)}"', "Cache-Control": "no-store"
        },
    )  # fmt: skip


async def me_certificate(request: Request) -> Response:
    """`GET /events/{slug}/me/certificate.pdf`: the signed-in attendee's certificate, or a 403 saying why not."""
    event = await public_event(request)
    state = app_state(request)
    attendee = await access_services.viewer(state.db, state.settings, event, current_sid(request))
    if attendee is None:  # no session for this event (or someone else's event's): nothing to show
        raise HTTPException(404)
    outcome = await services.issue(state.db, event, attendee.id)
    if outcome.certificate is None:
        return _render(request, "certificate_refused.html", {"event": event, "reason": outcome.refused}, 403)
    body = await documents.document(state.db, state.settings.base_url, event, outcome.certificate)
    return pdf_response(body, outcome.certificate.number)


async def verify(request: Request) -> Response:
    """`GET /certificates/{number}`: valid or revoked, the event, its date, the holder's initials; else 404."""
    number = request.path_params["number"]
    if not numbers.well_formed(number):
        raise HTTPException(404)
    async with app_state(request).db.connection() as conn:
        found = await queries.by_number(conn, number)
    if found is None:
        raise HTTPException(404)
    choose_language(request, found.event_language)
    return _render(request, "certificate_verify.html", {"found": found, "certificate": found.certificate})
