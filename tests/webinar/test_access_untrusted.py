"""X-Forwarded-For from a peer that is not a trusted proxy is ignored."""

from __future__ import annotations

from tests.webinar.access_helpers import join_path, load_event, on_now, presence_socket, sessions_of
from webinar.tables import web_sessions


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    app, client, db, settings, create_event, create_registration
):
    assert settings.trusted_proxies == ()
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    response = await client.get(join_path(settings, event, reg), headers={"x-forwarded-for": "203.0.113.7"})
    assert response.status_code == 303
    async with db.connection() as conn:
        assert [r["ip"] for r in await conn.fetch_all(web_sessions.select())] == ["127.0.0.1"]
    ws = presence_socket(app, client, event, **{"x-forwarded-for": "203.0.113.7"})
    assert (await ws.connect())["type"] == "websocket.accept"
    await ws.receive()
    await ws.disconnect()
    [row] = await sessions_of(db, reg)
    assert row["ip"] == "127.0.0.1"
