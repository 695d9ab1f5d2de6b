"""The presence channel on a real uvicorn: viewers who leave, however they leave, are not server errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from tests.reliability.conftest import Platform, eventually
from tests.reliability.helpers import watch
from tests.webinar.access_helpers import load_event, on_now, sessions_of
from webinar.db import DB
from webinar.settings import Settings


async def test_leaving_by_message_by_close_or_by_dropping_the_socket_logs_no_error(
    platform: Platform,
    settings: Settings,
    db: DB,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
) -> None:
    event = await load_event(db, await create_event(**on_now(slug="leaving")))
    web = platform.serve("web")
    regs = [await create_registration(event.id, email=f"viewer{i}@example.org") for i in range(3)]
    sockets = [await watch(web, settings, event, reg) for reg in regs]
    for socket, session in sockets:
        await socket.send(json.dumps({"type": "heartbeat", "session": session}))
        assert json.loads(await socket.recv()) == {"type": "ack"}

    (by_message, session), (by_close, _), (dropped, _) = sockets
    await by_message.send(json.dumps({"type": "leave", "session": session}))
    await by_message.close()
    await by_close.close()  # what a closing tab does
    dropped.transport.abort()  # a lost connection: no closing handshake

    async def all_left() -> bool:
        rows = [row for reg in regs for row in await sessions_of(db, reg)]
        return len(rows) == 3 and all(row["end_reason"] == "left" for row in rows)

    assert await eventually(all_left, within=15)
    log = web.tail(200_000)
    assert "Exception in ASGI application" not in log and "Traceback" not in log, log[-3000:]
