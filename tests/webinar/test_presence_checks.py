"""Presence checks over the real presence channel, with the clock moved: shown only when due, answered in time, late,
forged and replayed answers; and the replay: its page, its sessions of kind `replay`, the page after it ends."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from tests.webinar.access_helpers import join, load_event, on_now, presence_socket, sessions_of
from webinar import clock
from webinar.attendance import checks
from webinar.tables import presence_checks


async def _opened(ws) -> int:
    assert (await ws.connect())["type"] == "websocket.accept"
    hello = json.loads((await ws.receive())["text"])
    assert hello["type"] == "open"
    return int(hello["session"])


async def _say(ws, message: dict) -> dict:
    await ws.send(json.dumps(message))
    return json.loads((await ws.receive())["text"])


def _at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


async def _rows(db, reg: int) -> list:
    async with db.connection() as conn:
        return list(await conn.fetch_all(presence_checks.select().where(presence_checks.c.registration_id == reg)))


async def test_checks_fall_at_secret_moments_and_are_answered_late_forged_or_replayed(
    app, client, db, settings, create_event, create_registration, monkeypatch
) -> None:
    event = await load_event(db, await create_event(**on_now(presence_checks=3)))
    reg = await create_registration(event.id)
    other = await create_registration(event.id)
    moments = checks.schedule(str(settings.secret_key), event, reg, 60)
    assert len(moments) == 3 and all(event.starts_at < m.due_at < m.answer_by < event.ends_at for m in moments)
    assert moments != checks.schedule(str(settings.secret_key), event, other, 60)  # each person's own moments
    await join(client, settings, event, reg)
    page = await client.get(f"/events/{event.slug}/watch")
    assert 'id="presence-check"' in page.text and 'role="alertdialog"' in page.text
    assert moments[0].due_at.isoformat() not in page.text  # nothing in the page tells when

    _at(monkeypatch, moments[0].due_at - dt.timedelta(seconds=5))
    ws = presence_socket(app, client, event)
    session = await _opened(ws)
    assert await _say(ws, {"type": "heartbeat", "session": session}) == {"type": "ack"}  # not due yet
    assert await _rows(db, reg) == []

    _at(monkeypatch, moments[0].due_at + dt.timedelta(seconds=2))
    shown = await _say(ws, {"type": "heartbeat", "session": session})
    assert shown["type"] == "check" and shown["seconds"] == 58
    first = shown["check"]
    assert json.loads((await ws.receive())["text"]) == {"type": "ack"}
    assert await _say(ws, {"type": "heartbeat", "session": session}) == {"type": "ack"}  # shown once per page
    # A made-up id and another person's check are refused, and change nothing.
    assert (await _say(ws, {"type": "answer", "check": first + 1000}))["result"] == "refused"
    async with db.transaction() as conn:
        foreign = await conn.fetch_val(
            presence_checks.insert().values(
                event_id=event.id, registration_id=other, number=1, due_at=moments[0].due_at,
                answer_by=moments[0].answer_by, shown_at=moments[0].due_at,
            ).returning(presence_checks.c.id)
        )  # fmt: skip
    assert (await _say(ws, {"type": "answer", "check": foreign}))["result"] == "refused"
    assert (await _say(ws, {"type": "answer", "check": first}))["result"] == "answered"
    assert (await _say(ws, {"type": "answer", "check": first}))["result"] == "refused"  # a replayed answer

    _at(monkeypatch, moments[1].due_at)
    second = await _say(ws, {"type": "heartbeat", "session": session})
    assert second["type"] == "check" and second["check"] != first
    assert json.loads((await ws.receive())["text"]) == {"type": "ack"}
    _at(monkeypatch, moments[1].answer_by + dt.timedelta(seconds=1))
    assert (await _say(ws, {"type": "answer", "check": second["check"]}))["result"] == "late"
    await ws.send(json.dumps({"type": "leave"}))
    await ws.finished()

    rows = {row["number"]: row for row in await _rows(db, reg)}
    assert set(rows) == {1, 2}  # the third never fell due while the page was open: never shown
    assert rows[1]["answered_at"] == moments[0].due_at + dt.timedelta(seconds=2)
    assert rows[2]["answered_at"] > rows[2]["answer_by"]  # kept, and counts as missed
    async with db.connection() as conn:
        others = await conn.fetch_all(presence_checks.select().where(presence_checks.c.registration_id == other))
    assert [row["answered_at"] for row in others] == [None]


async def test_a_page_opened_while_a_check_waits_shows_it_at_once(
    app, client, db, settings, create_event, create_registration, monkeypatch
) -> None:
    event = await load_event(db, await create_event(**on_now(presence_checks=1)))
    reg = await create_registration(event.id)
    [moment] = checks.schedule(str(settings.secret_key), event, reg, 60)
    await join(client, settings, event, reg)
    _at(monkeypatch, moment.due_at + dt.timedelta(seconds=30))
    ws = presence_socket(app, client, event)
    assert (await ws.connect())["type"] == "websocket.accept"
    assert json.loads((await ws.receive())["text"])["type"] == "open"
    shown = json.loads((await ws.receive())["text"])
    assert shown["type"] == "check" and shown["seconds"] == 30
    await ws.disconnect()


async def test_an_answer_without_checks_is_refused_and_the_page_goes_on(
    app, client, db, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    ws = presence_socket(app, client, event)
    session = await _opened(ws)
    assert (await _say(ws, {"type": "answer", "check": 1}))["result"] == "refused"
    assert await _say(ws, {"type": "heartbeat", "session": session}) == {"type": "ack"}
    await ws.send(json.dumps({"type": "answer", "check": "1; DROP TABLE"}))
    assert (await ws.receive())["type"] == "websocket.close"  # garbage closes the channel
    await ws.finished()


def _replay_event(**fields):
    start = clock.now().replace(microsecond=0) - dt.timedelta(hours=3)
    values = {"starts_at": start, "ends_at": start + dt.timedelta(hours=2), "presence_checks": 2}
    values |= {
        "replay_url": "https://video.example.org/replay/index.m3u8",
        "replay_until": clock.now() + dt.timedelta(days=2),
    }
    return values | fields


async def test_after_the_end_the_page_plays_the_replay_and_its_sessions_are_of_kind_replay(
    app, client, db, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**_replay_event()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    page = await client.get(f"/events/{event.slug}/watch")
    assert page.status_code == 200
    assert 'data-stream-url="https://video.example.org/replay/index.m3u8"' in page.text
    assert "this is its recording" in page.text and 'id="presence-check"' not in page.text
    ws = presence_socket(app, client, event)
    session = await _opened(ws)
    assert await _say(ws, {"type": "heartbeat", "session": session}) == {"type": "ack"}
    await ws.disconnect()
    [row] = await sessions_of(db, reg)
    assert row["kind"] == "replay"
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(presence_checks)) == 0


async def test_an_embedded_replay_is_framed_and_allowed_by_the_csp(
    client, db, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**_replay_event(replay_url="https://player.example.org/v/42")))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    page = await client.get(f"/events/{event.slug}/watch")
    assert '<iframe id="stream" src="https://player.example.org/v/42"' in page.text
    assert "https://player.example.org" in page.headers["content-security-policy"]


@pytest.mark.parametrize("replay", [True, False])
async def test_after_the_replay_or_without_one_a_clear_page(
    client, db, settings, create_event, create_registration, replay
) -> None:
    until = clock.now() - dt.timedelta(minutes=1)
    fields = _replay_event(replay_until=until) if replay else _replay_event(replay_url="", replay_until=None)
    event = await load_event(db, await create_event(**fields))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    page = await client.get(f"/events/{event.slug}/watch")
    assert page.status_code == 200
    if replay:
        assert "its replay is no longer available" in page.text
    else:
        assert "This event is over" in page.text
    assert "<video" not in page.text


async def test_me_shows_the_persons_minutes_and_verdict(
    client, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    event = await load_event(db, await create_event(**on_now(attendance_minutes=5, presence_checks=1)))
    reg = await create_registration(event.id)
    await create_viewing_session(event.id, reg, event.starts_at, event.starts_at + dt.timedelta(minutes=7, seconds=59))
    await join(client, settings, event, reg)
    page = await client.get(f"/events/{event.slug}/me")
    assert page.status_code == 200
    assert '<td id="minutes-live">7 / 5</td>' in page.text
    assert '<td id="presence-answered">0 of 1</td>' in page.text  # the one check is still to come
    assert "does not qualify yet" in page.text
