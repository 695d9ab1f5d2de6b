"""Retention: erase each event's registrations once its retention period is over, daily, one worker at a time."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from starlette.applications import Starlette

from webinar import audit, clock
from webinar.accounts import sessions
from webinar.db import DB, insert_for
from webinar.privacy import queries
from webinar.privacy.erasure import Requester
from webinar.privacy.services import erase_all
from webinar.state import app_state
from webinar.tables import job_leases
from webinar.web import ratelimit

log = logging.getLogger("webinar.retention")

JOB = "retention"
EVERY = dt.timedelta(hours=24)
LEASE = dt.timedelta(minutes=30)  # longer than a purge takes; a crashed worker's lease lapses by itself
POLL_SECONDS = 300.0
OWNER = f"{socket.gethostname()[:40]}:{uuid.uuid4().hex[:12]}"
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
    return PurgeSummary(len(due), total)


async def take_lease(db: DB, owner: str = OWNER, at: dt.datetime | None = None) -> bool:
    """Claim today's retention run: True for one worker when the last run is over a day old and no lease is held."""
    at = at or clock.now()
    async with db.transaction() as conn:
        await conn.execute(
            insert_for(conn, job_leases).values(name=JOB).on_conflict_do_nothing(index_elements=["name"])
        )
        claimed = await conn.fetch_val(
            job_leases.update()
            .where(
                job_leases.c.name == JOB,
                sa.or_(job_leases.c.locked_until.is_(None), job_leases.c.locked_until < at),
                sa.or_(job_leases.c.last_run_at.is_(None), job_leases.c.last_run_at < at - EVERY),
            )
            .values(owner=owner, locked_until=at + LEASE)
            .returning(job_leases.c.name)
        )
    return claimed is not None


async def finish_lease(db: DB, owner: str = OWNER, ok: bool = True) -> None:
    """Release the lease; a successful run records `last_run_at` so the next one is a day later."""
    values: dict[str, object] = {"owner": None, "locked_until": None}
    if ok:
        values["last_run_at"] = clock.now()
    async with db.transaction() as conn:
        await conn.execute(
            job_leases.update().where(job_leases.c.name == JOB, job_leases.c.owner == owner).values(**values)
        )


async def run_once(db: DB) -> PurgeSummary | None:
    """One daily run if it is due and no other worker holds it; None when there was nothing to do."""
    if not await take_lease(db):
        return None
    try:
        summary = await purge_due(db)
    except Exception:
        await finish_lease(db, ok=False)
        raise
    await finish_lease(db)
    return summary


async def retention_loop(app: Starlette) -> None:
    """Check every few minutes whether today's purge is due; survives its own errors."""
    while True:
        try:
            summary = await run_once(app_state(app).db)
            if summary is not None:
                log.info("%s", summary)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention purge failed; trying again later")
        await asyncio.sleep(POLL_SECONDS)
