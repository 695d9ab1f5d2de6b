"""A decision that removes access closes the attendee's open stream pages at once, on every worker (issue 25 §3)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette

from tests.conftest import csrf_from
from tests.reliability.conftest import Platform, Process
from tests.webinar.access_helpers import join, join_path, load_event, on_now, sessions_of
from webinar.db import DB
from webinar.events.queries import Event
from webinar.settings import Settings
from webinar.web.cookies import COOKIE_NAME

# The poll interval (REVOCATION_POLL_SECONDS, 2 s) plus what a busy shared test machine adds.
WITHIN = 6.0


async def open_page(web: Process, settings: Settings, event: Event, reg: int) -> tuple[Any, str]:
    """A browser of its own joining with the personal link on `web` and opening the presence channel: the socket
    (after one acknowledged heartbeat) and the browser's cookie."""
    async with httpx.AsyncClient(base_url=web.base_url) as http:
        assert (await http.get(join_path(settings, event, reg))).status_code == 303
        cookie = http.cookies[COOKIE_NAME]
    socket = await websockets.connect(
        f"ws://127.0.0.1:{web.port}/events/{event.slug}/presence",
        additional_headers={"Origin": web.base_url, "Cookie": f"{COOKIE_NAME}={cookie}"},
    )
    hello = json.loads(await socket.recv())
    await socket.send(json.dumps({"type": "heartbeat", "session": hello["session"]}))
    assert json.loads(await socket.recv()) == {"type": "ack"}
    return socket, cookie


async def closed_after(socket: Any, started: float) -> tuple[int | None, float]:
    """Wait for the server to close the socket: its close code and how long after `started` it came."""
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(socket.recv(), WITHIN * 2)
    return socket.close_code, time.monotonic() - started


async def decide(decision: str, app: Starlette, operator: httpx.AsyncClient, settings: Settings, event: Event,
                 reg: int) -> None:  # fmt: skip
    """Take one of the decisions that remove access, through the app (a process apart from the servers)."""
    base = f"/admin/events/{event.id}"
    if decision == "reject":
        token = csrf_from((await operator.get(f"{base}/registrants")).text)
        response = await operator.post(f"{base}/registrants/reject", data={"ids": [str(reg)], "csrf_token": token})
    elif decision == "erase":
        token = csrf_from((await operator.get(f"{base}/registrants/{reg}/erase")).text)
        response = await operator.post(f"{base}/registrants/{reg}/erase", data={"csrf_token": token})
    elif decision == "event_cancelled":
        token = csrf_from((await operator.get(base)).text)
        response = await operator.post(f"{base}/cancel", data={"csrf_token": token, "confirm": "yes"})
    else:  # the attendee cancels from /me, in another browser
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as attendee:
            await join(attendee, settings, event, reg)
            form = await attendee.get(f"/events/{event.slug}/me/cancel")
            response = await attendee.post(f"/events/{event.slug}/me/cancel", data={"csrf_token": csrf_from(form.text)})
    assert response.status_code == 303, response.text[:500]


@pytest.mark.parametrize("decision", ["reject", "cancel", "erase", "event_cancelled"])
async def test_a_decision_that_removes_access_closes_the_attendees_channels_on_every_worker(
    decision: str,
    served: Platform,
    settings: Settings,
    app: Starlette,
    db: DB,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
    operator_client: Callable[[], Awaitable[httpx.AsyncClient]],
) -> None:
    slug = f"withdrawn-{decision.replace('_', '-')}"
    event = await load_event(db, await create_event(**on_now(slug=slug), devices=2))  # a page on each worker
    reg = await create_registration(event.id, email="ana@example.org", language="en")
    other = await create_registration(event.id, email="ion@example.org", language="en")
    # Two workers are two processes; SQLite is served by one (`webinar serve` refuses more).
    workers = [served.serve("web1")] + ([] if settings.is_sqlite else [served.serve("web2")])
    pages = [await open_page(web, settings, event, reg) for web in workers]
    bystander, _ = await open_page(workers[-1], settings, event, other)
    operator = await operator_client()

    await decide(decision, app, operator, settings, event, reg)
    started = time.monotonic()
    closed = [await closed_after(socket, started) for socket, _ in pages]
    print(f"{settings.database_url.split(':')[0]} {decision}: closed after", [round(delay, 2) for _, delay in closed])
    assert [code for code, _ in closed] == [4003] * len(workers), closed
    assert all(delay < WITHIN for _, delay in closed), closed  # measured: 0.07-1.8 s, the poll interval at most

    assert all(row["ended_at"] is not None and row["end_reason"] == "logout" for row in await sessions_of(db, reg))
    for web, (_, cookie) in zip(workers, pages, strict=True):  # the browsers' web sessions ended too
        async with httpx.AsyncClient(base_url=web.base_url, cookies={COOKIE_NAME: cookie}) as http:
            assert (await http.get(f"/events/{event.slug}/watch")).status_code != 200
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(
                f"ws://127.0.0.1:{web.port}/events/{event.slug}/presence",
                additional_headers={"Origin": web.base_url, "Cookie": f"{COOKIE_NAME}={cookie}"},
            )
    if decision == "event_cancelled":  # everyone's page closes
        assert (await closed_after(bystander, started))[0] == 4003
    else:  # someone else's page goes on
        await bystander.send(json.dumps({"type": "heartbeat"}))
        assert json.loads(await asyncio.wait_for(bystander.recv(), 10)) == {"type": "ack"}
        await bystander.close()
    for web in workers:
        log = web.tail(200_000)
        assert "Traceback" not in log, log[-3000:]
