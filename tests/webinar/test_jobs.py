"""The supervised loop: errors logged and retried with backoff, cancellation, leases held by one worker at a time."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from webinar import clock, worker
from webinar.app import create_app
from webinar.clock import now
from webinar.db import DB
from webinar.jobs import Context, Job, Lease, Until, supervise, take_lease
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.tables import job_leases

NO_CONTEXT = Context(None, None, None)  # for jobs that touch neither database nor mail


class FakeSleep:
    """Records each wait instead of sleeping (it only yields), so backoff is checked without waiting for it."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    """Yield to the loop until `check()` holds (each step is a few milliseconds at most)."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - the conditions are counters the jobs bump, not events to wait on
            await asyncio.sleep(0.005)


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel a supervisor and prove it stops promptly."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)


def scripted(script: list[str], passes: list[str]) -> Callable[[Context], Awaitable[bool]]:
    """A pass that follows `script` ("fail", "ok", "more"), then idles; each pass run is appended to `passes`."""

    async def run(ctx: Context) -> bool:
        if len(passes) == len(script):
            await asyncio.Event().wait()  # script done: block until cancelled
        step = script[len(passes)]
        passes.append(step)
        if step == "fail":
            raise RuntimeError(f"pass {len(passes)} broke")
        return step == "more"

    return run


async def test_a_failing_pass_is_logged_and_retried_with_backoff_until_success_resets_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = ["fail", "fail", "fail", "fail", "ok", "fail", "ok"]
    passes: list[str] = []
    sleep = FakeSleep()
    job = Job("flaky", scripted(script, passes), interval=1.0, max_backoff=5.0)
    with caplog.at_level(logging.INFO, logger="webinar.jobs"):
        task = asyncio.create_task(supervise(job, NO_CONTEXT, sleep=sleep))
        await until(lambda: len(passes) == len(script))
        await stop(task)
    assert sleep.delays == [1.0, 2.0, 4.0, 5.0, 1.0, 1.0, 1.0]  # doubling to the cap; a success starts over
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 5 and all(r.exc_info and "flaky" in r.getMessage() for r in errors)
    assert "pass 4 broke" in caplog.text and "Traceback" in caplog.text  # each failure with its traceback
    assert "(4 in a row); trying again in 5.0 s" in caplog.text
    assert "succeeded again after 4 failure(s)" in caplog.text


async def test_a_pass_that_leaves_work_runs_again_without_waiting() -> None:
    script = ["more", "more", "more", "ok", "more", "ok"]
    passes: list[str] = []
    sleep = FakeSleep()
    task = asyncio.create_task(supervise(Job("drain", scripted(script, passes), interval=2.0), NO_CONTEXT, sleep=sleep))
    await until(lambda: len(passes) == len(script))
    await stop(task)
    assert sleep.delays == [2.0, 2.0]  # a wait only after each pass that drained the work


async def test_a_pass_that_knows_when_its_next_work_is_due_waits_until_then_or_its_interval() -> None:
    answers = [Until(0.5), Until(100.0), Until(-1.0), True, None]
    sleep = FakeSleep()

    async def run(ctx: Context) -> bool | Until | None:
        if not answers:
            await asyncio.Event().wait()  # done: block until cancelled
        return answers.pop(0)

    task = asyncio.create_task(supervise(Job("timed", run, interval=2.0), NO_CONTEXT, sleep=sleep))
    await until(lambda: not answers)
    await stop(task)
    # The moment, the interval when the moment is further, at once for a moment passed or work left; else the interval.
    assert sleep.delays == [0.5, 2.0, 2.0]


async def test_cancellation_stops_it_promptly_while_waiting_or_in_a_pass() -> None:
    started = asyncio.Event()

    async def endless(ctx: Context) -> None:
        started.set()
        await asyncio.Event().wait()

    waiting = asyncio.create_task(supervise(Job("idle", _noop, interval=3600.0), NO_CONTEXT))  # real sleep
    busy = asyncio.create_task(supervise(Job("busy", endless, interval=1.0), NO_CONTEXT))
    await started.wait()
    await stop(waiting)
    await stop(busy)


async def test_a_stop_that_a_library_turned_into_another_error_still_stops_it(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def converting(ctx: Context) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ConnectionError("connection closed") from None

    task = asyncio.create_task(supervise(Job("converting", converting, interval=1.0), NO_CONTEXT, sleep=FakeSleep()))
    await started.wait()
    await stop(task)
    assert "pass failed" not in caplog.text


async def _noop(ctx: Context) -> None:
    return None


class Tracker:
    """A leased pass that notes how many supervisors run it at the same moment."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds, self.running, self.most, self.passes = seconds, 0, 0, 0

    async def __call__(self, ctx: Context) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(self.seconds)  # long enough for the other supervisor to try its luck
        finally:
            self.running -= 1
        self.passes += 1


async def lease_row(db: DB, name: str) -> dict[str, Any]:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(job_leases).where(job_leases.c.name == name))
    assert row is not None
    return dict(row._mapping)


async def test_a_leased_job_runs_under_one_supervisor_at_a_time_and_releases_its_lease(db: DB, app: Starlette) -> None:
    tracker = Tracker()
    job = Job("leased", tracker, interval=0.005, lease=Lease(hold=dt.timedelta(seconds=30)))
    ctx = Context.of(app)
    first, second = (asyncio.create_task(supervise(job, ctx, owner=owner)) for owner in ("one", "two"))
    await until(lambda: tracker.passes >= 6, within=20)
    await stop(first)
    await stop(second)
    assert tracker.most == 1
    row = await lease_row(db, "leased")
    assert row["owner"] is None and row["locked_until"] is None and row["last_run_at"] is not None


async def test_a_cancelled_pass_releases_its_lease_without_counting_as_a_run(db: DB, app: Starlette) -> None:
    tracker = Tracker(seconds=3600)
    job = Job("once", tracker, interval=1.0, lease=Lease(hold=dt.timedelta(minutes=5), run_every=dt.timedelta(days=1)))
    task = asyncio.create_task(supervise(job, Context.of(app), owner="stopping"))
    await until(lambda: tracker.running == 1)
    assert (await lease_row(db, "once"))["owner"] == "stopping"
    await stop(task)
    row = await lease_row(db, "once")
    assert (row["owner"], row["locked_until"], row["last_run_at"]) == (None, None, None)
    assert await take_lease(db, job, "next") is True  # due at once for the next worker


async def test_a_crashed_holders_lease_lets_nobody_run_until_it_expires(
    db: DB, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = Tracker(seconds=0)
    job = Job("daily", tracker, interval=60.0, lease=Lease(hold=dt.timedelta(minutes=30), run_every=dt.timedelta(1)))
    assert await take_lease(db, job, "crashed") is True  # and never released
    sleep = FakeSleep()
    task = asyncio.create_task(supervise(job, Context.of(app), sleep=sleep))
    await until(lambda: len(sleep.delays) >= 3)
    assert tracker.passes == 0
    later = now() + dt.timedelta(minutes=31)
    monkeypatch.setattr(clock, "now", lambda: later)  # the lease lapsed
    await until(lambda: tracker.passes == 1)
    waits = len(sleep.delays)
    await until(lambda: len(sleep.delays) >= waits + 3)
    await stop(task)
    assert tracker.passes == 1  # then not again within the day
    assert (await lease_row(db, "daily"))["last_run_at"] == later


async def test_a_failed_leased_pass_is_retried_and_a_successful_one_waits_its_period(db: DB, app: Starlette) -> None:
    passes: list[str] = []
    daily = Lease(hold=dt.timedelta(minutes=30), run_every=dt.timedelta(days=1))
    job = Job("retried", scripted(["fail", "fail", "ok"], passes), interval=60.0, lease=daily)
    sleep = FakeSleep()
    task = asyncio.create_task(supervise(job, Context.of(app), sleep=sleep))
    await until(lambda: passes == ["fail", "fail", "ok"] and len(sleep.delays) >= 6)
    await stop(task)
    assert sleep.delays[:2] == [60.0, 60.0] and len(passes) == 3  # the interval is over the cap: it stays
    row = await lease_row(db, "retried")
    assert row["owner"] is None and row["last_run_at"] is not None


async def test_a_long_pass_keeps_its_lease_renewed(db: DB, app: Starlette) -> None:
    hold = dt.timedelta(seconds=0.3)  # renewed every 0.1 s while the pass runs
    tracker = Tracker(seconds=0.6)
    job = Job("long", tracker, interval=3600.0, lease=Lease(hold=hold))
    task = asyncio.create_task(supervise(job, Context.of(app), owner="long"))
    await until(lambda: tracker.running == 1)
    await asyncio.sleep(0.45)  # past the first hold
    assert await take_lease(db, job, "other") is False
    assert (await lease_row(db, "long"))["locked_until"] > now()
    await until(lambda: tracker.passes == 1)
    await stop(task)
    assert (await lease_row(db, "long"))["owner"] is None


async def test_serve_and_worker_run_the_declared_jobs_and_stop_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    async def note(ctx: Context) -> None:
        runs.append(ctx.settings.database_url)

    job = Job("note", note, interval=3600.0)
    monkeypatch.setattr(worker, "jobs", lambda: [job])
    app = create_app(settings.with_overrides(run_background=True))
    async with app.router.lifespan_context(app):  # `webinar serve`
        await until(lambda: len(runs) == 1)
    running = asyncio.create_task(worker.run_worker(settings))  # `webinar worker`
    await until(lambda: len(runs) == 2)
    await stop(running)


def test_every_background_job_is_declared_once() -> None:
    from webinar.attendance.queries import attended
    from webinar.mail import sender
    from webinar.presence import sweeper
    from webinar.privacy import retention
    from webinar.registration import confirm, digest, reminders
    from webinar.webhooks import clock as webhook_clock
    from webinar.webhooks import sender as webhook_sender

    declared = worker.jobs()
    assert declared == [
        sender.job(compose_queued), sweeper.JOB, retention.JOB, reminders.job(attended), confirm.JOB,
        webhook_sender.JOB, webhook_clock.JOB, digest.JOB,
    ]  # fmt: skip
    assert len({job.name for job in declared}) == len(declared)
    # One purge a day across workers; one reminders pass at a time (the unique key, not the lease, sends each once);
    # one lapse of unconfirmed registrations at a time; one clock of webhook announcements; one approvals digest pass.
    assert [job.lease is not None for job in declared] == [False, False, True, True, True, False, True, True]
