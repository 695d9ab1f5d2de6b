"""Privacy pages: the notice, the attendee's own data (/me: see, correct, download, erase), and unsubscribe."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webinar.access import password
from webinar.access import services as access_services
from webinar.access.queries import Attendee
from webinar.attendance import queries as attendance
from webinar.clock import now
from webinar.evaluation import queries as evaluation_queries
from webinar.evaluation import services as evaluation
from webinar.events import queries as event_queries
from webinar.events.public import public_event
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.links.privacy import retention_ends_at
from webinar.privacy import forms, queries, services
from webinar.privacy.erasure import Requester
from webinar.privacy.services import EmailChange, Meta, Unsubscribe
from webinar.registration import cancellation
from webinar.registration import queries as registration_queries
from webinar.registration.cancellation import Cancel, Canceller
from webinar.registration.fields import FIELDS
from webinar.registration.questions import stored_answers, typed_answers
from webinar.state import app_state
from webinar.tables import CANCELLABLE
from webinar.web.client_ip import client_ip
from webinar.web.cookies import COOKIE_NAME, cookie_name, current_sid, set_sid
from webinar.web.forms import MAX_FIELDS, MAX_PART_BYTES, read_form
from webinar.web.language import COOKIE_NAME as LANGUAGE_COOKIE
from webinar.web.urls import see_other

ONE_CLICK = "One-Click"  # RFC 8058: the body a mail client POSTs is "List-Unsubscribe=One-Click"


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = app_state(request).templates.TemplateResponse(
        request, f"webinar/{name}", context, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"  # pages with personal data stay out of shared caches
    return response


def _meta(request: Request) -> Meta:
    ip = client_ip(request, app_state(request).settings.trusted_proxies)
    return Meta(ip, request.headers.get("user-agent", ""))


async def _attendee(request: Request, event: Event) -> Attendee | None:
    return await access_services.viewer(app_state(request).db, app_state(request).settings, event, current_sid(request))


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "") if url else ""


async def privacy(request: Request) -> Response:
    """`GET /events/{slug}/privacy`: controller, processor, purposes, legal basis, retention, rights, cookies."""
    event = await public_event(request)
    async with app_state(request).db.connection() as conn:
        organisation = await event_queries.organisation(conn, event.organisation_id)
    context = {
        "event": event,
        "organisation": organisation,
        "processor": app_state(request).settings.processor_name or _("the platform operator"),
        "retention_ends_at": retention_ends_at(event),
        "stream_host": _host(event.stream_url),
        "embed_host": "" if event.stream_url else _host(event.embed_url),
        "session_cookie": cookie_name(COOKIE_NAME, app_state(request).settings.https_only),
        "language_cookie": cookie_name(LANGUAGE_COOKIE, app_state(request).settings.https_only),
    }
    return _render(request, "privacy.html", context)


async def _me_page(request: Request, event: Event, attendee: Attendee, **extra: Any) -> Response:
    async with app_state(request).db.connection() as conn:
        reg = await registration_queries.by_id(conn, event.id, attendee.id)
        assert reg is not None
        consents = await queries.consents_with_text(conn, reg.id)
        viewing = await registration_queries.sessions(conn, reg.id)
        kept = await registration_queries.questions_of(conn, event.id, registration_queries.KEPT)
        answers = await registration_queries.answers_of(conn, reg.id)
        place = await registration_queries.place_in_line(conn, reg)
        verdict = await attendance.verdict_of(conn, event, reg.id)
        checks = await attendance.checks_of(conn, reg.id)
        test = await evaluation_queries.test_of(conn, event.id) if event.evaluation else []
        result = await evaluation_queries.result_of(conn, reg.id) if test else None
    asked = [q for q in kept if q.removed_at is None]
    context: dict[str, Any] = {
        "event": event,
        "reg": reg,
        "place": place,
        "may_cancel": reg.status in CANCELLABLE and now() < event.ends_at,
        "cancel_refused": "",
        "consents": consents,
        "sessions": viewing,
        "fields": FIELDS,
        "values": forms.values_of(reg),
        "errors": {},
        "password_errors": {},
        "may_set_password": password.may_set(event),
        "saved": request.query_params.get("saved", ""),
        "questions": asked,  # the correction form asks these
        "held": [(q, answers[q.id]) for q in kept if q.id in answers],  # every answer held, removed questions' too
        "answers": stored_answers(answers, asked),
        "verdict": verdict,  # approved registrants only (webinar/attendance/queries.py)
        "checks": checks,
        "ended": now() >= event.ends_at,
        "has_evaluation": bool(test),  # the final evaluation (webinar/evaluation/)
        "evaluation_result": result,
        "evaluation_open": bool(test)
        and evaluation.refusal(event, reg.status, test, result is not None, now()) is None,
    }
    context.update(extra)
    invalid = context["errors"] or context["password_errors"]
    return _render(request, "me.html", context, 422 if invalid else 409 if context["cancel_refused"] else 200)


async def me(request: Request) -> Response:
    """`GET /events/{slug}/me`: the data held about the signed-in attendee, with the ways to use their rights."""
    event = await public_event(request)
    attendee = await _attendee(request, event)
    if attendee is None:
        return see_other(request, "login_form", slug=event.slug)
    return await _me_page(request, event, attendee)


async def me_update(request: Request) -> Response:
    """`POST /events/{slug}/me`: correct the data, by the registration form's rules (a new address is confirmed)."""
    event = await public_event(request)
    attendee = await _attendee(request, event)
    if attendee is None:
        return see_other(request, "login_form", slug=event.slug)
    form = await read_form(request)
    async with app_state(request).db.connection() as conn:
        asked = await registration_queries.questions_of(conn, event.id)
    data, errors = forms.parse(form, event, asked)
    if data is None:
        typed = {"values": forms.typed_values(form), "answers": typed_answers(form, asked)}
        return await _me_page(request, event, attendee, errors=errors, **typed)
    db = app_state(request).db
    asked_email = await services.correct(db, app_state(request).mailer, event, attendee.id, data, asked, _meta(request))
    return see_other(request, "me", "?saved=" + ("email" if asked_email else "1"), slug=event.slug)


async def me_password(request: Request) -> Response:
    """`POST /events/{slug}/me/password`: set or change the password (events with password login), from a session
    only: a join link has proven the mailbox, which the registration form never does."""
    event = await public_event(request)
    attendee = await _attendee(request, event)
    if attendee is None:
        return see_other(request, "login_form", slug=event.slug)
    if not password.may_set(event):
        raise HTTPException(404)
    new, errors = password.parse(await read_form(request))
    if new is None:
        return await _me_page(request, event, attendee, password_errors=errors)
    sid = current_sid(request)
    assert sid is not None  # an attendee was found by it
    await password.set_password(app_state(request).db, event, attendee, new, sid)
    return see_other(request, "me", "?saved=password", slug=event.slug)


async def me_confirm_email(request: Request) -> Response:
    """`GET /events/{slug}/me/confirm-email/{token}`: apply a new address confirmed from its own mailbox."""
    event = await public_event(request)
    result = await services.confirm_email(
        app_state(request).db, app_state(request).mailer, event, request.path_params["token"]
    )
    status = {EmailChange.DONE: 200, EmailChange.INVALID: 400, EmailChange.TAKEN: 409}[result]
    return _render(request, "me_email.html", {"event": event, "result": result.value}, status)


async def me_export(request: Request) -> Response:
    """`GET /events/{slug}/me/export.json`: everything held about the attendee, as a JSON download."""
    event = await public_event(request)
    attendee = await _attendee(request, event)
    if attendee is None:
        return see_other(request, "login_form", slug=event.slug)
    data = await services.export(app_state(request).db, event, attendee.id, _meta(request))
    if data is None:
        return see_other(request, "login_form", slug=event.slug)
    filename = f"my-data-{event.slug}-{dt.date.today().isoformat()}.json"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    return JSONResponse(data, headers=headers)


async def me_erase_form(request: Request) -> Response:
    """`GET /events/{slug}/me/erase`: what erasure does, and the button."""
    event = await public_event(request)
    attendee = await _attendee(request, event)
    if attendee is None:
        return see_other(request, "login_form", slug=event.slug)
    return _render(request, "me_erase.html", {"event": event, "attendee": attendee})


async def me_erase(request: Request) -> Response:
    """`POST /events/{slug}/me/erase`: withdraw consent and erase the attendee's data at once; sign them out."""
    event = await public_event(request)
    await read_form(request)
    attendee = await _attendee(request, event)
    if attendee is None:
        async with app_state(request).db.connection() as conn:
            erased = await queries.session_of_erased(conn, current_sid(request), event.id)
        # A second click after the first one erased everything: say it is done, not "please sign in".
        return see_other(request, "me_erased" if erased else "login_form", slug=event.slug)
    state = app_state(request)
    await services.erase_one(state.db, state.settings, event, attendee.id, Requester(kind="attendee", actor="attendee"))
    set_sid(request, None)
    return see_other(request, "me_erased", slug=event.slug)


async def me_cancel_form(request: Request) -> Response:
    """`GET /events/{slug}/me/cancel`: what cancelling does, and the button."""
    event = await public_event(request)
    attendee = await _attendee(request, event)
    if attendee is None:
        return see_other(request, "login_form", slug=event.slug)
    if attendee.status not in CANCELLABLE or now() >= event.ends_at:
        return see_other(request, "me", slug=event.slug)
    return _render(request, "me_cancel.html", {"event": event, "attendee": attendee})


async def me_cancel(request: Request) -> Response:
    """`POST /events/{slug}/me/cancel`: cancel the attendee's registration, free the seat, sign them out."""
    event = await public_event(request)
    await read_form(request)
    attendee = await _attendee(request, event)
    db = app_state(request).db
    if attendee is None:
        async with db.connection() as conn:
            cancelled = await queries.session_of_cancelled(conn, current_sid(request), event.id)
        # A second click after the first one cancelled (and signed out): say it is done, not "please sign in".
        return see_other(request, "cancelled" if cancelled else "login_form", slug=event.slug)
    who = Canceller("me", _meta(request).ip or None)
    result = await cancellation.cancel(db, app_state(request).mailer, event, attendee.id, who)
    if result in (Cancel.DONE, Cancel.ALREADY):
        set_sid(request, None)
        return see_other(request, "cancelled", slug=event.slug)
    return await _me_page(request, event, attendee, cancel_refused=result.value)


async def me_erased(request: Request) -> Response:
    """`GET /events/{slug}/me/erased`: the data is gone (shows nothing about anyone)."""
    event = await public_event(request)
    return _render(request, "me_erased.html", {"event": event})


def _unsubscribe_page(request: Request, event: Event, state: Unsubscribe) -> Response:
    status = 400 if state is Unsubscribe.INVALID else 200
    return _render(request, "privacy_unsubscribe.html", {"event": event, "state": state.value}, status)


async def unsubscribe_form(request: Request) -> Response:
    """`GET /events/{slug}/unsubscribe/{token}`: a confirm button (a GET changes nothing: mail scanners open links)."""
    event = await public_event(request)
    secret = str(app_state(request).settings.secret_key)
    state = await services.unsubscribe_state(app_state(request).db, secret, event, request.path_params["token"])
    return _unsubscribe_page(request, event, state)


async def unsubscribe(request: Request) -> Response:
    """`POST /events/{slug}/unsubscribe/{token}`: the confirm button (CSRF-checked) or an RFC 8058 one-click POST."""
    event = await public_event(request)
    form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES)
    if form.get("List-Unsubscribe") != ONE_CLICK:
        await read_form(request)  # a person's button: the CSRF token is checked as on every form
    secret = str(app_state(request).settings.secret_key)
    db = app_state(request).db
    state = await services.unsubscribe(db, secret, event, request.path_params["token"], _meta(request))
    return _unsubscribe_page(request, event, state)
