"""Viewing sessions over the presence channel: open, heartbeat, resume, leave, logout, timeout, garbage."""

from __future__ import annotations

import datetime as dt
import gc
import json

import sqlalchemy as sa

from tests.webinar.access_helpers import join, load_event, on_now, presence_socket, sessions_of
from webinar.app import GC_THRESHOLDS
from webinar.clock import now
from webinar.presence import services
from webinar.presence.queries import live_now, live_now_by_event
from webinar.presence.sweeper import interval_seconds
from webinar.tables import viewing_sessions, web_sessions


async def watching(app, client, db, settings, create_event, create_registration, **event_fields):
    """An event on now, an approved registrant logged in on `client`."""
    event = await load_event(db, await create_event(**on_now(**event_fields)))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    return event, reg


async def opened(ws) -> int:
    assert (await ws.connect())["type"] == "websocket.accept"
    hello = json.loads((await ws.receive())["text"])
    assert hello["type"] == "open" and hello["heartbeat"] == 30
    return int(hello["session"])


async def age(db, session_id: int, seconds: int) -> None:
    """Pretend the session was last seen `seconds` ago (and started before that)."""
    past = now() - dt.timedelta(seconds=seconds)
    async with db.transaction() as conn:
        await conn.execute(
            viewing_sessions.update()
            .where(viewing_sessions.c.id == session_id)
            .values(started_at=past - dt.timedelta(minutes=5), last_seen_at=past)
        )


async def test_connect_opens_a_session_heartbeat_keeps_it_and_leave_closes_it(
    app, client, db, settings, create_event, create_registration
):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    ws = presence_socket(app, client, event)
    session_id = await opened(ws)
    [row] = await sessions_of(db, reg)
    assert row["id"] == session_id and row["ended_at"] is None and row["event_id"] == event.id
    assert row["ip"] == "127.0.0.1" and row["user_agent"] == "Mozilla/5.0 (presence test)"
    assert row["web_session_hash"] is not None
    async with db.connection() as conn:
        assert await live_now(conn, event.id) == 1 and await live_now(conn) == 1
    await age(db, session_id, 40)
    await ws.send(json.dumps({"type": "heartbeat", "session": session_id}))
    assert json.loads((await ws.receive())["text"]) == {"type": "ack"}  # each heartbeat is acknowledged
    await ws.send(json.dumps({"type": "leave"}))
    assert (await ws.receive())["type"] == "websocket.close"
    await ws.finished()
    [row] = await sessions_of(db, reg)
    assert row["end_reason"] == "left"
    assert now() - row["last_seen_at"] < dt.timedelta(seconds=5)  # the heartbeat was recorded
    assert now() - row["ended_at"] < dt.timedelta(seconds=5)
    async with db.connection() as conn:
        assert await live_now(conn, event.id) == 0


async def _web_session_seen(db, reg: int, at: dt.datetime | None = None) -> dt.datetime:
    """The attendee's web session's last_seen_at (set to `at` first, when given)."""
    async with db.transaction() as conn:
        if at is not None:
            await conn.execute(
                web_sessions.update().where(web_sessions.c.registration_id == reg).values(last_seen_at=at)
            )
        return await conn.fetch_val(sa.select(web_sessions.c.last_seen_at).where(web_sessions.c.registration_id == reg))


async def test_an_open_page_keeps_its_web_session_from_idling_out_touching_it_once_a_minute(
    app, client, db, settings, create_event, create_registration
):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    ws = presence_socket(app, client, event)
    session_id = await opened(ws)
    recent = await _web_session_seen(db, reg, now() - dt.timedelta(seconds=20))
    await ws.send(json.dumps({"type": "heartbeat", "session": session_id}))
    assert json.loads((await ws.receive())["text"]) == {"type": "ack"}
    assert await _web_session_seen(db, reg) == recent  # touched within the minute: left alone
    await _web_session_seen(db, reg, now() - dt.timedelta(minutes=25))  # the page open for a long while
    await ws.send(json.dumps({"type": "heartbeat", "session": session_id}))
    assert json.loads((await ws.receive())["text"]) == {"type": "ack"}
    assert now() - await _web_session_seen(db, reg) < dt.timedelta(seconds=5)
    await ws.send(json.dumps({"type": "leave"}))
    await ws.finished()


async def test_a_closed_socket_ends_the_session_as_left(app, client, db, settings, create_event, create_registration):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    ws = presence_socket(app, client, event)
    await opened(ws)
    await ws.disconnect()
    [row] = await sessions_of(db, reg)
    assert row["end_reason"] == "left" and row["ended_at"] is not None


async def test_a_reload_within_the_timeout_resumes_the_same_session(
    app, client, db, settings, create_event, create_registration
):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    first = presence_socket(app, client, event)
    session_id = await opened(first)
    await first.send(json.dumps({"type": "leave"}))
    await first.finished()
    again = presence_socket(app, client, event)
    assert await opened(again) == session_id
    [row] = await sessions_of(db, reg)
    assert row["ended_at"] is None and row["end_reason"] is None
    await again.disconnect()


async def test_a_break_longer_than_the_timeout_starts_a_new_session(
    app, client, db, settings, create_event, create_registration
):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    first = presence_socket(app, client, event)
    session_id = await opened(first)
    await first.disconnect()
    async with db.transaction() as conn:
        past = now() - dt.timedelta(seconds=120)
        await conn.execute(
            viewing_sessions.update()
            .where(viewing_sessions.c.id == session_id)
            .values(ended_at=past, last_seen_at=past)
        )
    second = presence_socket(app, client, event)
    assert await opened(second) != session_id
    await second.disconnect()
    assert len(await sessions_of(db, reg)) == 2


async def test_an_open_session_left_by_a_dead_server_is_resumed_within_the_timeout(
    app, client, db, settings, create_event, create_registration
):
    event, _reg = await watching(app, client, db, settings, create_event, create_registration)
    first = presence_socket(app, client, event)
    session_id = await opened(first)
    await age(db, session_id, 60)  # still open: the old server died without closing it
    second = presence_socket(app, client, event)
    assert await opened(second) == session_id
    await second.disconnect()
    await first.disconnect()


async def test_cross_site_origin_and_missing_cookie_are_refused(
    app, client, db, settings, create_event, create_registration
):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    for headers in ({"origin": "https://evil.example"}, {"origin": ""}):
        ws = presence_socket(app, client, event, **headers)
        answer = await ws.connect()
        assert answer["type"] == "websocket.close" and answer["code"] == 1008
        await ws.finished()
    client.cookies.clear()
    ws = presence_socket(app, client, event)
    assert (await ws.connect())["type"] == "websocket.close"
    await ws.finished()
    assert await sessions_of(db, reg) == []


async def test_pending_registrant_gets_no_viewing_session(app, client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id, status="pending")
    await join(client, settings, event, reg)
    ws = presence_socket(app, client, event)
    assert (await ws.connect())["type"] == "websocket.close"
    await ws.finished()
    assert await sessions_of(db, reg) == []


async def test_another_events_channel_is_refused(app, client, db, settings, create_event, create_registration):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    other = await load_event(db, await create_event(**on_now()))
    ws = presence_socket(app, client, other)
    assert (await ws.connect())["type"] == "websocket.close"
    await ws.finished()
    assert await sessions_of(db, reg) == []
    assert event.id != other.id


async def test_garbage_or_someone_elses_session_closes_the_channel_with_1008(
    app, client, db, settings, create_event, create_registration
):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    for message in (
        "not json",
        "[1, 2]",
        '{"type": "hack"}',
        json.dumps({"type": "heartbeat", "session": -5}),
        "x" * 5000,
    ):
        ws = presence_socket(app, client, event)
        await opened(ws)
        await ws.send(message)
        closing = await ws.receive()
        assert closing["type"] == "websocket.close" and closing["code"] == 1008, message[:20]
        await ws.finished()
    rows = await sessions_of(db, reg)
    assert len(rows) == 1 and rows[0]["end_reason"] == "left"  # each reconnect resumed the same session


async def test_binary_frame_is_garbage_too(app, client, db, settings, create_event, create_registration):
    event, _reg = await watching(app, client, db, settings, create_event, create_registration)
    ws = presence_socket(app, client, event)
    await opened(ws)
    await ws.to_app.put({"type": "websocket.receive", "bytes": b"\x00\x01"})
    assert (await ws.receive())["code"] == 1008
    await ws.finished()


async def test_logout_closes_the_viewing_session_with_logout(
    app, client, db, settings, create_event, create_registration
):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    ws = presence_socket(app, client, event)
    session_id = await opened(ws)
    page = await client.get(f"/events/{event.slug}/watch")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert (await client.post(f"/events/{event.slug}/logout", data={"csrf_token": token})).status_code == 303
    # The page now sends a heartbeat or leaves: neither turns "logout" into anything else.
    await ws.send(json.dumps({"type": "heartbeat", "session": session_id}))
    closing = await ws.receive()
    assert closing["type"] == "websocket.close" and closing["code"] == 4001
    await ws.finished()
    [row] = await sessions_of(db, reg)
    assert row["end_reason"] == "logout" and row["ended_at"] is not None


async def test_revoked_web_session_stops_heartbeats(app, client, db, settings, create_event, create_registration):
    event, _reg = await watching(app, client, db, settings, create_event, create_registration)
    ws = presence_socket(app, client, event)
    session_id = await opened(ws)
    async with db.transaction() as conn:
        await conn.execute(web_sessions.update().values(revoked_at=now()))
    await ws.send(json.dumps({"type": "heartbeat", "session": session_id}))
    assert (await ws.receive())["code"] == 4001
    await ws.finished()


async def test_sweeper_closes_silent_sessions_at_their_last_heartbeat(
    app, db, create_event, create_registration, create_viewing_session
):
    event_id = await create_event(**on_now())
    reg = await create_registration(event_id)
    last = now().replace(microsecond=0) - dt.timedelta(seconds=91)
    stale = await create_viewing_session(event_id, reg, started_at=last - dt.timedelta(minutes=20), last_seen_at=last)
    fresh = await create_viewing_session(event_id, reg, started_at=now(), last_seen_at=now() - dt.timedelta(seconds=30))
    done = await create_viewing_session(event_id, reg, started_at=last - dt.timedelta(hours=1), ended_at=last)
    async with db.connection() as conn:
        assert await live_now(conn, event_id) == 1  # the stale one is not live any more
        assert await live_now_by_event(conn) == {event_id: 1}
    assert await services.sweep(db, 90) == 1
    assert await services.sweep(db, 90) == 0
    rows = {r["id"]: r for r in await sessions_of(db, reg)}
    assert rows[stale]["end_reason"] == "timeout" and rows[stale]["ended_at"] == last
    assert rows[fresh]["ended_at"] is None
    assert rows[done]["end_reason"] == "logout"


async def test_a_session_closed_by_timeout_is_not_resumed(app, client, db, settings, create_event, create_registration):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    first = presence_socket(app, client, event)
    session_id = await opened(first)
    await age(db, session_id, 100)
    await services.sweep(db, 90)
    await first.send(json.dumps({"type": "heartbeat"}))
    assert (await first.receive())["code"] == 4001  # the page reconnects and gets a new session
    await first.finished()
    second = presence_socket(app, client, event)
    assert await opened(second) != session_id
    await second.disconnect()
    reasons = sorted(str(r["end_reason"]) for r in await sessions_of(db, reg))
    assert reasons == ["left", "timeout"]


async def test_sweeper_interval_follows_the_timeout() -> None:
    assert interval_seconds(90) == 15 and interval_seconds(6) == 2


async def test_live_now_ignores_other_events(app, db, create_event, create_registration, create_viewing_session):
    one, two = await create_event(**on_now()), await create_event(**on_now())
    for event_id in (one, one, two):
        await create_viewing_session(event_id, await create_registration(event_id), started_at=now())
    async with db.connection() as conn:
        assert await live_now(conn, one) == 2 and await live_now(conn, two) == 1 and await live_now(conn) == 3
        count = await conn.fetch_val(sa.select(sa.func.count()).select_from(viewing_sessions))
    assert count == 3


async def test_joining_again_in_the_same_browser_closes_the_old_pages_session(
    app, client, db, settings, create_event, create_registration
):
    event, reg = await watching(app, client, db, settings, create_event, create_registration)
    ws = presence_socket(app, client, event)
    session_id = await opened(ws)
    await join(client, settings, event, reg)
    await ws.send(json.dumps({"type": "heartbeat", "session": session_id}))
    assert (await ws.receive())["code"] == 4001  # old web session revoked: the page reconnects with the new cookie
    await ws.finished()
    again = presence_socket(app, client, event)
    assert await opened(again) != session_id
    await again.disconnect()
    assert [r["end_reason"] for r in await sessions_of(db, reg)] == ["left", "left"]


async def test_a_serving_process_lets_what_a_channel_keeps_between_heartbeats_die_young(app) -> None:
    # The app fixture runs the lifespan: a worker serving thousands of channels must not make full collections
    # of them every few seconds (docs/performance.md, "watch").
    assert gc.get_threshold() == GC_THRESHOLDS and GC_THRESHOLDS[0] >= 10_000
