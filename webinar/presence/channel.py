"""The presence channel `WS /events/{slug}/presence`: one viewing session per open stream page (docs/presence.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from webinar.db import DB
from webinar.presence import services
from webinar.presence.heartbeats import HeartbeatWriter
from webinar.presence.limits import MessageRate
from webinar.presence.prompts import Prompts
from webinar.presence.revocations import Channel
from webinar.presence.takeover import OpenPages, tell
from webinar.settings import Settings
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.cookies import current_sid
from webinar.web.language import pick_language
from webinar.web.middleware import same_origin

log = logging.getLogger("webinar.presence")

POLICY_VIOLATION = 1008
MAX_MESSAGE = 1024
MAX_ID = 2**62
# 4001: this viewing session was ended elsewhere; the page reconnects and gets a new one (or is refused).
# 4003: the attendee's access was withdrawn (rejected, cancelled, erased, the event cancelled, logged out): the page
# does not reconnect.
ACK = '{"type": "ack"}'
CLOSE_CODES = {"garbage": POLICY_VIOLATION, "flood": POLICY_VIOLATION, "ended": 4001, "revoked": 4003, "timeout": 1001}


def same_site(websocket: WebSocket, base_url: str) -> bool:
    """Whether the Origin header names our own site, BASE_URL (browsers always send it on WebSockets)."""
    return same_origin(websocket.headers.get("origin"), base_url)


def parse(text: str | None, session_id: int) -> tuple[str, int] | None:
    """The message type ('heartbeat', 'leave' or 'answer') and the presence check answered (0 for the others), or
    None for anything else (garbage, someone else's session)."""
    if text is None or len(text) > MAX_MESSAGE:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") not in ("heartbeat", "leave", "answer"):
        return None
    if "session" in message and message["session"] != session_id:
        return None
    kind: str = message["type"]
    if kind != "answer":
        return kind, 0
    check = message.get("check")
    if type(check) is not int or not 0 < check < MAX_ID:
        return None
    return kind, check


async def presence(websocket: WebSocket) -> None:
    """Authenticate by the attendee session cookie, open or resume a viewing session, and keep it alive."""
    settings: Settings = app_state(websocket).settings
    db = app_state(websocket).db
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    if not same_site(websocket, settings.base_url):
        log.warning("presence: cross-site origin %r refused", websocket.headers.get("origin"))
        await websocket.close(code=POLICY_VIOLATION)
        return
    viewer = await services.authenticate(db, websocket.path_params["slug"], current_sid(websocket), idle)
    if viewer is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    with app_state(websocket).channel_cap.hold(viewer.registration_id) as admitted:
        if not admitted:
            log.warning("presence: registration %s holds too many channels; one more refused", viewer.registration_id)
            await websocket.close(code=POLICY_VIOLATION)
            return
        await _open(websocket, settings, viewer)


async def _open(websocket: WebSocket, settings: Settings, viewer: services.Viewer) -> None:
    """Open or resume the viewer's viewing session, serve the channel, and close both."""
    db = app_state(websocket).db
    await websocket.accept()
    ip = client_ip(websocket, settings.trusted_proxies)
    session_id = await services.open_or_resume(
        db, viewer, ip, websocket.headers.get("user-agent", ""), settings.presence_timeout_seconds
    )
    language = pick_language(websocket, viewer.event.language if viewer.event else None)
    pages: OpenPages = app_state(websocket).open_pages
    if not await _take_over(websocket, pages, viewer, session_id, language):
        return
    await websocket.send_json({"type": "open", "session": session_id, "heartbeat": settings.heartbeat_seconds})
    prompts = Prompts.of(db, str(settings.secret_key), settings.presence_check_seconds, viewer)
    reason = "left"
    pages.add(session_id, websocket, language)
    try:
        with app_state(websocket).revocations.watch(session_id) as channel:
            reason = await (_serve(websocket, settings, channel) if prompts is None else
                            _serve_with_checks(websocket, settings, channel, prompts))  # fmt: skip
    finally:
        pages.remove(session_id, websocket)
        # Shielded: a server shutting down cancels us, and the close must still be written.
        await asyncio.shield(_close_quietly(db, session_id, reason))
    if reason == services.TAKEN_OVER:  # learnt at a heartbeat: the takeover happened on another process
        await tell(websocket, language)
        return
    # A page that closed its socket is gone: nothing to close (sending would fail, and was logged as an error of
    # the application for every viewer who left).
    if WebSocketState.DISCONNECTED not in (websocket.client_state, websocket.application_state):
        try:
            await websocket.close(code=CLOSE_CODES.get(reason, 1000))
        except (RuntimeError, WebSocketDisconnect):
            pass  # the client went away meanwhile


async def _take_over(
    websocket: WebSocket, pages: OpenPages, viewer: services.Viewer, session_id: int, language: str
) -> bool:
    """This page's device takes over from the registrant's others beyond the event's `devices` (SPEC §15); their
    pages connected here are told at once. False (this page told) when another device took over from this one in the
    same moment."""
    settings: Settings = app_state(websocket).settings
    devices = viewer.event.devices if viewer.event else 1
    db = app_state(websocket).db
    ended = await services.take_over(db, viewer, session_id, devices, settings.presence_timeout_seconds)
    if ended is None:
        await tell(websocket, language)
        return False
    await pages.taken_over(ended)
    return True


async def _ended(db: DB, session_id: int) -> str:
    """Why a heartbeat found its session closed: taken over by another device, or ended elsewhere."""
    if await services.end_reason(db, session_id) == services.TAKEN_OVER:
        return services.TAKEN_OVER
    log.info("presence: session %s ended elsewhere (logout, revoke or timeout)", session_id)
    return "ended"


async def _serve(websocket: WebSocket, settings: Settings, channel: Channel) -> str:
    """Handle messages until the page leaves; returns how the session ended ('left', 'timeout', 'garbage', 'ended'
    or 'revoked')."""
    heartbeats: HeartbeatWriter = app_state(websocket).heartbeats
    session_id = channel.session_id
    loop = asyncio.get_running_loop()
    rate = MessageRate(settings.heartbeat_seconds, loop.time())
    while True:
        if channel.revoked:
            return "revoked"
        try:
            # asyncio.timeout, not wait_for: no task per message. What waits here lives a heartbeat interval, long
            # enough to reach the oldest GC generation, whose full collections pause a worker holding thousands
            # of channels for most of a second; fewer such objects, fewer of those pauses.
            async with asyncio.timeout(settings.presence_timeout_seconds) as channel.timeout:
                message = await websocket.receive()
        except TimeoutError:
            return "revoked" if channel.revoked else "timeout"
        if message["type"] == "websocket.disconnect":
            return "left"
        if not rate.allow(loop.time()):
            log.warning("presence: session %s sent messages faster than allowed; channel closed", session_id)
            return "flood"
        parsed = parse(message.get("text"), session_id)
        if parsed is None:
            log.warning("presence: unexpected message on session %s closed the channel", session_id)
            return "garbage"
        if parsed[0] == "leave":
            return "left"
        if parsed[0] == "answer":  # this viewer has no presence checks (any more): nothing to answer
            await websocket.send_text(json.dumps({"type": "answer", "check": parsed[1], "result": "refused"}))
            continue
        if not await heartbeats.beat(session_id):  # also keeps the web session from idling out
            return await _ended(app_state(websocket).db, session_id)
        # A tiny ack lets clients (and the benchmark) measure heartbeat handling; pages ignore it.
        await websocket.send_text(ACK)


async def _serve_with_checks(websocket: WebSocket, settings: Settings, channel: Channel, prompts: Prompts) -> str:
    """`_serve` for an event with presence checks: it also wakes when a check falls due, sends it, and takes the
    answers (docs/attendance.md). The heartbeat deadline is the same: no message within the timeout ends it."""
    heartbeats: HeartbeatWriter = app_state(websocket).heartbeats
    session_id = channel.session_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.presence_timeout_seconds
    rate = MessageRate(settings.heartbeat_seconds, loop.time())
    while True:
        if channel.revoked:
            return "revoked"
        if (shown := await prompts.due()) is not None:
            await websocket.send_text(shown)
        wait = deadline - loop.time()
        due_in = prompts.seconds_to_next()
        try:
            async with asyncio.timeout(wait if due_in is None else min(wait, max(due_in, 0.05))) as channel.timeout:
                message = await websocket.receive()
        except TimeoutError:
            if channel.revoked:
                return "revoked"
            if loop.time() >= deadline:
                return "timeout"
            continue  # a check fell due
        deadline = loop.time() + settings.presence_timeout_seconds
        if message["type"] == "websocket.disconnect":
            return "left"
        if not rate.allow(loop.time()):
            log.warning("presence: session %s sent messages faster than allowed; channel closed", session_id)
            return "flood"
        parsed = parse(message.get("text"), session_id)
        if parsed is None:
            log.warning("presence: unexpected message on session %s closed the channel", session_id)
            return "garbage"
        kind, check = parsed
        if kind == "leave":
            return "left"
        if kind == "answer":
            await websocket.send_text(await prompts.answer(check))
            continue
        if not await heartbeats.beat(session_id):
            return await _ended(app_state(websocket).db, session_id)
        if (shown := await prompts.due()) is not None:  # a check due now goes before the ack
            await websocket.send_text(shown)
        await websocket.send_text(ACK)


async def _close_quietly(db: DB, session_id: int, reason: str) -> None:
    """Record the end of the session; never raise out of the channel."""
    if reason in ("ended", "revoked", services.TAKEN_OVER):  # closed already, by whoever ended it
        return
    try:
        await services.close(db, session_id, "timeout" if reason == "timeout" else "left")
    except Exception:
        log.exception("presence: could not close viewing session %s", session_id)
