"""Public registration: the form on the event page (and embedded on the organiser's site), its submission, and the
page that follows."""

from __future__ import annotations

from databases.core import Connection
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.events import embed
from webinar.events import queries as event_queries
from webinar.events.public import public_event
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.registration import batch, calendar, cancellation, confirm, forms, services
from webinar.registration.cancellation import Cancel, Canceller
from webinar.registration.fields import FIELDS
from webinar.registration.questions import typed_answers
from webinar.registration.rows import RequestMeta
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import embed_token, read_form
from webinar.web.language import choose_language
from webinar.web.urls import see_other

# Outside the window (or full) a POST is refused with 409 Conflict: the request is fine, the event's state is not.
REFUSED_STATUS = 409


async def _load_event(conn: Connection, slug: str) -> Event:
    event = await event_queries.by_slug(conn, slug)
    if event is None or event.purged_at is not None:
        raise HTTPException(404)
    return event


async def _page_context(request: Request) -> batch.EventContext:
    """The event of the URL's slug as its public pages show it: the registrar's copy when it is under a second old,
    else read now (one statement while the event is unchanged) and kept; 404 if missing or purged. The page is
    dressed in the organisation's branding."""
    within = batch.Contexts.PAGE_SECONDS
    ctx = await app_state(request).registrar.context(request.path_params["slug"], within=within)
    if ctx is None or ctx.event.purged_at is not None:
        raise HTTPException(404)
    request.state.brand = ctx.brand
    return ctx


async def render_event(
    request: Request,
    ctx: batch.EventContext,
    form: FormData | None = None,
    errors: dict[str, str] | None = None,
    state: str | None = None,
    status_code: int = 200,
    proof: bool = False,
    embedded: bool = False,
) -> Response:
    """The event page with its registration form (or the reason there is none); the proof of work on it when this
    address has made many attempts (or `proof`). `embedded`: the same form in the compact page for an iframe.
    The page a new visitor gets (no form sent back, no proof asked) is rendered once per version of the event,
    its texts, organisation and branding, and its registration state: then it costs a cached page and a token.
    `ctx` is as `_page_context` gives it (the page already in its organisation's branding)."""
    event = ctx.event
    language = choose_language(request, event.language)
    state_ = app_state(request)
    if not proof:
        ip = client_ip(request, state_.settings.trusted_proxies)
        proof = await state_.registrar.needs_proof(event.id, ip)
    context = {
        "event": event,
        "organisation": ctx.organisation,
        # The text in the page's language, else the other's: the one shown is the one a tick records (its version).
        "consent": ctx.consents.shown(language),
        "state": state or await services.current_state(state_.db, event),
        "values": forms.typed_values(form),
        "errors": errors or {},
        "fields": FIELDS,
        "questions": ctx.questions,
        "answers": typed_answers(form, ctx.questions),
        "proof": proof,
    }
    if embedded:
        context |= {"form_action": str(request.url_for("embed_register", slug=event.slug)), "embedded": True}
        context["form_token"] = embed_token(request, event.id)
    page = "webinar/embed.html" if embedded else "webinar/event.html"
    if form is None and not errors and not proof and not embedded and status_code == 200:
        return state_.pages.response(request, page, (ctx, context["state"]), context)
    return state_.templates.TemplateResponse(request, page, context, status_code=status_code)


def allow_framing(request: Request, event: Event) -> None:
    """Let the sites the event lists frame this response (the error page too, when one follows): CSP frame-ancestors,
    set by the security headers middleware."""
    request.scope.setdefault("state", {})["csp_frame_ancestors"] = embed.frame_ancestors(event.embed_origins)


async def event_page(request: Request) -> Response:
    """GET /events/{slug}: the event, its organiser and the registration form."""
    return await render_event(request, await _page_context(request))


async def embed_page(request: Request) -> Response:
    """GET /events/{slug}/embed: the registration form alone, for an iframe on the sites the event lists."""
    ctx = await _page_context(request)
    allow_framing(request, ctx.event)
    return await render_event(request, ctx, embedded=True)


async def register(request: Request) -> Response:
    """POST /events/{slug}/register."""
    return await _submit(request, embedded=False)


async def embed_register(request: Request) -> Response:
    """POST /events/{slug}/embed: the embedded form, through the same registrar; its answers stay in the frame."""
    return await _submit(request, embedded=True)


async def _submit(request: Request, embedded: bool) -> Response:
    registrar: services.Registrar = app_state(request).registrar
    slug = request.path_params["slug"]
    ctx = await registrar.context(slug)  # the event and its consent texts, often without a query
    if ctx is None or ctx.event.purged_at is not None:
        raise HTTPException(404)
    if embedded:
        allow_framing(request, ctx.event)
    language = choose_language(request, ctx.event.language)  # errors, the stored language and the e-mails use it
    form = await read_form(request, embedded=ctx.event.id if embedded else None)
    ip = client_ip(request, app_state(request).settings.trusted_proxies)
    outcome = await registrar.register(ctx, form, RequestMeta(ip, request.headers.get("user-agent", "")), language)
    if outcome.done:
        response = see_other(request, "embed_registered" if embedded else "registered", slug=slug)
        if outcome.later is not None:  # after the answer is sent: a duplicate answers as fast as a new one
            response.background = BackgroundTask(outcome.later)
        return response
    if outcome.event is None:
        raise HTTPException(404)
    if outcome.kind == services.UNAVAILABLE:
        raise HTTPException(409, _("Registration is not available for this event."))
    now_ctx = await _page_context(request)  # the event as it is now, with its texts and questions
    if outcome.kind == services.INVALID:
        state = outcome.state or "open"  # the form again: "waitlist" keeps its wording
        return await render_event(request, now_ctx, form, outcome.errors, state, 422, outcome.proof, embedded)
    return await render_event(request, now_ctx, state=outcome.state, status_code=REFUSED_STATUS, embedded=embedded)


async def registered(request: Request) -> Response:
    """What happens next, the same for a new registration and a repeated one (no account enumeration): it tells of
    the waiting list while the event is full and has one."""
    return await _registered(request, "webinar/registered.html")


async def embed_registered(request: Request) -> Response:
    """GET /events/{slug}/embed/registered: what happens next, inside the frame."""
    return await _registered(request, "webinar/embed_registered.html")


async def _registered(request: Request, page: str) -> Response:
    """Rendered once per version of the event and its branding, and whether it has a waiting list now: it shows
    nothing of the visitor."""
    ctx = await _page_context(request)
    event = ctx.event
    embedded = page == "webinar/embed_registered.html"
    if embedded:
        allow_framing(request, event)
    choose_language(request, event.language)
    waitlist = await services.current_state(app_state(request).db, event) == "waitlist"
    add = calendar.links(app_state(request).settings.base_url, event)
    context = {"event": event, "waitlist": waitlist, "calendar": add, "embedded": embedded}
    return app_state(request).pages.response(request, page, (ctx, waitlist), context)


async def calendar_file(request: Request) -> Response:
    """`GET /events/{slug}/calendar.ics`: the event's public calendar entry, to download ("add to calendar")."""
    async with app_state(request).db.connection() as conn:
        event = await _load_event(conn, request.path_params["slug"])
    body = calendar.public_ics(app_state(request).settings.base_url, event)
    disposition = f'attachment; filename="{event.slug}.ics"'
    return Response(body, media_type="text/calendar; charset=utf-8", headers={"Content-Disposition": disposition})


# A cancel link that cannot be used says why, with the status that fits: spent or forged (400), too late (409).
CANCEL_STATUS = {Cancel.INVALID: 400, Cancel.OVER: REFUSED_STATUS}


def cancel_page(request: Request, event: Event, state: Cancel, token: str | None = None) -> Response:
    """The cancel page: the confirm button of a link, the cancellation done, or why it cannot be (shared by /me)."""
    response: Response = app_state(request).templates.TemplateResponse(
        request,
        "webinar/cancel.html",
        {"event": event, "state": state.value, "token": token},
        status_code=CANCEL_STATUS.get(state, 200),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def cancel_form(request: Request) -> Response:
    """`GET /events/{slug}/cancel/{token}`: one confirm button (a GET changes nothing: mail scanners open links)."""
    event = await public_event(request)
    token = request.path_params["token"]
    secret = str(app_state(request).settings.secret_key)
    return cancel_page(
        request, event, await cancellation.link_state(app_state(request).db, secret, event, token), token
    )


async def cancel(request: Request) -> Response:
    """`POST /events/{slug}/cancel/{token}`: the confirm button (CSRF-checked) cancels the registration."""
    event = await public_event(request)
    await read_form(request)
    state = app_state(request)
    who = Canceller("link", client_ip(request, state.settings.trusted_proxies) or None)
    done = await cancellation.cancel_by_link(state.db, state.mailer, event, request.path_params["token"], who)
    return cancel_page(request, event, done)


async def cancelled(request: Request) -> Response:
    """`GET /events/{slug}/cancelled`: the registration is cancelled (after /me; shows nothing about anyone)."""
    return cancel_page(request, await public_event(request), Cancel.DONE)


def confirm_page(request: Request, event: Event, state: confirm.Confirm, token: str) -> Response:
    """The confirmation link's page: its button, the confirmation done, or why it cannot be (400)."""
    status = 400 if state is confirm.Confirm.INVALID else 200
    context = {"event": event, "state": state.value, "token": token}
    response: Response = app_state(request).templates.TemplateResponse(
        request, "webinar/confirm.html", context, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def confirm_form(request: Request) -> Response:
    """`GET /events/{slug}/confirm/{token}`: one confirm button (a GET changes nothing: mail scanners open links)."""
    event = await public_event(request)
    token = request.path_params["token"]
    secret = str(app_state(request).settings.secret_key)
    return confirm_page(request, event, await confirm.link_state(app_state(request).db, secret, event, token), token)


async def confirm_registration(request: Request) -> Response:
    """`POST /events/{slug}/confirm/{token}`: the button (CSRF-checked) confirms the registration's address."""
    event = await public_event(request)
    await read_form(request)
    state, token = app_state(request), request.path_params["token"]
    ip = client_ip(request, state.settings.trusted_proxies)
    return confirm_page(request, event, await confirm.confirm(state.db, state.mailer, event, token, ip), token)
