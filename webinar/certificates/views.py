"""The attendee's certificate (`/events/{slug}/me/certificate.pdf`) and the public verification page."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.access import services as access_services
from webinar.certificates import documents, numbers, queries, services
from webinar.clock import now
from webinar.events.public import public_event
from webinar.events.queries import Event
from webinar.links.tokens import CERTIFICATE, read_token
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.cookies import current_sid, set_sid
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


async def _certificate_of(request: Request, event: Event, registration_id: int) -> Response:
    """The person's certificate (issued now if it was not), or the 403 page saying why they get none."""
    state = app_state(request)
    outcome = await services.issue(state.db, event, registration_id)
    if outcome.certificate is None:
        return _render(request, "certificate_refused.html", {"event": event, "reason": outcome.refused}, 403)
    body = await documents.document(state.db, state.settings.base_url, event, outcome.certificate)
    return pdf_response(body, outcome.certificate.number)


async def me_certificate(request: Request) -> Response:
    """`GET /events/{slug}/me/certificate.pdf`: the signed-in attendee's certificate, or a 403 saying why not."""
    event = await public_event(request)
    state = app_state(request)
    attendee = await access_services.viewer(state.db, state.settings, event, current_sid(request))
    if attendee is None:  # no session for this event (or someone else's event's): nothing to show
        raise HTTPException(404)
    return await _certificate_of(request, event, attendee.id)


async def certificate_link(request: Request) -> Response:
    """`GET /events/{slug}/certificate/{token}`: the follow-up e-mail's link. It signs the person in (while the
    event's join links last, so /me works too) and gives their certificate, or the 403 page; a tampered, expired or
    spent link (an erasure spends it) is a 404 page that says so."""
    event = await public_event(request)
    state = app_state(request)
    claims = read_token(str(state.settings.secret_key), CERTIFICATE, request.path_params["token"], now())
    attendee = None
    if claims is not None:
        attendee = await access_services.link_holder(state.db, event.slug, claims.registration_id, claims.token_version)
    if attendee is None:
        return _render(request, "certificate_link_invalid.html", {"event": event}, 404)
    ip = client_ip(request, state.settings.trusted_proxies)
    client = access_services.Client(ip, request.headers.get("user-agent", ""), current_sid(request))
    sid = await access_services.sign_in(state.db, state.settings, event, attendee, client)
    if sid is not None:
        set_sid(request, sid)
    return await _certificate_of(request, event, attendee.id)


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
