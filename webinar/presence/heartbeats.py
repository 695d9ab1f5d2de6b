"""Heartbeats written in groups: one UPDATE for all the heartbeats that arrive while the previous one runs."""

from __future__ import annotations

import datetime as dt

from webinar.db import DB
from webinar.groupwrite import GroupWriter
from webinar.presence import services

# Thousands of viewers may beat within one round trip; a group is one UPDATE over `= ANY(array)`, however large.
MOST_PER_GROUP = 50_000


class HeartbeatWriter:
    """Group commit for heartbeats (`GroupWriter`): each caller still waits for its own row to be written (and learns
    whether its session is still open), but thousands of viewers cost one statement per database round trip, not
    one each. A failed write fails every heartbeat of its group (each channel logs and closes)."""

    def __init__(self, db: DB, idle: dt.timedelta) -> None:
        self.db, self.idle = db, idle
        self.groups: GroupWriter[int, bool] = GroupWriter(
            self._write_group, lambda session_id: (session_id,), MOST_PER_GROUP, whole_group=(Exception,)
        )

    async def beat(self, session_id: int) -> bool:
        """Record one heartbeat; False when the session was closed or its web session ended."""
        return await self.groups.submit(session_id)

    async def _write_group(self, session_ids: list[int]) -> list[bool]:
        alive = await services.heartbeats(self.db, session_ids, self.idle)
        return [session_id in alive for session_id in session_ids]
