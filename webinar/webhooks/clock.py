"""What the clock announces about an event, once each whatever the number of workers: `session.started` at its
start, `session.ended` at its end, `attendance.final` once the sweeper has closed the last viewing sessions."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from webinar.clock import now
from webinar.db import DB, insert_for
from webinar.jobs import Context, Job, Lease
from webinar.tables import events, webhook_announced
from webinar.webhooks import queue

# The presence timeout (90 s) and a sweep (30 s) close every session of the live window well within this.
FINAL_AFTER = dt.timedelta(minutes=10)
LOOKBACK = dt.timedelta(days=1)  # a worker down longer than this does not announce the past late
MOMENTS = (
    ("session.started", events.c.starts_at, dt.timedelta(0)),
    ("session.ended", events.c.ends_at, dt.timedelta(0)),
    ("attendance.final", events.c.ends_at, FINAL_AFTER),
)
POLL_SECONDS = 15.0


async def announce_due(db: DB) -> int:
    """Announce every moment that came (within LOOKBACK) and was not announced yet; how many were."""
    at, done = now(), 0
    for type_, column, after in MOMENTS:
        announced = sa.exists().where(webhook_announced.c.event_id == events.c.id, webhook_announced.c.type == type_)
        due = sa.select(events.c.id, events.c.organisation_id).where(
            column <= at - after, column > at - after - LOOKBACK, events.c.status == "scheduled", ~announced
        )
        async with db.connection() as conn:
            rows = await conn.fetch_all(due)
        for row in rows:
            async with db.transaction() as conn:
                insert = insert_for(conn, webhook_announced).values(event_id=row["id"], type=type_, at=at)
                first = await conn.fetch_val(insert.on_conflict_do_nothing().returning(webhook_announced.c.event_id))
                if first is not None:  # this worker's: another that raced it inserted nothing
                    await queue.announce(conn, type_, row["organisation_id"], row["id"])
                    done += 1
    return done


async def _pass(ctx: Context) -> bool:
    await announce_due(ctx.db)
    return False


JOB = Job("webhook-clock", _pass, interval=POLL_SECONDS, lease=Lease(hold=dt.timedelta(minutes=2)))
