"""Helpers for the fault tests: registering many people over HTTP against a running process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
import sqlalchemy as sa
import websockets

from tests.reliability.conftest import Process
from tests.webinar.access_helpers import join_path
from tests.webinar.regutil import open_form, person
from webinar.db import DB
from webinar.events.queries import Event
from webinar.settings import Settings
from webinar.tables import outbox, registrations
from webinar.web.cookies import COOKIE_NAME


def email_of(n: int, prefix: str = "p") -> str:
    return f"{prefix}{n:03d}@example.org"


async def register_burst(
    base_urls: Sequence[str], slug: str, numbers: Sequence[int], prefix: str = "p", concurrency: int = 20
) -> dict[int, int]:
    """Register person `n` for each number, concurrently, spread over the servers; their HTTP statuses.

    Each person comes from their own address (X-Forwarded-For; the servers trust 127.0.0.1 as a proxy),
    as people behind a reverse proxy do, so the per-IP registration limit does not apply to the burst.
    """
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for url in base_urls]
    gate = asyncio.Semaphore(concurrency)
    try:
        forms = [await open_form(client, slug) for client in clients]

        async def one(i: int, n: int) -> tuple[int, int]:
            k = i % len(clients)
            data = {**person(email=email_of(n, prefix), first_name=f"Ana{n}"), **forms[k]}
            headers = {"X-Forwarded-For": f"198.51.{n // 250}.{n % 250 + 1}"}
            async with gate:
                try:
                    response = await clients[k].post(f"/events/{slug}/register", data=data, headers=headers)
                except httpx.TransportError:
                    return n, 0  # the server died under us
            return n, response.status_code

        return dict(await asyncio.gather(*(one(i, n) for i, n in enumerate(numbers))))
    finally:
        for client in clients:
            await client.aclose()


async def registered_emails(db: DB) -> list[str]:
    async with db.connection() as conn:
        return [row[0] for row in await conn.fetch_all(sa.select(registrations.c.email).order_by(registrations.c.id))]


async def outbox_by_registration(db: DB) -> dict[int, list[tuple[str, str]]]:
    """(kind, status) of the outbox messages of each registration."""
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(outbox.c.registration_id, outbox.c.kind, outbox.c.status))
    found: dict[int, list[tuple[str, str]]] = {}
    for row in rows:
        found.setdefault(row[0], []).append((row[1], row[2]))
    return found


async def watch(web: Process, settings: Settings, event: Event, reg: int) -> tuple[Any, int]:
    """Join with the personal link and open the stream page's presence channel, as the page does: the socket
    and its viewing session's id."""
    async with httpx.AsyncClient(base_url=web.base_url) as http:
        assert (await http.get(join_path(settings, event, reg))).status_code == 303
        cookie = http.cookies.get(COOKIE_NAME)
    socket = await websockets.connect(
        f"ws://127.0.0.1:{web.port}/events/{event.slug}/presence",
        additional_headers={"Origin": web.base_url, "Cookie": f"{COOKIE_NAME}={cookie}"},
    )
    hello = json.loads(await socket.recv())
    assert hello["type"] == "open"
    return socket, int(hello["session"])
