"""SQL for viewing sessions: who is watching now."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.tables import viewing_sessions

DEFAULT_TIMEOUT_SECONDS = 90


def _live(at: dt.datetime, timeout_seconds: int) -> list[sa.ColumnElement[bool]]:
    return [
        viewing_sessions.c.ended_at.is_(None),
        viewing_sessions.c.last_seen_at >= at - dt.timedelta(seconds=timeout_seconds),
    ]


async def live_now(
    conn: Connection, event_id: int | None = None, timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
) -> int:
    """How many viewing sessions are open and have been seen within the timeout (of one event, or all)."""
    query = sa.select(sa.func.count()).select_from(viewing_sessions).where(*_live(now(), timeout_seconds))
    if event_id is not None:
        query = query.where(viewing_sessions.c.event_id == event_id)
    return int(await conn.fetch_val(query) or 0)


async def live_now_by_event(conn: Connection, timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS) -> dict[int, int]:
    """Open, recently seen viewing sessions per event id (events with none are absent)."""
    rows = await conn.fetch_all(
        sa.select(viewing_sessions.c.event_id, sa.func.count().label("n"))
        .where(*_live(now(), timeout_seconds))
        .group_by(viewing_sessions.c.event_id)
    )
    return {int(row["event_id"]): int(row["n"]) for row in rows}
