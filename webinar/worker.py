"""Background work: the loops that `webinar serve` runs in-process and `webinar worker` runs alone."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.applications import Starlette

from webinar.state import app_state


def loops() -> list[Callable[[Starlette], Coroutine[Any, Any, None]]]:
    """Every background loop of the platform."""
    from webinar.mail.sender import sender_loop
    from webinar.presence import sweeper
    from webinar.privacy.retention import retention_loop

    return [sender_loop, sweeper.run, retention_loop]


async def run_worker(settings: object) -> None:
    """Run the background loops without the web app, until interrupted (`webinar worker`)."""
    import asyncio

    from webinar.app import create_app
    from webinar.settings import Settings

    assert isinstance(settings, Settings)
    app = create_app(settings.with_overrides(run_background=False))
    db = app_state(app).db
    await db.connect()
    try:
        await asyncio.gather(*(loop(app) for loop in loops()))
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
