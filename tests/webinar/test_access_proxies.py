"""The client IP of attendee and viewing sessions honours X-Forwarded-For only from TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress

import pytest

from tests.webinar.access_helpers import join_path, load_event, on_now, presence_socket, sessions_of
from webinar.settings import Settings
from webinar.tables import web_sessions


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The test client's peer is 127.0.0.1: make it our reverse proxy.
    return settings.with_overrides(trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),))


async def session_ips(db) -> list[str]:
    async with db.connection() as conn:
        return [row["ip"] for row in await conn.fetch_all(web_sessions.select())]


async def test_forwarded_for_from_a_trusted_proxy_is_honoured(
    app, client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    response = await client.get(join_path(settings, event, reg), headers={"x-forwarded-for": "203.0.113.7"})
    assert response.status_code == 303
    assert await session_ips(db) == ["203.0.113.7"]
    ws = presence_socket(app, client, event, **{"x-forwarded-for": "198.51.100.1, 203.0.113.9"})
    assert (await ws.connect())["type"] == "websocket.accept"
    await ws.receive()
    await ws.disconnect()
    [row] = await sessions_of(db, reg)
    assert row["ip"] == "203.0.113.9"
