"""A real browser on a real server: join, watch, log out, close the tab; a crashed server's session is swept."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.conftest import HEARTBEAT, PRESENCE_TIMEOUT, Server
from tests.webinar.access_helpers import join_path, load_event, on_now, sessions_of
from webinar.clock import now
from webinar.db import DB
from webinar.web.cookies import COOKIE_NAME

pytestmark = pytest.mark.browser

UNREACHABLE_STREAM = "https://127.0.0.1:9/live/index.m3u8"  # no internet here: the player just has nothing to play


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    """Poll until `check()` returns something truthy; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.2)


async def test_join_watch_logout_then_close_the_tab(
    server: Server, browser: Any, db: DB, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now(stream_url=UNREACHABLE_STREAM)))
    reg = await create_registration(event.id)
    join_url = server.base_url + join_path(settings, event, reg)
    context = await browser.new_context()
    page = await context.new_page()
    scripts: list[tuple[str, int]] = []
    page.on("response", lambda r: scripts.append((r.url, r.status)) if r.url.endswith(".js") else None)

    await page.goto(join_url)
    assert page.url == f"{server.base_url}/events/{event.slug}/watch"
    assert await page.locator("video#stream").count() == 1
    assert (f"{server.base_url}/static/vendor/hls/hls.min.js", 200) in scripts
    assert await page.evaluate("typeof window.Hls") == "function"
    [opened] = await eventually(lambda: sessions_of(db, reg))
    await asyncio.sleep(HEARTBEAT * 2 + 1)  # stay a few heartbeats
    [still] = await sessions_of(db, reg)
    assert still["ended_at"] is None and still["last_seen_at"] > opened["last_seen_at"]

    await page.click("#logout")
    await page.wait_for_url(f"{server.base_url}/events/{event.slug}?signed_out=1")
    assert await page.locator("#signed-out").is_visible()
    [first] = await eventually(lambda: _ended(db, reg, 1))
    assert first["end_reason"] == "logout" and first["ip"] == "127.0.0.1"
    assert "HeadlessChrome" in first["user_agent"]

    page = await context.new_page()
    await page.goto(join_url)
    await eventually(lambda: _count(db, reg, 2))
    await page.close(run_before_unload=True)
    closed_at = now()
    rows = await eventually(lambda: _ended(db, reg, 2), within=10)
    second = rows[1]
    assert second["end_reason"] == "left" and second["ip"] == "127.0.0.1"
    assert second["ended_at"] - closed_at < dt.timedelta(seconds=10)
    assert [r["end_reason"] for r in rows] == ["logout", "left"]
    await context.close()


async def _count(db: DB, reg: int, n: int) -> bool:
    return len(await sessions_of(db, reg)) == n


async def _ended(db: DB, reg: int, n: int) -> list[Any] | None:
    rows = await sessions_of(db, reg)
    return rows if len(rows) == n and all(r["ended_at"] is not None for r in rows) else None


async def test_killed_server_leaves_the_session_to_the_sweeper(
    server: Server, db: DB, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.get(join_path(settings, event, reg))
        assert response.status_code == 303
        cookie = http.cookies.get(COOKIE_NAME)
    presence_url = f"ws://127.0.0.1:{server.port}/events/{event.slug}/presence"
    headers = {"Origin": server.base_url, "Cookie": f"{COOKIE_NAME}={cookie}"}
    socket = await websockets.connect(presence_url, additional_headers=headers)
    hello = json.loads(await socket.recv())
    assert hello["type"] == "open"
    await socket.send(json.dumps({"type": "heartbeat", "session": hello["session"]}))
    await asyncio.sleep(0.5)
    [before] = await sessions_of(db, reg)

    server.kill()
    await socket.close()  # nobody is listening: this close reaches no server
    [after_kill] = await sessions_of(db, reg)
    assert after_kill["ended_at"] is None  # a crash closes nothing

    server.start()
    [swept] = await eventually(lambda: _ended(db, reg, 1), within=PRESENCE_TIMEOUT + 10)
    assert swept["end_reason"] == "timeout"
    assert swept["ended_at"] == swept["last_seen_at"] == before["last_seen_at"]


async def test_cross_site_websocket_is_refused_by_the_real_server(
    server: Server, db: DB, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await http.get(join_path(settings, event, reg))
        cookie = http.cookies.get(COOKIE_NAME)
    presence_url = f"ws://127.0.0.1:{server.port}/events/{event.slug}/presence"
    headers = {"Origin": "https://evil.example", "Cookie": f"{COOKIE_NAME}={cookie}"}
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await websockets.connect(presence_url, additional_headers=headers)
    assert await sessions_of(db, reg) == []
