"""Background work: the jobs that `webinar serve` runs in-process and `webinar worker` runs alone."""

from __future__ import annotations

import asyncio

from webinar.jobs import Context, Job, run_all
from webinar.state import app_state
from webinar.stopping import ABANDONED, IN_ORDER, JOBS_SECONDS, POOLS_SECONDS, Deadline, run_until, stop_on_signals


def jobs() -> list[Job]:
    """Every background job of the platform, each run by `webinar.jobs.supervise`."""
    from webinar.attendance.queries import attended
    from webinar.mail import sender
    from webinar.presence import sweeper
    from webinar.privacy import retention
    from webinar.registration import confirm, digest, reminders
    from webinar.registration.notifications import compose_queued
    from webinar.webhooks import clock as webhook_clock
    from webinar.webhooks import sender as webhook_sender

    return [
        sender.job(compose_queued), sweeper.JOB, retention.JOB, reminders.job(attended), confirm.JOB,
        webhook_sender.JOB, webhook_clock.JOB, digest.JOB,
    ]  # fmt: skip


async def run_worker(settings: object) -> int:
    """Run the background jobs without the web app until SIGTERM or SIGINT (`webinar worker`), then stop them in
    order as `webinar serve` does (docs/deploy.md "Stopping"); the exit code."""
    from webinar.app import create_app
    from webinar.settings import Settings

    assert isinstance(settings, Settings)
    app = create_app(settings.with_overrides(run_background=False))
    db = app_state(app).db
    stop = asyncio.Event()
    with stop_on_signals(stop, Deadline(lambda: "the background jobs"), JOBS_SECONDS + POOLS_SECONDS + 1.0):
        await db.connect()
        try:
            ended = await run_until(run_all(jobs(), Context.of(app)), stop, JOBS_SECONDS, "the background jobs")
        finally:
            await db.disconnect(within=POOLS_SECONDS)
    return IN_ORDER if ended else ABANDONED


async def run_purge(settings: object) -> str:
    """Erase registrations past retention once (`webinar purge`); returns a summary."""
    from webinar.db import DB
    from webinar.privacy.retention import purge_due
    from webinar.settings import Settings

    assert isinstance(settings, Settings)
    db = DB(settings)
    await db.connect()
    try:
        summary = await purge_due(db)  # idempotent, so it needs no lease: a concurrent run erases nobody twice
    finally:
        await db.disconnect()
    return str(summary)
