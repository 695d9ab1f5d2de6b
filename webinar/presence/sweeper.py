"""The sweeper: closes viewing sessions whose page stopped sending heartbeats (or whose server died)."""

from __future__ import annotations

import asyncio
import logging

from starlette.applications import Starlette

from webinar.presence import services
from webinar.state import app_state

log = logging.getLogger("webinar.presence")


def interval_seconds(timeout_seconds: int) -> float:
    """How often to sweep: every 15 s, or more often when the timeout is short (tests)."""
    return max(0.5, min(15.0, timeout_seconds / 3))


async def run(app: Starlette) -> None:
    """Sweep forever; an error is logged and the loop goes on (every worker may run it: the UPDATE is idempotent)."""
    settings = app_state(app).settings
    while True:
        try:
            closed = await services.sweep(app_state(app).db, settings.presence_timeout_seconds)
            if closed:
                log.info("sweeper closed %d viewing session(s) at their last heartbeat", closed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("viewing-session sweep failed; trying again later")
        await asyncio.sleep(interval_seconds(settings.presence_timeout_seconds))
