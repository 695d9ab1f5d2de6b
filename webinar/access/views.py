"""Attendee access pages: join link, login, "e-mail me my link", the gated stream page, logout."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webinar import i18n
from webinar.access import forms, services
from webinar.access.services import Gate, JoinRefusal
from webinar.clock import now
from webinar.events.public import branded, public_event, shown
from webinar.events.queries import Event
from webinar.state import app_state
from webinar.web import proof
from webinar.web.client_ip import client_ip
from webinar.web.cookies import current_sid, set_sid
from webinar.web.forms import read_form, text
from webinar.web.pagecache import PageCache
from webinar.web.urls import see_other


def _client(request: Request) -> services.Client:
    ip = client_ip(request, app_state(request).settings.trusted_proxies)
    return services.Client(ip, request.headers.get("user-agent", ""), current_sid(request))


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return app_state(request).templates.TemplateResponse(request, f"webinar/{name}", context, status_code=status)


async def join(request: Request) -> Response:
    """`GET /events/{slug}/join/{token}`: log in with the personal link, or say clearly why not."""
    app, params = request.app, request.path_params
    starts, settings = app_state(app).join_starts, app_state(app).settings
    found = await services.join(starts, settings, params["slug"], params["token"], _client(request))
    if found is None:
        raise HTTPException(404)
    event, result = shown(request, found[0]), found[1]
    if result is JoinRefusal.EVENT_CANCELLED:
        return _render(request, "event_cancelled.html", {"event": event}, 410)
    if isinstance(result, JoinRefusal):
        status = 403 if result is JoinRefusal.REFUSED else 400
        context = {"event": event, "refused": result is JoinRefusal.REFUSED, "errors": {}, "link_email": ""}
        return _render(request, "join_invalid.html", context, status)
    set_sid(request, result)
    return see_other(request, "watch", slug=event.slug)


async def _login_page(request: Request, event: Event, status: int = 200, **context: Any) -> Response:
    proofs = await _proofs_needed(request, event)
    values: dict[str, Any] = {"event": event, "email": "", "link_email": "", "errors": {}, "error": None}
    values.update(sent=request.query_params.get("sent") == "1", proofs=proofs, proof=any(proofs.values()))
    values.update(context)
    return _render(request, "login.html", values, status)


async def _proofs_needed(request: Request, event: Event) -> dict[str, bool]:
    """Which of the login page's forms must ask this address for a proof of work (SPEC §15)."""
    state, ip = app_state(request), client_ip(request, app_state(request).settings.trusted_proxies)
    proofs = state.registrar.proofs
    return {
        form: proofs.tuning.needed(
            await proofs.load(state.db, services.proof_limit(state.settings, event, form, ip), cached=True)
        )
        for form in ("login", "send-link")
    }


async def _proof_refused(request: Request, event: Event, form: str, payload: str) -> str | None:
    """The message when this attempt at `form` needs a proof of work it does not have (RateLimited at the ceiling)."""
    state = app_state(request)
    ip = client_ip(request, state.settings.trusted_proxies)
    refused = await services.proof_gate(state.db, state.settings, state.registrar.proofs, event, form, ip, payload)
    return proof.message(refused) if refused is not None else None


async def login_page(request: Request) -> Response:
    """`GET /events/{slug}/login`: password login (where enabled) and "e-mail me my join link"."""
    return await _login_page(request, await public_event(request))


async def challenge(request: Request) -> Response:
    """`GET /events/{slug}/challenge/{form}`: a new ALTCHA challenge for one of the event's forms, as hard as this
    address's recent attempts call for. Cheap on purpose: the event as kept, the load as read in the last seconds, no
    write; never cached by the browser (each one is good once)."""
    state, form = app_state(request), request.path_params["form"]
    ctx = await state.registrar.context(request.path_params["slug"])
    if ctx is None or ctx.event.purged_at is not None or form not in proof.ACTIONS:
        raise HTTPException(404)
    ip = client_ip(request, state.settings.trusted_proxies)
    if form == "register":
        hits = await state.registrar.load(ctx.event.id, ip, cached=True)
    else:
        limit = services.proof_limit(state.settings, ctx.event, form, ip)
        hits = await state.registrar.proofs.load(state.db, limit, cached=True)
    body = state.registrar.proofs.challenge(ctx.event.id, form, hits)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def login(request: Request) -> Response:
    """`POST /events/{slug}/login`: e-mail + password; the same answer for an unknown address and a wrong password."""
    event = await public_event(request)
    if event.login != "link_and_password":
        raise HTTPException(404)
    form = await read_form(request)
    refused = await _proof_refused(request, event, "login", text(form, proof.FIELD))
    if refused is not None:
        errors = {"login-altcha": refused}
        return await _login_page(request, event, 422, email=text(form, "email")[:254], errors=errors)
    data, errors = forms.login_form(form)
    if errors:
        return await _login_page(request, event, 422, email=data.email, errors=errors)
    app = request.app
    sid = await services.password_login(
        app_state(app).db, app_state(app).settings, event, data.email, data.password, _client(request)
    )
    if sid is None:
        error = i18n.gettext("Wrong e-mail address or password.")
        return await _login_page(request, event, 400, email=data.email, error=error)
    set_sid(request, sid)
    return see_other(request, "watch", slug=event.slug)


async def send_link(request: Request) -> Response:
    """`POST /events/{slug}/send-link`: the same answer whether or not the address is registered."""
    event = await public_event(request)
    form = await read_form(request)
    refused = await _proof_refused(request, event, "send-link", text(form, proof.FIELD))
    if refused is not None:
        errors = {"send-link-altcha": refused}
        return await _login_page(request, event, 422, link_email=text(form, "email")[:254], errors=errors)
    email, errors = forms.send_link_form(form)
    if errors:
        return await _login_page(request, event, 422, link_email=email, errors=errors)
    app = request.app
    ip = client_ip(request, app_state(app).settings.trusted_proxies)
    await services.send_link(app_state(app).db, app_state(app).settings, app_state(app).templates, event, email, ip)
    return see_other(request, "login_form", "?sent=1", slug=event.slug)


def _refusal(status: str) -> str:
    """Why the stream page is closed to this attendee (rejected, cancelled or still on the waiting list)."""
    if status == "waitlisted":
        return i18n.gettext("You are on the waiting list for this event; we will e-mail you if a seat frees up.")
    if status == "cancelled":
        return i18n.gettext("Your registration for this event is cancelled.")
    if status == "unconfirmed":
        return i18n.gettext("Please confirm your registration first: open the link in the e-mail we sent you.")
    return i18n.gettext("Your registration for this event is not approved.")


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("https", "http") and parts.netloc else None


async def watch(request: Request) -> Response:
    """`GET /events/{slug}/watch`: the stream page, gated by session, status and time (SPEC §3.4)."""
    settings = app_state(request).settings
    found = await services.event_and_viewer(
        app_state(request).db, settings, request.path_params["slug"], current_sid(request)
    )
    if found is None:
        raise HTTPException(404)
    event, attendee = shown(request, found[0]), found[1]
    at = now()
    state = services.gate(event, attendee, at)
    context: dict[str, Any] = {"event": event, "attendee": attendee}
    if state not in (Gate.LOGIN, Gate.REFUSED):  # a page of the event, not a redirect or an error
        await branded(request, event)
    if state is Gate.CANCELLED:
        return _render(request, "event_cancelled.html", context, 410)
    if state is Gate.LOGIN:
        return see_other(request, "login_form", slug=event.slug)
    if state is Gate.REFUSED:
        raise HTTPException(403, _refusal(attendee.status if attendee else ""))
    if state is Gate.PENDING:
        return _render(request, "pending.html", context)
    if state is Gate.WAITING:
        context["seconds_left"] = max(1, int((event.doors_open_at - at) / dt.timedelta(seconds=1)) + 1)
        return _render(request, "waiting.html", context)
    if state is Gate.OVER:
        return _render(request, "over.html", context)
    if state is Gate.REPLAY_OVER:
        return _render(request, "replay_over.html", context)
    replay = state is Gate.REPLAY
    stream = (event.replay_url if event.replay_is_hls else "") if replay else event.stream_url
    embed = (event.replay_url if not event.replay_is_hls else "") if replay else ("" if stream else event.embed_url)
    if embed and (origin := _origin(embed)):
        request.scope.setdefault("state", {})["csp_frame_src"] = origin
    # The open stream page is the same for every attendee of the event (but for the CSRF token), and they all load
    # it in the minutes before the start: rendered once per event version, phase (live or replay), language and
    # address.
    page = {
        "event": event, "stream_url": stream, "embed_url": embed, "replay": replay,
        "heartbeat_seconds": settings.heartbeat_seconds, "check_seconds": settings.presence_check_seconds,
    }  # fmt: skip
    pages: PageCache = app_state(request).pages
    return pages.response(request, "webinar/watch.html", (event.id, event.updated_at, replay), page)


async def logout(request: Request) -> Response:
    """`POST /events/{slug}/logout`: end the viewing session(s) and the attendee session, clear the cookie."""
    event = await public_event(request)
    await read_form(request)
    settings = app_state(request).settings
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    await services.logout(app_state(request).db, event, current_sid(request), idle)
    set_sid(request, None)
    return see_other(request, "event", "?signed_out=1", slug=event.slug)  # the page says so
