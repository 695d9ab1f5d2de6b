"""Public registration: the form on the event page, its submission, and the page that follows."""

from __future__ import annotations

import datetime as dt

from databases.core import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.clock import now
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.registration import fastpath, forms, queries, services
from webinar.registration.notifications import Mailer
from webinar.web import ratelimit
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form, text
from webinar.web.language import choose_language
from webinar.web.urls import see_other

RATE_LIMIT, RATE_WINDOW = 20, dt.timedelta(minutes=10)
# Outside the window (or full) a POST is refused with 409 Conflict: the request is fine, the event's state is not.
REFUSED_STATUS = 409


async def _load_event(conn: Connection, slug: str) -> Event:
    event = await event_queries.by_slug(conn, slug)
    if event is None or event.purged_at is not None:
        raise HTTPException(404)
    return event


async def registration_state(conn: Connection, event: Event) -> str:
    """'open', 'full', or why the window is shut ('not_yet', 'closed', 'over')."""
    state = services.window_state(event, now())
    if state == "open" and event.capacity is not None:
        if await queries.seats_taken(conn, event.id) >= event.capacity:
            return "full"
    return state


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
    context = {
        "event": event,
        "organisation": await event_queries.organisation(conn, event.organisation_id),
        "consent": await event_queries.current_consent(conn, event.id),
        "state": state or await registration_state(conn, event),
        "values": forms.typed_values(form),
        "errors": errors or {},
        "fields": forms.OPTIONAL_FIELDS,
    }
    return request.app.state.templates.TemplateResponse(request, "webinar/event.html", context, status_code=status_code)


def mailer(request: Request) -> Mailer:
    """The e-mail composer of this app."""
    return Mailer(request.app.state.settings, request.app.state.templates.env)


async def register(request: Request) -> Response:
    """POST /events/{slug}/register. Every POST counts once against the per-address rate limit."""
    settings, db = request.app.state.settings, request.app.state.db
    contexts: fastpath.Contexts = request.app.state.event_contexts
    slug, ip = request.path_params["slug"], client_ip(request, settings.trusted_proxies)
    limit = ratelimit.Limit(f"register:ip:{ip}", RATE_LIMIT, RATE_WINDOW, settings.rate_limit_scale)
    ctx = await contexts.get(db, slug)  # the hot path: the event and its consent text, often without a query
    if ctx is None or ctx.event.purged_at is not None:
        raise HTTPException(404)
    language = choose_language(request, ctx.event.language)  # errors, the stored language and the e-mails use it
    form = await read_form(request)
    done = see_other(request, "registered", slug=slug)
    meta = services.RequestMeta(ip=ip, user_agent=request.headers.get("user-agent", ""))
    honeypot = text(form, "website")  # people never see it, bots fill it in: answer as if done, store nothing
    event, counted = ctx.event, False
    if not honeypot and fastpath.applies(event, ctx.consent) and services.window_state(event, now()) == "open":
        assert ctx.consent is not None
        data, _errors = forms.parse(form, event, ctx.consent)
        if data is not None:
            writer = request.app.state.registration_writer
            outcome = await fastpath.register(writer, mailer(request), ctx, data, meta, limit, language)
            if outcome == fastpath.REGISTERED:
                return done
            counted = True  # a duplicate address or a changed event: the general path below knows what to do
    if not counted:
        async with db.connection() as conn:
            await ratelimit.count(conn, limit)
    if honeypot:
        return done
    # The general path decides on the event as it is now, never on the kept copy.
    ctx = await contexts.get(db, slug, fresh=True)
    if ctx is None or ctx.event.purged_at is not None:
        raise HTTPException(404)
    language = choose_language(request, ctx.event.language)
    return await _register_slowly(request, ctx.event, form, meta, done, language)


async def _register_slowly(
    request: Request, event: Event, form: FormData, meta: services.RequestMeta, done: Response, language: str
) -> Response:
    """Every case (capacity, closed window, errors, duplicates), each outcome in one transaction."""
    db = request.app.state.db
    async with db.connection() as conn:
        state = await registration_state(conn, event)
        if state not in ("open", "full"):
            return await render_event(request, conn, event, state=state, status_code=REFUSED_STATUS)
        consent = await event_queries.current_consent(conn, event.id)
        if consent is None:
            raise HTTPException(409, _("Registration is not available for this event."))
        data, errors = forms.parse(form, event, consent)
        if data is None:
            return await render_event(request, conn, event, form, errors, state="open", status_code=422)
    outcome = await services.register(db, mailer(request), event, data, meta, language)
    if outcome in (services.REGISTERED, services.DUPLICATE):
        return done
    async with db.connection() as conn:
        if outcome == services.STALE_CONSENT:
            errors = {"consent_processing": forms.stale_consent_message()}
            return await render_event(request, conn, event, form, errors, state="open", status_code=422)
        return await render_event(request, conn, event, state=None, status_code=REFUSED_STATUS)


async def registered(request: Request) -> Response:
    """What happens next, the same for a new registration and a repeated one (no account enumeration)."""
    async with request.app.state.db.connection() as conn:
        event = await _load_event(conn, request.path_params["slug"])
    choose_language(request, event.language)
    return request.app.state.templates.TemplateResponse(request, "webinar/registered.html", {"event": event})
