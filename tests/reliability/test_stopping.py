"""A stop that stops (docs/deploy.md "Stopping"): real `webinar serve` and `webinar worker` processes stopped by
SIGTERM mid-rush, twice, or losing their parent to SIGKILL — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import websockets

from tests import conftest as root_conftest
from tests.reliability.conftest import CountingRecorder, FlakySMTP, Platform, Process, eventually
from tests.reliability.helpers import email_of, register_burst, registered_emails, watch
from tests.webinar.access_helpers import load_event, on_now, sessions_of
from webinar.db import DB
from webinar.mail.outbox import enqueue
from webinar.settings import Settings
from webinar.stopping import CLEANUP_SECONDS
from webinar.tables import outbox

GRACE = 3.0
# Beyond the grace and the cleanup: a loaded machine's slowness, and the time to see the process gone.
MARGIN = 6.0
SERVICE_RESTART = 1012  # the close code uvicorn gives the WebSockets it closes at a stop


# Both engines, as every other test (the other fault tests run on PostgreSQL only): the suite's own fixture.
database_url = root_conftest.database_url


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (its workers, multiprocessing's resource tracker), read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie is not: it only waits for its parent to read its exit code)."""
    running = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                running.add(pid)
    return running


async def exit_code(process: Process, within: float) -> tuple[int, float]:
    """Wait for the process to end: its exit code and how long it took."""
    assert process.popen is not None
    started = time.monotonic()
    code = await asyncio.to_thread(process.popen.wait, within)
    process.popen = None
    return code, time.monotonic() - started


def sigterm(process: Process) -> None:
    assert process.popen is not None
    process.popen.send_signal(signal.SIGTERM)


class SlowSMTP(CountingRecorder):
    """A relay that takes its time over each message, so that the sender has messages in hand at the stop."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.seconds)
        return await super().handle_DATA(server, session, envelope)


def received(smtp: FlakySMTP) -> Counter[str]:
    return Counter(rcpt for mail in smtp.messages for rcpt in mail.rcpt_tos)


async def outbox_statuses(db: DB) -> Counter[str]:
    """How many messages in each status; `sending` ones are claimed by a sender."""
    async with db.connection() as conn:
        return Counter(row[0] for row in await conn.fetch_all(sa.select(outbox.c.status)))


def serve(platform: Platform, settings: Settings, *env: dict[str, str]) -> Process:
    """`webinar serve`: two workers on PostgreSQL, the one SQLite allows."""
    workers = () if settings.is_sqlite else ("--workers", "2")
    extra = {k: v for part in env for k, v in part.items()}
    return platform.serve("web", *workers, **extra)


async def test_sigterm_after_a_rush_exits_in_order_and_loses_nothing(
    platform: Platform,
    flaky_smtp: FlakySMTP,
    settings: Settings,
    db: DB,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
) -> None:
    await create_event(slug="rush")
    live = await load_event(db, await create_event(**on_now(slug="live")))
    viewers = [await create_registration(live.id, email=f"viewer{i}@example.org") for i in range(2)]
    flaky_smtp.handler = SlowSMTP(0.05)  # the queue is not empty at the stop
    flaky_smtp.up()
    env = {"TRUSTED_PROXIES": "127.0.0.1", "STOP_GRACE_SECONDS": str(GRACE), **flaky_smtp.env()}
    web = serve(platform, settings, env)
    assert web.popen is not None
    children = descendants(web.popen.pid)
    assert settings.is_sqlite or len(children) >= 2
    channels = [await watch(web, settings, live, reg) for reg in viewers]

    rush = asyncio.create_task(register_burst([web.base_url], "rush", range(400), concurrency=8))
    await eventually(lambda: _stored_more_than(db, 20), within=60, every=0.05)  # modest: the machine is slow
    unsent = await outbox_statuses(db)
    sigterm(web)
    code, took = await exit_code(web, GRACE + CLEANUP_SECONDS + MARGIN)
    statuses = await rush

    assert code == 0, web.tail()
    assert took < GRACE + CLEANUP_SECONDS + MARGIN
    # Gone with the parent: multiprocessing's resource tracker ends when it sees the parent's pipe close, a moment
    # after the parent's exit, so a fixed instant right after it would race that; a worker left running would not go.
    await eventually(lambda: _none_alive(children), within=2, every=0.05)
    log = web.tail(400_000)
    assert "Pool.close() is taking" not in log and "abandoning" not in log, log[-3000:]
    answered = {email_of(n) for n, status in statuses.items() if status == 303}
    stored = set(await registered_emails(db)) - {f"viewer{i}@example.org" for i in range(2)}
    assert 0 in statuses.values(), "the stop came after the rush; nothing was tested"
    assert unsent["queued"] + unsent["sending"] > 0, "the mail queue was empty at the stop; nothing was tested"
    assert answered and answered <= stored  # every "you are registered" answer was a stored row
    for (socket, _session), reg in zip(channels, viewers, strict=True):
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == SERVICE_RESTART  # "come back soon"
        [session] = await sessions_of(db, reg)
        assert session["end_reason"] == "left" and session["ended_at"] is not None  # resumed when the page returns
    assert "sending" not in await outbox_statuses(db)  # whatever was claimed was sent or given back

    web.start()  # the next version, as a deploy starts it
    await eventually(lambda: _each_received_once(flaky_smtp, stored), within=120)
    await asyncio.sleep(2)  # room for a duplicate to show up
    assert received(flaky_smtp) == Counter(stored)


async def _stored_more_than(db: DB, n: int) -> bool:
    return len(await registered_emails(db)) > n + 2


async def _each_received_once(smtp: FlakySMTP, emails: set[str]) -> bool:
    return set(received(smtp)) >= emails


async def _queue(db: DB, n: int) -> list[str]:
    addresses = [f"queued{i:03d}@example.org" for i in range(n)]
    async with db.transaction() as conn:
        for address in addresses:
            await enqueue(
                conn, kind="confirmation", to_address=address, subject="Înscriere", body_text="Salut",
                body_html="<p>Salut</p>", mail_from="Webinar <no-reply@webinar.test>",
            )  # fmt: skip
    return addresses


async def test_a_stopped_worker_gives_back_the_messages_it_claimed(
    platform: Platform, flaky_smtp: FlakySMTP, db: DB
) -> None:
    addresses = await _queue(db, 60)
    flaky_smtp.handler = SlowSMTP(0.3)
    flaky_smtp.up()
    worker = platform.worker("worker", STOP_GRACE_SECONDS=str(GRACE), **flaky_smtp.env())
    await eventually(lambda: _received_some(flaky_smtp), within=90, every=0.05)
    assert (await outbox_statuses(db))["sending"] > 4  # a claim each for the four lanes, and more in hand
    sigterm(worker)
    code, took = await exit_code(worker, CLEANUP_SECONDS + MARGIN)
    assert code == 0, worker.tail()
    assert took < CLEANUP_SECONDS + MARGIN
    assert "claimed message(s) given back to the queue" in worker.tail(), worker.tail()
    statuses = await outbox_statuses(db)
    assert "sending" not in statuses and statuses["sent"] == len(received(flaky_smtp))
    assert statuses["queued"] > 0  # given back, due now: no waiting for a lease to lapse

    flaky_smtp.handler.seconds = 0.0  # type: ignore[attr-defined]
    platform.worker("again", **flaky_smtp.env())
    await eventually(lambda: _each_received_once(flaky_smtp, set(addresses)), within=90)
    await asyncio.sleep(2)
    assert received(flaky_smtp) == Counter(addresses)  # none twice


async def _received_some(smtp: FlakySMTP) -> bool:
    return len(smtp.messages) >= 2


@contextlib.asynccontextmanager
async def slow_upload(web: Process) -> AsyncIterator[asyncio.Task[Any]]:
    """A registration whose form is still being uploaded: a request in flight for as long as the test wants."""
    going = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"first_name=Ana"
        going.set()
        for _ in range(600):
            await asyncio.sleep(0.1)
            yield b"&x=y"

    http = httpx.AsyncClient(base_url=web.base_url, timeout=120)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    request = asyncio.create_task(http.post("/events/slow/register", content=body(), headers=headers))
    await going.wait()
    await asyncio.sleep(0.5)
    try:
        yield request
    finally:
        request.cancel()
        await asyncio.gather(request, return_exceptions=True)
        await http.aclose()


async def test_a_second_sigterm_exits_at_once_saying_what_it_abandons(
    platform: Platform, settings: Settings, create_event: Callable[..., Awaitable[int]]
) -> None:
    await create_event(slug="slow")
    web = serve(platform, settings, {"STOP_GRACE_SECONDS": "60"})
    async with slow_upload(web) as request:
        sigterm(web)
        await asyncio.sleep(2.5)  # past the moment a second signal is taken for the same stop
        assert web.popen is not None and web.popen.poll() is None  # waiting for the upload, as it should
        assert not request.done()
        sigterm(web)
        code, took = await exit_code(web, 10)
    assert code == 1
    assert took < 6
    log = web.tail(50_000)
    assert "a second SIGTERM; exiting now, abandoning 1 request(s) in flight" in log, log[-3000:]


async def test_the_end_of_the_grace_cuts_a_request_off_and_still_exits_in_order(
    platform: Platform, settings: Settings, create_event: Callable[..., Awaitable[int]]
) -> None:
    await create_event(slug="slow")
    web = serve(platform, settings, {"STOP_GRACE_SECONDS": "1"})
    async with slow_upload(web) as request:
        sigterm(web)
        code, took = await exit_code(web, 1 + CLEANUP_SECONDS + MARGIN)
        with contextlib.suppress(httpx.HTTPError):
            await request
    assert code == 0
    assert took < 1 + CLEANUP_SECONDS + MARGIN
    assert "timeout graceful shutdown exceeded" in web.tail(50_000)


async def test_workers_do_not_outlive_their_parent_killed(
    platform: Platform, settings: Settings, create_event: Callable[..., Awaitable[int]]
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite serves with one process: there are no workers to orphan")
    web = serve(platform, settings)
    assert web.popen is not None
    children = descendants(web.popen.pid)
    assert len(children) >= 2
    web.kill()  # SIGKILL: the parent cannot tell anyone
    await eventually(lambda: _none_alive(children), within=5, every=0.1)  # no orphan within 5 s
    web.start()  # the next start has the port and the database to itself
    await create_event(slug="after")
    async with httpx.AsyncClient(base_url=web.base_url) as http:
        assert (await http.get("/events/after")).status_code == 200


async def _none_alive(pids: set[int]) -> bool:
    return not alive(pids)


async def test_a_bad_stop_grace_is_refused_at_startup(platform: Platform) -> None:
    web = platform.serve("web", start=False, STOP_GRACE_SECONDS="soon")
    web.start(wait=False)
    code, _took = await exit_code(web, 60)
    assert code == 2
    assert "STOP_GRACE_SECONDS must be a number of seconds from 1 to 300, not 'soon'." in web.tail()
