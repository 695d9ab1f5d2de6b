"""Helpers shared by the access and presence tests: join links, events that are on now, an ASGI WebSocket."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

from webinar.clock import now
from webinar.db import DB
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.links.tokens import JOIN, make_token
from webinar.settings import Settings
from webinar.tables import viewing_sessions
from webinar.web.cookies import COOKIE_NAME


def on_now(**overrides: Any) -> dict[str, Any]:
    """Event fields for an event that started ten minutes ago and runs for an hour more."""
    start = now().replace(microsecond=0) - dt.timedelta(minutes=10)
    values: dict[str, Any] = {"starts_at": start, "ends_at": start + dt.timedelta(hours=1, minutes=10)}
    values.update(overrides)
    return values


async def load_event(db: DB, event_id: int) -> Event:
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
    assert event is not None
    return event


def join_path(
    settings: Settings, event: Event, reg_id: int, version: int = 1, expires: dt.datetime | None = None
) -> str:
    token = make_token(str(settings.secret_key), JOIN, reg_id, version, expires or event.join_link_expires_at)
    return f"/events/{event.slug}/join/{token}"


async def join(client: httpx.AsyncClient, settings: Settings, event: Event, reg_id: int) -> httpx.Response:
    response = await client.get(join_path(settings, event, reg_id))
    assert response.status_code == 303, response.text[:300]
    return response


async def sessions_of(db: DB, registration_id: int) -> list[Any]:
    async with db.connection() as conn:
        return list(
            await conn.fetch_all(
                viewing_sessions.select()
                .where(viewing_sessions.c.registration_id == registration_id)
                .order_by(viewing_sessions.c.id)
            )
        )


class AsgiWebSocket:
    """A WebSocket client that talks to the ASGI app directly, in the test's own event loop."""

    def __init__(
        self, app: ASGIApp, path: str, headers: dict[str, str], client: tuple[str, int] = ("127.0.0.1", 50001)
    ):
        self.app = app
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "testserver", **headers}.items()],
            "client": client,
            "server": ("testserver", 80),
            "subprotocols": [],
        }
        self.task: asyncio.Task[None] | None = None

    async def connect(self) -> Message:
        """Start the handshake; the app's first answer (`websocket.accept` or `websocket.close`)."""
        self.task = asyncio.create_task(self.app(self.scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "websocket.connect"})
        return await self.receive()

    async def receive(self) -> Message:
        return await asyncio.wait_for(self.from_app.get(), 5)

    async def send(self, text: str) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": text})

    async def disconnect(self, code: int = 1001) -> None:
        await self.to_app.put({"type": "websocket.disconnect", "code": code})
        await self.finished()

    async def finished(self) -> None:
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)


def presence_socket(app: ASGIApp, client: httpx.AsyncClient, event: Event, **headers: str) -> AsgiWebSocket:
    """A presence channel for the attendee logged in on `client` (its cookie), from our own origin."""
    values = {"origin": "http://testserver", "user-agent": "Mozilla/5.0 (presence test)"}
    cookie = client.cookies.get(COOKIE_NAME)
    if cookie:
        values["cookie"] = f"{COOKIE_NAME}={cookie}"
    values.update(headers)
    return AsgiWebSocket(app, f"/events/{event.slug}/presence", values)
