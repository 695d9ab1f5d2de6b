"""The sweeper: closes viewing sessions whose page stopped sending heartbeats (or whose server died)."""

from __future__ import annotations

import logging

from webinar.jobs import Context, Job
from webinar.presence import services
from webinar.settings import Settings

log = logging.getLogger("webinar.presence")


def interval_seconds(timeout_seconds: int) -> float:
    """How often to sweep: every 15 s, or more often when the timeout is short (tests)."""
    return max(0.5, min(15.0, timeout_seconds / 3))


def _interval(settings: Settings) -> float:
    return interval_seconds(settings.presence_timeout_seconds)


async def sweep_pass(ctx: Context) -> None:
    """One sweep; it needs no lease: every worker may run it, the UPDATE is idempotent."""
    closed = await services.sweep(ctx.db, ctx.settings.presence_timeout_seconds)
    if closed:
        log.info("sweeper closed %d viewing session(s) at their last heartbeat", closed)


JOB = Job("presence-sweeper", sweep_pass, interval=_interval)
