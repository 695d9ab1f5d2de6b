"""One live session per registrant, with takeover (SPEC §15), over the real presence channel on both engines: opening
the stream page on another device ends the first page's viewing session as `taken_over` and tells that page so in
its language; `devices` allows more at once; two devices at the same moment: exactly one wins; the traffic report
shows the takeovers."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import sqlalchemy as sa

from tests.webinar.access_helpers import join, load_event, on_now, presence_socket, sessions_of
from webinar.presence.takeover import TAKEN_OVER_CLOSE
from webinar.tables import viewing_sessions


def device(app) -> httpx.AsyncClient:
    """Another browser (its own cookies) of the same person."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50002)), base_url="http://testserver"
    )


async def opened(ws) -> int:
    assert (await ws.connect())["type"] == "websocket.accept"
    hello = json.loads((await ws.receive())["text"])
    assert hello["type"] == "open"
    return int(hello["session"])


async def told_taken_over(ws) -> str:
    """The page is told, then its channel is closed with 4002 (the page does not reconnect)."""
    message = json.loads((await ws.receive())["text"])
    assert message["type"] == "taken_over"
    closed = await ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == TAKEN_OVER_CLOSE
    await ws.disconnect()
    return str(message["text"])


async def reasons(db, reg: int) -> list[str | None]:
    return [row["end_reason"] for row in await sessions_of(db, reg)]


@pytest.mark.parametrize(
    "language, words", [("en", "continues on another device"), ("ro", "continuă pe alt dispozitiv")]
)
async def test_a_second_device_takes_over_and_the_first_page_is_told_in_its_language(
    app, client, db, settings, create_event, create_registration, language: str, words: str
) -> None:
    event = await load_event(db, await create_event(**on_now(language=language)))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    first = presence_socket(app, client, event)
    first_id = await opened(first)
    async with device(app) as phone:
        await join(phone, settings, event, reg)  # the join link forwarded, or opened on a phone
        second = presence_socket(app, phone, event)
        second_id = await opened(second)
        assert words in await told_taken_over(first)
        rows = {row["id"]: row for row in await sessions_of(db, reg)}
        assert rows[first_id]["end_reason"] == "taken_over" and rows[first_id]["ended_at"] is not None
        assert rows[second_id]["ended_at"] is None
        await second.send(json.dumps({"type": "heartbeat", "session": second_id}))
        assert json.loads((await second.receive())["text"]) == {"type": "ack"}
        await second.disconnect()
    assert await reasons(db, reg) == ["taken_over", "left"]


async def test_devices_allows_more_at_once_and_the_oldest_device_gives_way(
    app, client, db, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now(devices=2)))
    reg = await create_registration(event.id)
    browsers = [client, device(app), device(app)]
    sockets, ids = [], []
    for browser in browsers:
        await join(browser, settings, event, reg)
        sockets.append(presence_socket(app, browser, event))
        ids.append(await opened(sockets[-1]))
    await told_taken_over(sockets[0])  # the third device took over from the first, the second stays
    rows = {row["id"]: row["end_reason"] for row in await sessions_of(db, reg)}
    assert rows == {ids[0]: "taken_over", ids[1]: None, ids[2]: None}
    for ws in sockets[1:]:
        await ws.disconnect()
    for browser in browsers[1:]:
        await browser.aclose()


async def test_two_devices_at_the_same_moment_exactly_one_wins(
    app, client, db, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    other = device(app)
    await join(client, settings, event, reg)
    await join(other, settings, event, reg)
    a, b = presence_socket(app, client, event), presence_socket(app, other, event)
    await asyncio.gather(a.connect(), b.connect())  # both handshakes at once

    async def drain(ws) -> list[str]:
        """What the page received until nothing more came for a second."""
        kinds = []
        while True:
            try:
                message = await asyncio.wait_for(ws.from_app.get(), 1)
            except TimeoutError:
                return kinds
            kinds.append(json.loads(message["text"])["type"] if "text" in message else message["type"])

    got = await asyncio.gather(drain(a), drain(b))
    told = [kinds for kinds in got if "taken_over" in kinds]
    assert len(told) == 1 and told[0][-2:] == ["taken_over", "websocket.close"]  # the loser is told and closed
    [winner] = [kinds for kinds in got if "taken_over" not in kinds]
    assert winner == ["open"]  # the winner goes on
    rows = await sessions_of(db, reg)
    assert sorted(str(r["end_reason"]) for r in rows) == ["None", "taken_over"]  # one open, one taken over
    assert len({r["web_session_hash"] for r in rows}) == 2
    for ws in (a, b):
        await ws.disconnect()
    await other.aclose()


async def test_a_takeover_on_another_process_is_learnt_at_the_next_heartbeat(
    app, client, db, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    ws = presence_socket(app, client, event)
    session_id = await opened(ws)
    async with db.transaction() as conn:  # what another process's takeover writes
        await conn.execute(
            viewing_sessions.update()
            .where(viewing_sessions.c.id == session_id)
            .values(ended_at=sa.func.now(), end_reason="taken_over")
        )
    await ws.send(json.dumps({"type": "heartbeat", "session": session_id}))
    assert "another device" in await told_taken_over(ws)
    assert await reasons(db, reg) == ["taken_over"]


async def test_the_traffic_report_shows_the_takeovers(
    app, client, db, settings, create_event, create_registration, operator_client
) -> None:
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id, email="ana@example.org")
    await join(client, settings, event, reg)
    first = presence_socket(app, client, event)
    await opened(first)
    async with device(app) as phone:
        await join(phone, settings, event, reg)
        second = presence_socket(app, phone, event)
        await opened(second)
        await told_taken_over(first)
        await second.disconnect()
    staff = await operator_client()
    page = await staff.get(f"/admin/events/{event.id}/traffic")
    assert page.status_code == 200 and 'id="takeovers"' in page.text and "taken over" in page.text
    csv = await staff.get(f"/admin/events/{event.id}/reports/traffic.csv")
    assert ",taken_over\r\n" in csv.text and ",left\r\n" in csv.text
