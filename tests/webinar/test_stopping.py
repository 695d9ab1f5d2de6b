"""Stopping in order, piece by piece: the grace setting, units of work cut short, jobs stopped, e-mails given back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import SMTPRecorder, running_smtp
from webinar import cli, stopping
from webinar.clock import now
from webinar.db import DB
from webinar.mail import sender
from webinar.mail.outbox import enqueue
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings, SettingsError, load_settings
from webinar.tables import organisations, outbox

GRACE_ERROR = "STOP_GRACE_SECONDS must be a number of seconds from 1 to 300"


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"WEBINAR_VAR_DIR": str(tmp_path), "SECRET_KEY": "k" * 40, **extra}


def test_the_stop_grace_is_ten_seconds_unless_set(tmp_path: Path) -> None:
    assert load_settings(_environment(tmp_path)).stop_grace_seconds == 10.0
    assert load_settings(_environment(tmp_path, STOP_GRACE_SECONDS="2.5")).stop_grace_seconds == 2.5
    assert load_settings(_environment(tmp_path, STOP_GRACE_SECONDS="300")).stop_grace_seconds == 300.0


@pytest.mark.parametrize("value", ["0", "0.5", "301", "-5", "abc", "", "nan", "inf", "10s"])
def test_a_stop_grace_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(_environment(tmp_path, STOP_GRACE_SECONDS=value))
    assert str(refused.value) == f"{GRACE_ERROR}, not {value!r}."


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_a_bad_stop_grace_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    for name, value in _environment(tmp_path, STOP_GRACE_SECONDS="600").items():
        monkeypatch.setenv(name, value)
    assert cli.main([command]) == 2
    assert capsys.readouterr().err.strip() == f"{GRACE_ERROR}, not '600'."
    assert not (tmp_path / "webinar.db").exists()  # nothing was started, not even the database


async def test_a_unit_of_work_cut_short_stores_nothing_and_gives_its_connection_back(settings: Settings) -> None:
    db = DB(settings)
    await db.connect()
    inside = asyncio.Event()

    async def work() -> None:
        async with db.transaction() as conn:
            await conn.execute(
                organisations.insert().values(name="Cut", slug="cut", contact_email="c@example.org", created_at=now())
            )
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(work())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(organisations)) == 0
    await asyncio.wait_for(db.disconnect(), 5)  # not waiting for a connection nobody will give back


SLOW_COMMIT = """
CREATE TEMP TABLE slow_commit (x int);
CREATE FUNCTION pg_temp.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON slow_commit DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION pg_temp.slow();
"""


async def test_a_stop_during_commit_waits_for_it_and_gives_the_connection_back(settings: Settings) -> None:
    """Cancelled in its COMMIT, `databases`' transaction never gave its connection back, and the pool's close waited
    for it forever ("Pool.close() is taking over 60 seconds"). The COMMIT here takes a second (a deferred trigger)."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's transactions; SQLite's are BEGIN IMMEDIATE … COMMIT on its own thread")
    db = DB(settings)
    await db.connect()
    committing = asyncio.Event()

    async def work() -> None:
        async with db.transaction() as conn:
            await conn.raw_connection.execute(SLOW_COMMIT)
            await conn.execute(
                organisations.insert().values(name="Late", slug="late", contact_email="l@example.org", created_at=now())
            )
            await conn.execute("INSERT INTO slow_commit VALUES (1)")
            committing.set()

    task = asyncio.create_task(work())
    await committing.wait()
    await asyncio.sleep(0.3)  # inside the COMMIT
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # the stop goes on once the COMMIT is over
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(organisations.c.slug)) == "late"  # its outcome is known: committed
    await asyncio.wait_for(db.disconnect(), 5)


async def test_a_unit_of_work_inside_another_is_a_savepoint(settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite's units of work hold the process's one write lock: they never nest")
    db = DB(settings)
    await db.connect()
    try:
        async with db.transaction() as conn:
            await conn.execute(
                organisations.insert().values(name="Out", slug="out", contact_email="o@example.org", created_at=now())
            )
            with pytest.raises(ValueError, match="inner"):
                async with db.transaction() as inner:
                    await inner.execute(
                        organisations.insert().values(
                            name="In", slug="in", contact_email="i@example.org", created_at=now()
                        )
                    )
                    raise ValueError("inner")
        async with db.connection() as conn:
            assert [r[0] for r in await conn.fetch_all(sa.select(organisations.c.slug))] == ["out"]
    finally:
        await db.disconnect()


async def test_to_the_end_finishes_the_work_then_passes_the_stop_on() -> None:
    finished = asyncio.Event()

    async def work() -> str:
        await asyncio.sleep(0.2)
        finished.set()
        return "done"

    task = asyncio.create_task(stopping.to_the_end(work()))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set()
    assert await stopping.to_the_end(work()) == "done"


async def test_together_waits_for_every_one_to_stop() -> None:
    """`asyncio.gather` ends at the first one stopped; the others then still gave back what they held."""
    cleaned: list[int] = []

    async def job(n: int) -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.1 * n)
            cleaned.append(n)

    task = asyncio.create_task(stopping.together(job(0), job(1), job(2)))
    await asyncio.sleep(0.05)
    assert await stopping.finish(task, 5, "jobs")
    assert sorted(cleaned) == [0, 1, 2]


async def test_finish_gives_up_on_a_task_that_does_not_stop(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, "webinar.stopping"):
        assert not await stopping.finish(task, 0.2, "the stubborn job")
    assert "stop: the stubborn job did not end within 0.2 s; abandoned" in caplog.text
    release.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_a_deadline_exits_at_once_saying_what_it_abandons(caplog: pytest.LogCaptureFixture) -> None:
    exits: list[int] = []
    deadline = stopping.Deadline(lambda: "3 request(s) in flight", exit=exits.append)
    with caplog.at_level(logging.ERROR, "webinar.stopping"):
        deadline.now("a second SIGTERM")
    assert exits == [stopping.ABANDONED]
    assert "stop: a second SIGTERM; exiting now, abandoning 3 request(s) in flight" in caplog.text


class SlowSMTP(SMTPRecorder):
    """The test SMTP server, taking its time over each message (a slow relay)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.6)
        return await super().handle_DATA(server, session, envelope)


async def _statuses(db: DB) -> list[tuple[str, str | None]]:
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(outbox.c.status, outbox.c.lock_owner).order_by(outbox.c.id))
    return [(row[0], row[1]) for row in rows]


async def test_a_stopped_sender_finishes_the_email_it_is_sending_and_gives_the_rest_back(
    db: DB, smtp_settings: Settings
) -> None:
    async with db.transaction() as conn:
        for i in range(6):
            await enqueue(
                conn, kind="confirmation", to_address=f"s{i}@example.org", subject="Înscriere", body_text="Salut",
                body_html="<p>Salut</p>", mail_from=smtp_settings.mail_from,
            )  # fmt: skip
    with running_smtp(SlowSMTP()) as slow:
        one_lane = smtp_settings.with_overrides(smtp_port=slow.port, smtp_connections=1)
        sending = asyncio.create_task(sender.deliver_due(one_lane, db, compose_queued))
        for _ in range(200):  # until the first message is on its way (all six claimed)
            if [s for s, _owner in await _statuses(db)].count("sending") == 6:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        assert len(slow.messages) == 1  # the one being sent went, and was recorded as sent
        assert await _statuses(db) == [("sent", sender.OWNER)] + [("queued", None)] * 5  # given back, due now
        assert await sender.deliver_due(one_lane, db, compose_queued) == 5  # another sender takes them at once
    assert sorted(m.rcpt_tos[0] for m in slow.messages) == [f"s{i}@example.org" for i in range(6)]


async def test_run_until_stops_the_work_at_the_stop_or_when_itself_is_stopped() -> None:
    stopped: list[str] = []

    async def work(name: str) -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.append(name)

    stop = asyncio.Event()
    running = asyncio.create_task(stopping.run_until(work("by the event"), stop, 5, "work"))
    await asyncio.sleep(0.05)
    stop.set()
    assert await running is True
    running = asyncio.create_task(stopping.run_until(work("with its caller"), asyncio.Event(), 5, "work"))
    await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert stopped == ["by the event", "with its caller"]
