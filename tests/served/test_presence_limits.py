"""The presence channel's limits on a real uvicorn: frame size, messages per connection, channels per attendee."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets

from tests.reliability.conftest import Platform, Process, eventually
from tests.webinar.access_helpers import join_path, load_event, on_now, sessions_of
from webinar.db import DB
from webinar.events.queries import Event
from webinar.presence.limits import BURST, CHANNELS_PER_ATTENDEE
from webinar.settings import Settings
from webinar.tables import MOST_DEVICES
from webinar.web.cookies import COOKIE_NAME


async def browser(web: Process, settings: Settings, event: Event, reg: int) -> str:
    """A browser joining with the personal link: its session cookie."""
    async with httpx.AsyncClient(base_url=web.base_url) as http:
        assert (await http.get(join_path(settings, event, reg))).status_code == 303
        return http.cookies[COOKIE_NAME]


async def channel(web: Process, event: Event, cookie: str) -> tuple[Any, int]:
    """Open the presence channel as the stream page does: the socket and its session id."""
    socket = await websockets.connect(
        f"ws://127.0.0.1:{web.port}/events/{event.slug}/presence",
        additional_headers={"Origin": web.base_url, "Cookie": f"{COOKIE_NAME}={cookie}"},
        max_size=2**20,
    )
    hello = json.loads(await socket.recv())
    assert hello["type"] == "open"
    return socket, int(hello["session"])


async def until_closed(socket: Any) -> list[str]:
    """Every message the server sends before it closes the socket."""
    received: list[str] = []
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            received.append(await asyncio.wait_for(socket.recv(), 30))
    return received


async def still_acked(web: Process, settings: Settings, event: Event, reg: int) -> None:
    """Another page of the event still works: the server is unharmed."""
    socket, session = await channel(web, event, await browser(web, settings, event, reg))
    await socket.send(json.dumps({"type": "heartbeat", "session": session}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "ack"}
    await socket.close()


@pytest.fixture
async def viewers(
    db: DB, create_event: Callable[..., Awaitable[int]], create_registration: Callable[..., Awaitable[int]]
) -> tuple[Event, int, int]:
    # As many devices as an event allows: no page takes over from another, so the cap per attendee is what refuses.
    event = await load_event(db, await create_event(**on_now(slug="limits"), devices=MOST_DEVICES))
    return event, await create_registration(event.id, email="ana@example.org"), await create_registration(event.id)


async def test_an_oversized_frame_is_refused_by_the_server_before_the_application_reads_it(
    served: Platform, settings: Settings, viewers: tuple[Event, int, int]
) -> None:
    event, reg, other = viewers
    web = served.serve("web")
    for size in (16 * 2**20, 5000):  # what the review sent, and just above the limit
        socket, _ = await channel(web, event, await browser(web, settings, event, reg))
        try:
            await socket.send("x" * size)
        except websockets.ConnectionClosed:
            pass  # not compressed, 16 MB are still being written when the server closes on reading the frame's header
        assert await until_closed(socket) == []
        assert socket.close_code == 1009  # "message too big", from uvicorn: before, the app read it and said 1008
    await still_acked(web, settings, event, other)


async def test_a_thousand_pipelined_heartbeats_close_the_channel_after_a_burst(
    served: Platform, settings: Settings, db: DB, viewers: tuple[Event, int, int]
) -> None:
    event, reg, other = viewers
    web = served.serve("web")
    socket, session = await channel(web, event, await browser(web, settings, event, reg))
    beat = json.dumps({"type": "heartbeat", "session": session})
    await asyncio.gather(*(socket.send(beat) for _ in range(1000)))
    received = await until_closed(socket)
    assert socket.close_code == 1008
    assert 0 < len(received) <= BURST and set(received) == {'{"type": "ack"}'}  # before: 1,000 acks, 1,000 UPDATEs
    [row] = await sessions_of(db, reg)
    assert row["end_reason"] == "left"
    await still_acked(web, settings, event, other)
    assert "Traceback" not in web.tail(200_000)


async def test_one_attendee_cannot_hold_fifty_channels(
    served: Platform, settings: Settings, viewers: tuple[Event, int, int]
) -> None:
    event, reg, other = viewers
    web = served.serve("web")
    cookies = [await browser(web, settings, event, reg) for _ in range(2)]  # two browsers of the same person
    held, refused = [], 0
    for n in range(50):
        try:
            held.append((await channel(web, event, cookies[n % 2]))[0])
        except websockets.InvalidStatus as refusal:
            assert refusal.response.status_code == 403
            refused += 1
    assert len(held) == CHANNELS_PER_ATTENDEE and refused == 50 - CHANNELS_PER_ATTENDEE
    await still_acked(web, settings, event, other)  # someone else is not counted against them
    await held.pop().close()

    async def admitted_again() -> bool:  # the server counts the closed one off once it has seen the close
        try:
            held.append((await channel(web, event, cookies[0]))[0])
        except websockets.InvalidStatus:
            return False
        return True

    assert await eventually(admitted_again, within=10) and len(held) == CHANNELS_PER_ATTENDEE
    for socket in held:
        await socket.close()


async def test_the_channel_declines_compression_which_would_cost_each_viewer_its_zlib_streams(
    served: Platform, settings: Settings, viewers: tuple[Event, int, int]
) -> None:
    event, reg, _ = viewers
    web = served.serve("web")
    socket, session = await channel(web, event, await browser(web, settings, event, reg))
    assert "permessage-deflate" in socket.request.headers["Sec-WebSocket-Extensions"]  # offered, as browsers do
    assert "Sec-WebSocket-Extensions" not in socket.response.headers  # and declined
    await socket.send(json.dumps({"type": "heartbeat", "session": session}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "ack"}
    await socket.close()
