"""Running it for real: graceful shutdown finishes in-flight requests; /readyz tells when not to send traffic."""

from __future__ import annotations

import asyncio
import csv
import io
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
from starlette.datastructures import Secret

from tests.conftest import login_staff
from tests.reliability.conftest import Platform
from webinar import migrate
from webinar.app import create_app
from webinar.presence import services as presence
from webinar.settings import Settings

ROWS = 5_000


async def _many_registrations(database_url: str, event_id: int, n: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """
            INSERT INTO registrations (event_id, email, email_normalised, first_name, last_name, organisation,
                                       search_text, status, created_at, updated_at)
            SELECT $1, 'p' || i || '@example.org', 'p' || i || '@example.org', 'Ana', 'Pop' || i,
                   'Institutul de Fizică Atomică, departamentul de teorie', '', 'approved', now(), now()
            FROM generate_series(1, $2) AS i
            """,
            event_id,
            n,
        )
    finally:
        await conn.close()


async def test_sigterm_lets_a_streaming_export_finish(
    platform: Platform,
    settings: Settings,
    create_event: Callable[..., Awaitable[int]],
    create_staff: Callable[..., Awaitable[object]],
) -> None:
    event_id = await create_event(slug="big-export")
    await _many_registrations(settings.database_url, event_id, ROWS)
    user = await create_staff("operator")
    web = platform.serve("web")
    assert web.popen is not None
    async with httpx.AsyncClient(base_url=web.base_url, timeout=30) as http:
        assert (await login_staff(http, user.email)).status_code == 303  # type: ignore[attr-defined]

        async def export() -> tuple[int, bytes]:
            async with http.stream("GET", f"/admin/events/{event_id}/reports/registered.csv") as response:
                return response.status_code, await response.aread()

        # Another transaction holds the table, as a long maintenance statement would: the export waits for it.
        blocker = await asyncpg.connect(settings.database_url)
        try:
            holding = blocker.transaction()
            await holding.start()
            await blocker.execute("LOCK TABLE registrations IN ACCESS EXCLUSIVE MODE")
            slow = asyncio.create_task(export())
            await asyncio.sleep(1)
            assert not slow.done()
            web.popen.send_signal(signal.SIGTERM)  # with the export in flight
            await asyncio.sleep(1.5)
            assert web.popen.poll() is None and not slow.done()  # uvicorn waits instead of cutting it off
            await holding.rollback()
        finally:
            await blocker.close()
        status, body = await slow
    assert status == 200
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == ROWS + 1 and rows[-1][0].endswith("@example.org")
    # Then it exits by itself (uvicorn re-raises the SIGTERM it handled, which systemd counts as a clean stop).
    assert await asyncio.to_thread(web.popen.wait, 25) in (0, -signal.SIGTERM)
    assert "Finished server process" in web.tail()
    web.popen = None


async def test_readyz_is_503_when_migrations_are_behind(tmp_path: Path) -> None:
    path = tmp_path / "behind.db"
    await asyncio.to_thread(migrate.upgrade, f"sqlite:///{path}")
    app = create_app(Settings(database_url=f"sqlite:///{path}", secret_key=Secret("k" * 40), run_background=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get("/readyz")).status_code == 200
            async with app.state.db.transaction() as conn:
                await conn.execute("UPDATE alembic_version SET version_num = '0000_older'")
            behind = await http.get("/readyz")
            assert behind.status_code == 503
            assert behind.json() == {"ready": False, "revision": "0000_older", "head": migrate.head_revision()}
            async with app.state.db.transaction() as conn:
                await conn.execute("DROP TABLE alembic_version")
            never = await http.get("/readyz")
            assert never.status_code == 503 and never.json()["ready"] is False
            assert (await http.get("/healthz")).status_code == 200


async def test_serve_refuses_to_start_on_an_unmigrated_database(platform: Platform, tmp_path: Path) -> None:
    web = platform.serve("web", start=False, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    web.start(wait=False)
    assert web.popen is not None
    assert await asyncio.to_thread(web.popen.wait, 30) == 1
    assert "webinar migrate" in web.tail()


async def test_two_sweepers_at_once_close_each_session_once(
    db: object,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
    create_viewing_session: Callable[..., Awaitable[int]],
) -> None:
    """Every worker machine runs the sweeper; racing sweeps close a session once, at its last heartbeat."""
    import datetime as dt

    from webinar.clock import now

    event_id = await create_event()
    seen = now().replace(microsecond=0) - dt.timedelta(minutes=10)
    for _ in range(30):
        reg = await create_registration(event_id)
        await create_viewing_session(
            event_id, reg, started_at=seen - dt.timedelta(minutes=5), ended_at=None, last_seen_at=seen
        )
    counts = await asyncio.gather(*(presence.sweep(db, 90) for _ in range(4)))  # type: ignore[arg-type]
    assert sum(counts) == 30
    assert await presence.sweep(db, 90) == 0  # type: ignore[arg-type]
