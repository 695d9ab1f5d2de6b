"""The API's handlers: each reads its checked call, asks one query or service, and answers JSON."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from starlette.responses import JSONResponse, Response

from webinar.api import queries, services
from webinar.api.problems import Problem
from webinar.api.spec import Call, cursor, read_cursor
from webinar.attendance import queries as attendance_queries
from webinar.attendance.queries import Verdict
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.registration import queries as registration_queries
from webinar.registration import services as registration_services
from webinar.registration.rows import RequestMeta
from webinar.state import app_state
from webinar.webhooks import subscriptions, targets
from webinar.webhooks.subscriptions import Subscription

FIELD_NAMES = ("job_title", "member_id", "organisation", "phone")
NOT_FOUND = "There is nothing at this address that this token may see."


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def event_json(call: Call, event: Event) -> dict[str, Any]:
    return {
        "id": event.id, "organisation_id": event.organisation_id, "slug": event.slug, "title": event.title,
        "description": event.description, "language": event.language, "timezone": event.timezone,
        "starts_at": _time(event.starts_at), "ends_at": _time(event.ends_at),
        "registration_opens_at": _time(event.registration_opens_at),
        "registration_closes_at": _time(event.registration_closes_at), "capacity": event.capacity,
        "approval": event.approval, "waitlist": event.waitlist, "status": event.status,
        "url": str(call.request.url_for("event", slug=event.slug)), "updated_at": _time(event.updated_at),
    }  # fmt: skip


def registration_json(row: Any, answers: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row["id"], "event_id": row["event_id"], "email": row["email"], "first_name": row["first_name"],
        "last_name": row["last_name"], **{name: row[name] for name in FIELD_NAMES}, "status": row["status"],
        "marketing_opt_in": bool(row["marketing_opt_in"]), "language": row["language"],
        "created_at": _time(row["created_at"]), "updated_at": _time(row["updated_at"]),
        "decided_at": _time(row["decided_at"]), "erased": row["erased_at"] is not None,
        "answers": {str(k): v for k, v in answers.items()},
    }  # fmt: skip


def _page(data: list[Any], more: bool, next_cursor: str | None) -> JSONResponse:
    return JSONResponse({"data": data, "next_cursor": next_cursor if more else None})


async def _event(call: Call) -> Event:
    """The event of the path, if this token sees it; 404 otherwise (another organisation's too)."""
    async with app_state(call.request).db.connection() as conn:
        event = await queries.event(conn, call.scope, call.params["event_id"])
    if event is None:
        raise Problem(404, NOT_FOUND)
    return event


async def list_events(call: Call) -> Response:
    (after,) = read_cursor(call.params["cursor"], int) or (0,)
    size = call.params["limit"]
    async with app_state(call.request).db.connection() as conn:
        found = await queries.events_after(conn, call.scope, after, size + 1)
    page = found[:size]
    return _page([event_json(call, e) for e in page], len(found) > size, cursor(page[-1].id) if page else None)


async def get_event(call: Call) -> Response:
    event = await _event(call)
    async with app_state(call.request).db.connection() as conn:
        consents = await event_queries.current_consents(conn, event.id)
        asked = await registration_queries.questions_of(conn, event.id)
    shown = consents.shown(event.language)
    detail = event_json(call, event) | {
        "consent_version": shown.version if shown else None,
        "consent_texts": [
            {"language": t.language, "version": t.version, "text": t.text, "sha256": t.sha256} for t in consents.texts
        ],
        "fields": {name: event.field_mode(name) for name in FIELD_NAMES},
        "questions": [
            {"id": q.id, "label": q.label(event.language), "kind": q.kind, "required": q.required,
             "options": list(q.choices)}
            for q in asked
        ],
    }  # fmt: skip
    return JSONResponse(detail)


async def list_registrations(call: Call) -> Response:
    (after,) = read_cursor(call.params["cursor"], int) or (0,)
    size, status, event_id = call.params["limit"], call.params["status"], call.params["event_id"]
    db = app_state(call.request).db
    # Three reads at once, one round trip's wait instead of three (a client syncing pages waits for each): nothing
    # read leaves unless the token sees the event (_event raises the 404 first).
    _, found, given = await asyncio.gather(
        _event(call),
        queries.registrations_after(db, event_id, status, after, size + 1),
        queries.answers_after(db, event_id, status, after, size),
    )
    page = found[:size]
    data = [registration_json(r, given.get(r["id"], {})) for r in page]
    return _page(data, len(found) > size, cursor(page[-1]["id"]) if page else None)


async def _registration_response(call: Call, registration_id: int, status: int = 200) -> Response:
    async with app_state(call.request).db.connection() as conn:
        found = await queries.registration(conn, call.scope, registration_id)
        if found is None:
            raise Problem(404, NOT_FOUND)
        given = await registration_queries.answers_of(conn, registration_id)
    return JSONResponse(registration_json(found[0], given), status_code=status)


# What a refused registration answers: the status and the words.
REFUSALS = {
    registration_services.DUPLICATE: (409, "This address is already registered for the event."),
    registration_services.FULL: (409, "The event is full."),
    registration_services.CLOSED: (409, "The event does not take registrations now."),
    registration_services.UNAVAILABLE: (409, "Registration is not available for this event."),
    registration_services.STALE_CONSENT: (409, "The consent text changed; send its current version."),
}


async def create_registration(call: Call) -> Response:
    event = await _event(call)
    state = app_state(call.request)
    ctx = await state.registrar.context(event.slug)
    if ctx is None or ctx.event.purged_at is not None:
        raise Problem(404, NOT_FOUND)
    meta = RequestMeta(call.ip, call.request.headers.get("user-agent", "")[:500])
    done = await services.register(state.db, state.registrar, ctx, call.body, meta, call.token)
    if done.kind == registration_services.INVALID:
        raise Problem(422, "Some fields are not valid.", done.errors)
    if done.registration_id is None:
        status, words = REFUSALS.get(done.kind, (409, "The registration was refused."))
        raise Problem(status, words + (f" ({done.state})" if done.state else ""))
    return await _registration_response(call, done.registration_id, 201)


async def get_registration(call: Call) -> Response:
    return await _registration_response(call, call.params["registration_id"])


async def patch_registration(call: Call) -> Response:
    state = app_state(call.request)
    reg_id = call.params["registration_id"]
    async with state.db.connection() as conn:
        found = await queries.registration(conn, call.scope, reg_id)
    if found is None:
        raise Problem(404, NOT_FOUND)
    row, event = found
    wanted = call.body["status"]
    if row["status"] != wanted and not await services.change_status(
        state.db, state.mailer, event, reg_id, wanted, call.token, call.ip
    ):
        raise Problem(409, f"A registration that is {row['status']} cannot become {wanted}.")
    return await _registration_response(call, reg_id)


def session_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "registration_id": row["registration_id"], "kind": row["kind"],
        "started_at": _time(row["started_at"]), "last_seen_at": _time(row["last_seen_at"]),
        "ended_at": _time(row["ended_at"]), "end_reason": row["end_reason"],
    }  # fmt: skip


async def list_sessions(call: Call) -> Response:
    event = await _event(call)
    after = read_cursor(call.params["cursor"], dt.datetime, int)
    size = call.params["limit"]
    async with app_state(call.request).db.connection() as conn:
        found = await queries.sessions_after(
            conn,
            event.id,
            call.params["from"],
            call.params["to"],
            after,
            size + 1,
        )
    page = found[:size]
    last = cursor(page[-1]["started_at"], page[-1]["id"]) if page else None
    return _page([session_json(r) for r in page], len(found) > size, last)


def attendance_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "registration_id": verdict.id, "minutes_live": verdict.minutes_live, "minutes_replay": verdict.minutes_replay,
        "checks_shown": verdict.checks_shown, "checks_answered": verdict.checks_answered,
        "qualifies": verdict.qualifies, "certificate": verdict.certificate,
    }  # fmt: skip


async def list_attendance(call: Call) -> Response:
    event = await _event(call)
    (after,) = read_cursor(call.params["cursor"], int) or (0,)
    size = call.params["limit"]
    async with app_state(call.request).db.connection() as conn:
        found = await attendance_queries.verdicts_after(conn, event, after, size + 1)
    page = found[:size]
    return _page([attendance_json(v) for v in page], len(found) > size, cursor(page[-1].id) if page else None)


def webhook_json(sub: Subscription, with_secret: bool = False) -> dict[str, Any]:
    shown = {"id": sub.id, "url": sub.url, "events": sub.event_types, "created_at": _time(sub.created_at)}
    return shown | {"disabled": sub.disabled_at is not None} | ({"secret": sub.secret} if with_secret else {})


async def list_webhooks(call: Call) -> Response:
    async with app_state(call.request).db.connection() as conn:
        found = await subscriptions.of(conn, call.scope)
    return JSONResponse({"data": [webhook_json(s) for s in found]})


async def create_webhook(call: Call) -> Response:
    state = app_state(call.request)
    url = call.body["url"]
    refused = await targets.refusal(url, state.settings.webhook_allow_private)
    if refused:
        raise Problem(422, "The webhook's URL is refused.", {"url": refused})
    async with state.db.transaction() as conn:
        sub = await subscriptions.create(conn, call.scope, url, call.body["events"], call.token.actor, call.ip)
    return JSONResponse(webhook_json(sub, with_secret=True), status_code=201)


async def delete_webhook(call: Call) -> Response:
    async with app_state(call.request).db.transaction() as conn:
        gone = await subscriptions.delete(conn, call.scope, call.params["webhook_id"], call.token.actor, call.ip)
    if not gone:
        raise Problem(404, NOT_FOUND)
    return Response(status_code=204)
