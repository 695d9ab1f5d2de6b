"""Background work: the jobs that `webinar serve` runs in-process and `webinar worker` runs alone."""

from __future__ import annotations

from webinar.jobs import Context, Job, run_all
from webinar.state import app_state


def jobs() -> list[Job]:
    """Every background job of the platform, each run by `webinar.jobs.supervise`."""
    from webinar.attendance.queries import attended
    from webinar.mail import sender
    from webinar.presence import sweeper
    from webinar.privacy import retention
    from webinar.registration import confirm, reminders
    from webinar.registration.notifications import compose_queued

    return [sender.job(compose_queued), sweeper.JOB, retention.JOB, reminders.job(attended), confirm.JOB]


async def run_worker(settings: object) -> None:
    """Run the background jobs without the web app, until interrupted (`webinar worker`)."""
    from webinar.app import create_app
    from webinar.settings import Settings

    assert isinstance(settings, Settings)
    app = create_app(settings.with_overrides(run_background=False))
    db = app_state(app).db
    await db.connect()
    try:
        await run_all(jobs(), Context.of(app))
    finally:
        await db.disconnect()


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
