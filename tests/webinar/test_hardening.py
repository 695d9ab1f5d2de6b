"""Hardening (issue 25 §7): no cache keeps a personal page, the Origin is BASE_URL's alone, private files are 0600."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import login_staff
from tests.webinar.access_helpers import join, load_event, on_now, presence_socket
from tests.webinar.regutil import counts, open_form, person
from webinar import migrate
from webinar.db import DB
from webinar.demo import create_demo
from webinar.settings import Settings


async def test_every_page_with_personal_data_says_no_store(
    client: httpx.AsyncClient,
    db: DB,
    settings: Settings,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
    create_staff: Callable[..., Awaitable[object]],
) -> None:
    event = await load_event(db, await create_event(**on_now(slug="private")))
    reg = await create_registration(event.id, email="ana@example.org")
    attendee = [await join(client, settings, event, reg)]
    for path in ("/watch", "/me", "/me/export.json", "/me/cancel", "/me/erase"):
        attendee.append(await client.get(f"/events/private{path}"))
    client.cookies.clear()
    user = await create_staff("operator")
    staff = [await client.get("/admin/login"), await login_staff(client, user.email)]  # type: ignore[attr-defined]
    for path in ("/", f"/events/{event.id}", f"/events/{event.id}/registrants", "/outbox", "/audit"):
        staff.append(await client.get(f"/admin{path}"))
    for response in attendee + staff:
        assert response.status_code in (200, 303), (response.url, response.status_code)
        assert response.headers.get_list("cache-control") == ["no-store"], response.url


@pytest.mark.parametrize("origin", ["http://evil.example", "http://evil.example:80"])
async def test_an_origin_matching_only_the_host_header_is_refused(
    app: Starlette,
    client: httpx.AsyncClient,
    db: DB,
    settings: Settings,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
    origin: str,
) -> None:
    """A rebound DNS name (evil.example pointing at the server) sends its own Host and Origin, which agree."""
    event = await load_event(db, await create_event(**on_now(slug="rebound")))
    hidden = await open_form(client, "rebound")
    rebound = {"Origin": origin, "Host": "evil.example"}
    refused = await client.post("/events/rebound/register", data={**person(), **hidden}, headers=rebound)
    assert refused.status_code == 403 and "Cross-site" in refused.text
    assert await counts(db) == (0, 0, 0)
    ours = await client.post(
        "/events/rebound/register", data={**person(), **hidden}, headers={"Origin": "HTTP://testserver:80"}
    )
    assert ours.status_code == 303
    reg = await create_registration(event.id, email="ion@example.org")
    await join(client, settings, event, reg)
    ws = presence_socket(app, client, event, origin=origin, host="evil.example")
    answer = await ws.connect()
    assert answer["type"] == "websocket.close" and answer["code"] == 1008
    await ws.finished()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_demo_login_is_written_for_its_owner_only(settings: Settings, db: DB) -> None:
    previous = os.umask(0o022)
    try:
        login = settings.var_dir / "demo-login.txt"
        login.parent.mkdir(parents=True, exist_ok=True)
        login.write_text("old\n")
        login.chmod(0o644)  # written before by an older version
        await create_demo(settings)
        assert mode(login) == 0o600 and "@" in login.read_text()
    finally:
        os.umask(previous)


async def test_a_new_sqlite_database_is_created_for_its_owner_only(settings: Settings, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        migrated = tmp_path / "new" / "webinar.db"
        await asyncio.to_thread(migrate.upgrade, f"sqlite:///{migrated}")
        assert mode(migrated) == 0o600
        connected = tmp_path / "other" / "webinar.db"
        database = DB(settings.with_overrides(database_url=f"sqlite:///{connected}"))
        await database.connect()
        await database.disconnect()
        assert mode(connected) == 0o600
        assert all(mode(p) == 0o600 for p in connected.parent.iterdir())  # the -wal and -shm files alike
    finally:
        os.umask(previous)
