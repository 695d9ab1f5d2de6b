"""Inside `webinar serve` the mail sender gives way to the requests being served (issue 26), on both engines:
while one is in flight it waits, a bounded while, before writing each e-mail; with none it sends at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import SMTPServer
from tests.reliability.conftest import eventually
from tests.webinar.regutil import open_form, person
from webinar.db import DB
from webinar.mail import sender
from webinar.mail.sender import deliver_pass
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.state import app_state
from webinar.web.traffic import Traffic


@pytest.fixture
async def traffic(app: Starlette, client: httpx.AsyncClient, create_event: Any) -> Traffic:
    """The app's count of requests in flight, with one confirmation queued to send."""
    await create_event(slug="way")
    data = {**await open_form(client, "way"), **person()}
    assert (await client.post("/events/way/register", data=data)).status_code == 303
    return app_state(app).traffic


async def _held(client: httpx.AsyncClient, release: asyncio.Event) -> int:
    """A request the app is still reading (its body comes once `release` is set): in flight until then."""

    async def body() -> AsyncIterator[bytes]:
        yield b"csrf_token="
        await release.wait()
        yield b"x"

    response = await client.post(
        "/events/way/register", content=body(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return response.status_code


async def _hold(client: httpx.AsyncClient, traffic: Traffic, release: asyncio.Event) -> asyncio.Task[int]:
    """A request held in flight until `release` is set (the task of it), once the app is serving it."""
    held = asyncio.create_task(_held(client, release))

    async def serving() -> bool:
        assert not held.done(), held
        return traffic.in_flight > 0

    await eventually(serving, within=5, every=0.01)
    return held


async def test_while_a_request_is_served_the_sender_waits_and_then_sends(
    traffic: Traffic,
    client: httpx.AsyncClient,
    db: DB,
    smtp_server: SMTPServer,
    smtp_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender, "GIVE_WAY_SECONDS", 30.0)  # longer than the test: only the request's end frees it
    release = asyncio.Event()
    held = await _hold(client, traffic, release)
    sending = asyncio.create_task(deliver_pass(smtp_settings, db, compose_queued, traffic=traffic))
    await asyncio.sleep(0.5)
    assert not smtp_server.messages and not sending.done()  # the request is in flight: nothing written or sent
    release.set()
    assert await held == 403  # the held form had no valid token; what matters is that it ended
    assert (await sending)[0] == 1 and len(smtp_server.messages) == 1
    assert traffic.in_flight == 0


async def test_a_rush_that_never_ends_slows_the_sender_but_does_not_stop_it(
    traffic: Traffic,
    client: httpx.AsyncClient,
    db: DB,
    smtp_server: SMTPServer,
    smtp_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender, "GIVE_WAY_SECONDS", 0.2)
    release = asyncio.Event()
    held = await _hold(client, traffic, release)
    started = time.monotonic()
    assert (await deliver_pass(smtp_settings, db, compose_queued, traffic=traffic))[0] == 1  # the request still held
    assert time.monotonic() - started >= 0.2 and len(smtp_server.messages) == 1
    release.set()
    await held


async def test_with_no_request_in_flight_the_sender_does_not_wait(
    traffic: Traffic, db: DB, smtp_server: SMTPServer, smtp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender, "GIVE_WAY_SECONDS", 30.0)
    assert traffic.in_flight == 0
    sent = await asyncio.wait_for(deliver_pass(smtp_settings, db, compose_queued, traffic=traffic), 10)
    assert sent[0] == 1 and len(smtp_server.messages) == 1
