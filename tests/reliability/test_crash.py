"""`kill -9` of the server during a registration burst, with viewers watching: nothing committed is lost."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

import websockets

from tests.reliability.conftest import Platform, eventually
from tests.reliability.helpers import email_of, outbox_by_registration, register_burst, registered_emails, watch
from tests.webinar.access_helpers import load_event, on_now, sessions_of
from webinar.clock import now
from webinar.db import DB
from webinar.settings import Settings
from webinar.tables import registrations

BURST = 150


async def _heartbeats(socket: Any, session: int) -> None:
    with contextlib.suppress(websockets.exceptions.ConnectionClosed, OSError):
        while True:
            await socket.send(json.dumps({"type": "heartbeat", "session": session}))
            await asyncio.sleep(0.5)


async def test_kill_9_mid_burst_with_viewers_loses_no_registration_and_no_viewing_session(
    platform: Platform,
    settings: Settings,
    db: DB,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
) -> None:
    event = await load_event(db, await create_event(**on_now(slug="crash")))
    viewers = [await create_registration(event.id, email=f"viewer{i}@example.org") for i in range(3)]
    env = {"TRUSTED_PROXIES": "127.0.0.1", "PRESENCE_TIMEOUT_SECONDS": "3", "HEARTBEAT_SECONDS": "1"}
    web = platform.serve("web", **env)
    channels = [await watch(web, settings, event, reg) for reg in viewers]
    beating = [asyncio.create_task(_heartbeats(socket, session)) for socket, session in channels]
    await asyncio.sleep(1)

    burst = asyncio.create_task(register_burst([web.base_url], "crash", range(BURST), concurrency=8))
    await eventually(lambda: _more_than(db, len(viewers) + 5), within=20, every=0.05)
    web.kill()
    killed_at = now()
    statuses = await burst
    for task in beating:
        task.cancel()
    await asyncio.gather(*beating, return_exceptions=True)
    for socket, _ in channels:
        socket.transport.abort()  # nobody is listening: no closing handshake, free the socket now

    answered = {email_of(n) for n, status in statuses.items() if status == 303}
    stored = set(await registered_emails(db)) - {f"viewer{i}@example.org" for i in range(3)}
    assert 0 in statuses.values(), "the kill came after the burst; nothing was tested"
    assert answered <= stored  # every "you are registered" answer was a commit
    for reg in viewers:
        [open_session] = await sessions_of(db, reg)
        assert open_session["ended_at"] is None  # a crash closes nothing

    web.start()  # the same command on the same port, as systemd's Restart=always would
    await eventually(lambda: _all_confirmations_sent(db, viewers), within=30)
    swept = await eventually(lambda: _all_swept(db, viewers), within=20)
    for row in swept:
        assert row["end_reason"] == "timeout" and row["ended_at"] == row["last_seen_at"]
        assert killed_at - dt.timedelta(seconds=2) < row["ended_at"] <= killed_at  # at the last heartbeat
    after = await register_burst([web.base_url], "crash", [BURST + 1])
    assert after == {BURST + 1: 303}


async def _more_than(db: DB, n: int) -> bool:
    return len(await registered_emails(db)) > n


async def _all_confirmations_sent(db: DB, viewers: list[int]) -> bool:
    """Every registration of the burst has exactly its confirmation e-mail, delivered (console backend)."""
    async with db.connection() as conn:
        ids = [row[0] for row in await conn.fetch_all(registrations.select().with_only_columns(registrations.c.id))]
    mail = await outbox_by_registration(db)
    return all(mail.get(i) == [("confirmation", "sent")] for i in ids if i not in viewers)


async def _all_swept(db: DB, viewers: list[int]) -> list[Any] | None:
    rows = [row for reg in viewers for row in await sessions_of(db, reg)]
    return rows if len(rows) == len(viewers) and all(row["ended_at"] is not None for row in rows) else None
