"""The attendee's certificate (`/events/{slug}/me/certificate.pdf`) and the public verification page."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.access import services as access_services
from webinar.certificates import numbers, pdf, queries, services
from webinar.certificates.queries import Certificate
from webinar.events import queries as event_queries
from webinar.events.public import public_event
from webinar.events.queries import Event
from webinar.i18n import local_datetime, use
from webinar.state import app_state
from webinar.web.cookies import current_sid
from webinar.web.language import choose_language


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = app_state(request).templates.TemplateResponse(
        request, f"webinar/{name}", context, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def verification_url(request: Request, number: str) -> str:
    """The public address a certificate's QR code and text point to."""
    return f"{app_state(request).settings.base_url}/certificates/{number}"


async def document(request: Request, event: Event, certificate: Certificate) -> bytes:
    """The certificate's PDF, drawn from what was issued (name and minutes as they were then)."""
    async with app_state(request).db.connection() as conn:
        organisation = await event_queries.organisation(conn, event.organisation_id)
    with use(event.language):
        date = local_datetime(event.starts_at, event.timezone, "date")
    page = pdf.Page(
        language=event.language, full_name=certificate.full_name or "", member_id=certificate.member_id,
        event_title=event.title, starts_at_local=date, minutes=certificate.minutes, credits=event.credits,
        organiser=organisation.name if organisation else "", number=certificate.number,
        verification_url=verification_url(request, certificate.number),
    )  # fmt: skip
    return pdf.render(page)


def pdf_response(body: bytes, number: str) -> Response:
    filename = "certificate-" + number.replace("/", "-") + ".pdf"
    return Response(
        body, media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
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
    return pdf_response(await document(request, event, outcome.certificate), outcome.certificate.number)


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
