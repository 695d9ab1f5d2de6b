"""Background jobs: a job declares one pass; `supervise` runs it forever, logs, backs off and holds its lease."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import jinja2
import sqlalchemy as sa
from starlette.applications import Starlette

from webinar import clock
from webinar.db import DB, insert_for
from webinar.settings import Settings
from webinar.state import app_state
from webinar.stopping import to_the_end, together
from webinar.tables import job_leases
from webinar.web.traffic import Traffic

log = logging.getLogger("webinar.jobs")

MAX_BACKOFF_SECONDS = 60.0  # a failing job tries again at least this often (or at its interval, if longer)
LEASE_STATEMENT_SECONDS = 10.0  # the longest a stop waits for a lease's statement; a lease lapses by itself anyway
HOST = socket.gethostname()[:40]

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Context:
    """What a pass may use: the settings, the database and the app's templates; and the requests the process is
    serving (`webinar serve`), which deferred work gives way to."""

    settings: Settings
    db: DB
    env: jinja2.Environment
    traffic: Traffic | None = None

    @classmethod
    def of(cls, app: Starlette) -> Context:
        """The context of a built app (`create_app`)."""
        state = app_state(app)
        return cls(state.settings, state.db, state.templates.env, state.traffic)


@dataclass(frozen=True)
class Lease:
    """A row of `job_leases` that lets one worker at a time run the job, at most once per `run_every`."""

    hold: dt.timedelta  # longer than a pass takes between two renewals; a crashed holder's lease lapses by itself
    run_every: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True)
class Until:
    """What a pass answers when nothing is left and it knows when its next work is due: run again in `seconds` (or at
    the job's interval, if that comes first), so that work due at a moment starts at it rather than up to an interval
    late."""

    seconds: float


@dataclass(frozen=True)
class Job:
    """One background job: `run` does one pass and returns True when work is left (run again at once), or `Until` when
    its next work is due sooner than its interval."""

    name: str  # in the logs, and the lease's row
    run: Callable[[Context], Awaitable[bool | Until | None]]
    interval: float | Callable[[Settings], float]  # seconds between passes once there is nothing left to do
    lease: Lease | None = None
    max_backoff: float = MAX_BACKOFF_SECONDS

    def wait(self, settings: Settings) -> float:
        """Seconds to wait after a pass that left nothing to do."""
        return self.interval(settings) if callable(self.interval) else self.interval

    def wait_after(self, answer: bool | Until, settings: Settings) -> float:
        """Seconds to wait after a pass that answered `answer`: none while work is left."""
        if answer is True:
            return 0.0
        if isinstance(answer, Until):
            return max(0.0, min(answer.seconds, self.wait(settings)))
        return self.wait(settings)

    def backoff(self, failures: int, settings: Settings) -> float:
        """Seconds to wait after `failures` failed passes in a row: the interval, doubling up to the cap."""
        every = self.wait(settings)
        return min(max(self.max_backoff, every), every * 2 ** (failures - 1))


def new_owner() -> str:
    """A lease owner unique to one supervisor, so that two in one process never release each other's lease."""
    return f"{HOST}:{uuid.uuid4().hex[:12]}"


async def supervise(job: Job, ctx: Context, *, sleep: Sleep = asyncio.sleep, owner: str | None = None) -> None:
    """Run `job` pass after pass until cancelled; an error is logged with its traceback and retried with backoff."""
    owner = owner or new_owner()
    failures = 0
    while True:
        try:
            more = await _pass(job, ctx, owner)
        except asyncio.CancelledError:
            raise
        except Exception:
            if (task := asyncio.current_task()) is not None and task.cancelling():
                raise asyncio.CancelledError from None  # a stop that a library turned into another error
            failures += 1
            delay = job.backoff(failures, ctx.settings)
            log.exception("job %s: pass failed (%d in a row); trying again in %.1f s", job.name, failures, delay)
            await sleep(delay)
            continue
        if failures:
            log.info("job %s: pass succeeded again after %d failure(s)", job.name, failures)
            failures = 0
        # A backlog is worked through without waiting, yet other tasks (and a cancellation) get their turn.
        delay = job.wait_after(more, ctx.settings)
        await (asyncio.sleep(0) if delay == 0 else sleep(delay))


async def run_all(jobs: Iterable[Job], ctx: Context) -> None:
    """Supervise every job until cancelled (`webinar serve`'s lifespan and `webinar worker` alike)."""
    await together(*(supervise(job, ctx) for job in jobs))  # stopped, each job has let go of its lease


async def _pass(job: Job, ctx: Context, owner: str) -> bool | Until:
    if job.lease is None:
        return _answer(await job.run(ctx))
    taken: bool | None = None  # None while claiming: a stop then may come after the claim committed
    renewing: asyncio.Task[None] | None = None
    ran = False
    try:
        taken = await to_the_end(take_lease(ctx.db, job, owner), LEASE_STATEMENT_SECONDS)
        if not taken:
            return False  # another worker holds it, or the job ran recently enough
        renewing = asyncio.create_task(_keep_renewed(ctx.db, job, owner))
        more = _answer(await job.run(ctx))
        ran = True
        return more
    finally:
        if taken is not False:
            await _let_go(ctx.db, job, owner, ran, renewing)


def _answer(answer: bool | Until | None) -> bool | Until:
    return answer if isinstance(answer, Until) else bool(answer)


async def take_lease(db: DB, job: Job, owner: str, at: dt.datetime | None = None) -> bool:
    """Claim the job's lease: True for one owner, when no lease is held and the last run is old enough."""
    assert job.lease is not None
    at = at or clock.now()
    async with db.transaction() as conn:
        await conn.execute(
            insert_for(conn, job_leases).values(name=job.name).on_conflict_do_nothing(index_elements=["name"])
        )
        claimed = await conn.fetch_val(
            job_leases.update()
            .where(
                job_leases.c.name == job.name,
                sa.or_(job_leases.c.locked_until.is_(None), job_leases.c.locked_until < at),
                sa.or_(job_leases.c.last_run_at.is_(None), job_leases.c.last_run_at < at - job.lease.run_every),
            )
            .values(owner=owner, locked_until=at + job.lease.hold)
            .returning(job_leases.c.name)
        )
    return claimed is not None


async def renew_lease(db: DB, job: Job, owner: str) -> bool:
    """Extend a held lease by its hold; False when this owner no longer holds it."""
    assert job.lease is not None
    async with db.transaction() as conn:
        renewed = await conn.fetch_val(
            job_leases.update()
            .where(job_leases.c.name == job.name, job_leases.c.owner == owner)
            .values(locked_until=clock.now() + job.lease.hold)
            .returning(job_leases.c.name)
        )
    return renewed is not None


async def release_lease(db: DB, job: Job, owner: str, ran: bool) -> None:
    """Let the lease go; a pass that ran to the end records `last_run_at`, so a failed one is retried sooner."""
    values: dict[str, object] = {"owner": None, "locked_until": None}
    if ran:
        values["last_run_at"] = clock.now()
    async with db.transaction() as conn:
        await conn.execute(
            job_leases.update().where(job_leases.c.name == job.name, job_leases.c.owner == owner).values(**values)
        )


async def _keep_renewed(db: DB, job: Job, owner: str) -> None:
    """Renew the lease three times per hold while a pass runs, so a long pass keeps it and a dead one loses it."""
    assert job.lease is not None
    while True:
        await asyncio.sleep(job.lease.hold.total_seconds() / 3)
        try:
            if not await to_the_end(renew_lease(db, job, owner), LEASE_STATEMENT_SECONDS):
                log.warning("job %s: lease lost to another worker during a pass", job.name)
                return
        except Exception:
            log.exception("job %s: could not renew the lease; it lapses unless renewed later", job.name)


async def _let_go(db: DB, job: Job, owner: str, ran: bool, renewing: asyncio.Task[None] | None) -> None:
    """Stop renewing and release the lease, to the end even at a stop. An error is only logged: raising here would
    hide the pass's own error (or its stop), and an unreleased lease lapses by itself."""
    try:
        await to_the_end(_wind_up(db, job, owner, ran, renewing), LEASE_STATEMENT_SECONDS)
    except Exception:
        log.exception("job %s: could not release the lease; it lapses by itself", job.name)


async def _wind_up(db: DB, job: Job, owner: str, ran: bool, renewing: asyncio.Task[None] | None) -> None:
    if renewing is not None:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
    await release_lease(db, job, owner, ran)
