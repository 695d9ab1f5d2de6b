"""Public registration: the form on the event page, its submission, and the page that follows."""

from __future__ import annotations

from databases.core import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.registration import forms, queries, services
from webinar.registration.fields import FIELDS
from webinar.registration.questions import typed_answers
from webinar.registration.rows import RequestMeta
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form
from webinar.web.language import choose_language
from webinar.web.urls import see_other

# Outside the window (or full) a POST is refused with 409 Conflict: the request is fine, the event's state is not.
REFUSED_STATUS = 409


async def _load_event(conn: Connection, slug: str) -> Event:
    event = await event_queries.by_slug(conn, slug)
    if event is None or event.purged_at is not None:
        raise HTTPException(404)
    return event


async def render_event(
    request: Request,
    conn: Connection,
    event: Event,
    form: FormData | None = None,
    errors: dict[str, str] | None = None,
    state: str | None = None,
    status_code: int = 200,
) -> Response:
    """The event page with its registration form (or the reason there is none)."""
    choose_language(request, event.language)
    asked = await queries.questions_of(conn, event.id)
    context = {
        "event": event,
        "organisation": await event_queries.organisation(conn, event.organisation_id),
        "consent": await event_queries.current_consent(conn, event.id),
        "state": state or await services.registration_state(conn, event),
        "values": forms.typed_values(form),
        "errors": errors or {},
        "fields": FIELDS,
        "questions": asked,
        "answers": typed_answers(form, asked),
    }
    return app_state(request).templates.TemplateResponse(
        request, "webinar/event.html", context, status_code=status_code
    )


async def event_page(request: Request) -> Response:
    """GET /events/{slug}: the event, its organiser and the registration form."""
    async with app_state(request).db.connection() as conn:
        event = await _load_event(conn, request.path_params["slug"])
        return await render_event(request, conn, event)


async def register(request: Request) -> Response:
    """POST /events/{slug}/register."""
    registrar: services.Registrar = app_state(request).registrar
    slug = request.path_params["slug"]
    ctx = await registrar.context(slug)  # the event and its consent text, often without a query
    if ctx is None or ctx.event.purged_at is not None:
        raise HTTPException(404)
    language = choose_language(request, ctx.event.language)  # errors, the stored language and the e-mails use it
    form = await read_form(request)
    ip = client_ip(request, app_state(request).settings.trusted_proxies)
    outcome = await registrar.register(ctx, form, RequestMeta(ip, request.headers.get("user-agent", "")), language)
    if outcome.done:
        return see_other(request, "registered", slug=slug)
    if outcome.event is None:
        raise HTTPException(404)
    if outcome.kind == services.UNAVAILABLE:
        raise HTTPException(409, _("Registration is not available for this event."))
    async with app_state(request).db.connection() as conn:
        if outcome.kind == services.INVALID:
            return await render_event(request, conn, outcome.event, form, outcome.errors, "open", status_code=422)
        return await render_event(request, conn, outcome.event, state=outcome.state, status_code=REFUSED_STATUS)


async def registered(request: Request) -> Response:
    """What happens next, the same for a new registration and a repeated one (no account enumeration)."""
    async with app_state(request).db.connection() as conn:
        event = await _load_event(conn, request.path_params["slug"])
    choose_language(request, event.language)
    return app_state(request).templates.TemplateResponse(request, "webinar/registered.html", {"event": event})
