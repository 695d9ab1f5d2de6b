"""PostgreSQL refusing connections mid-traffic: a quick, clear 503, then recovery by itself, with no restart."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import DEFAULT_PG, _with_database
from tests.reliability.conftest import Platform, eventually
from tests.webinar.regutil import open_form, person
from webinar import migrate
from webinar.registration.batch import Contexts


def _admin_url() -> str:
    return _with_database(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG), "postgres")


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(_admin_url())
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database_url(pg_url: str) -> Iterator[str]:
    """A database of its own (pg_url only proves PostgreSQL is there), so cutting it off disturbs no other test."""
    name = f"webinar_outage_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = _with_database(pg_url, name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true', f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _cut_off(name: str) -> None:
    """Refuse new connections to the database and end the open ones, from a superuser session elsewhere."""
    await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    conn = await asyncpg.connect(_admin_url())
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()


async def _timed_get(http: httpx.AsyncClient, path: str) -> tuple[int, float, httpx.Response]:
    started = time.monotonic()
    response = await http.get(path)
    return response.status_code, time.monotonic() - started, response


async def test_database_refusing_connections_gives_503_then_recovers_by_itself(
    platform: Platform, database_url: str, create_event: Callable[..., Awaitable[int]]
) -> None:
    name = database_url.rsplit("/", 1)[1]
    await create_event(slug="outage")
    web = platform.serve("web", MAIL_BACKEND="console")
    seen: list[tuple[int, float]] = []
    stop = asyncio.Event()

    async def traffic() -> None:  # a visitor reloading the event page the whole time
        async with httpx.AsyncClient(base_url=web.base_url, timeout=10) as http:
            while not stop.is_set():
                status, took, _ = await _timed_get(http, "/events/outage")
                seen.append((status, took))
                await asyncio.sleep(0.05)

    visitor = asyncio.create_task(traffic())
    try:
        async with httpx.AsyncClient(base_url=web.base_url, timeout=10) as http:
            await eventually(lambda: _ok(seen), within=10)
            before = await open_form(http, "outage")  # the form as it was shown before the outage
            await _cut_off(name)
            # The event page may come from the process's copy of the event for up to a second (Contexts.PAGE_SECONDS).
            await asyncio.sleep(Contexts.PAGE_SECONDS + 0.2)
            status, took, page = await _timed_get(http, "/events/outage")
            assert (status, page.headers.get("retry-after")) == (503, "5") and took < 2.0, (status, took)
            assert "Temporarily unavailable" in page.text and "Traceback" not in page.text
            readyz = await http.get("/readyz")
            assert readyz.status_code == 503 and readyz.json()["ready"] is False
            assert (await http.get("/healthz")).status_code == 200  # the process itself is fine
            form = await http.post("/events/outage/register", data={**person(), **before})
            assert form.status_code == 503, form.text[:300]
            await asyncio.sleep(2)  # the outage lasts a while; every answer meanwhile stays quick and clear

            await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            back = time.monotonic()
            await eventually(lambda: _answers_200(http, "/events/outage"), within=20, every=0.5)
            assert time.monotonic() - back < 20
            assert (await http.get("/readyz")).status_code == 200
            hidden = await open_form(http, "outage")
            registered = await http.post("/events/outage/register", data={**person(), **hidden})
            assert registered.status_code == 303
    finally:
        stop.set()
        await visitor
    statuses = {status for status, _ in seen}
    assert statuses <= {200, 503} and 503 in statuses, (seen, web.tail())
    assert max(took for status, took in seen if status == 503) < 2.0
    assert web.popen is not None and web.popen.poll() is None  # recovered without a restart
    assert "unhandled error" not in web.tail(500_000), web.tail()  # no request fell through to the 500 handler


async def _ok(seen: list[tuple[int, float]]) -> bool:
    return any(status == 200 for status, _ in seen)


async def _answers_200(http: httpx.AsyncClient, path: str) -> bool:
    return (await http.get(path)).status_code == 200
