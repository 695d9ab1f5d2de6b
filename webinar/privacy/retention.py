"""Retention: erase each event's registrations once its retention period is over, daily, one worker at a time."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from webinar import audit, clock
from webinar.accounts import sessions
from webinar.db import DB
from webinar.jobs import Context, Job, Lease
from webinar.privacy import queries
from webinar.privacy.erasure import Requester
from webinar.privacy.services import erase_all
from webinar.registration import imports
from webinar.web import proof, ratelimit

log = logging.getLogger("webinar.retention")

EVERY = dt.timedelta(hours=24)
LEASE = dt.timedelta(minutes=30)  # renewed while a purge runs; a crashed worker's lease lapses by itself
POLL_SECONDS = 300.0  # how often a worker looks whether the purge is due
RETENTION = Requester(kind="retention", actor="retention")


@dataclass(frozen=True)
class PurgeSummary:
    """What one retention pass did: counts only, never people."""

    events: int
    registrations: int

    def __str__(self) -> str:
        return f"Retention purge: {self.registrations} registration(s) erased in {self.events} event(s)."


async def purge_due(db: DB, at: dt.datetime | None = None) -> PurgeSummary:
    """Erase the registrations of every event past `ends_at + retention_days`, one transaction per event."""
    at = at or clock.now()
    async with db.connection() as conn:
        due = await queries.past_retention(conn, at)
    total = 0
    for event in due:
        async with db.transaction() as conn:
            erased = await erase_all(conn, event, RETENTION)
            await audit.record(
                conn,
                "event.retention_purged",
                actor=RETENTION.actor,
                organisation_id=event.organisation_id,
                event_id=event.id,
                details={"erased": erased, "retention_days": event.retention_days},
            )
        log.info("retention: erased %d registration(s) of event #%d", erased, event.id)
        total += erased
    async with db.transaction() as conn:
        # Housekeeping of the same kind: ended sessions (with their IPs) and stale rate-limit counters.
        await sessions.delete_expired(conn)
        await ratelimit.purge_old(conn)
        await proof.purge_spent(conn)  # solutions whose challenges expired
        await imports.delete_expired(conn)  # lists previewed for an import and never confirmed
    return PurgeSummary(len(due), total)


async def purge_pass(ctx: Context) -> None:
    """Today's purge; its lease lets one worker run it, once a day."""
    log.info("%s", await purge_due(ctx.db))


JOB = Job("retention", purge_pass, interval=POLL_SECONDS, lease=Lease(hold=LEASE, run_every=EVERY))
