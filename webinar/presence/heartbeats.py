"""Heartbeats written in groups: one UPDATE for all the heartbeats that arrive while the previous one runs."""

from __future__ import annotations

import asyncio
import datetime as dt

from webinar.db import DB
from webinar.presence import services


class HeartbeatWriter:
    """Group commit for heartbeats: each caller still waits for its own row to be written (and learns whether its
    session is still open), but thousands of viewers cost one statement per database round trip, not one each."""

    def __init__(self, db: DB, idle: dt.timedelta) -> None:
        self.db, self.idle = db, idle
        self.pending: dict[int, list[asyncio.Future[bool]]] = {}
        self.writing: asyncio.Task[None] | None = None

    async def beat(self, session_id: int) -> bool:
        """Record one heartbeat; False when the session was closed or its web session ended."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.setdefault(session_id, []).append(waiter)
        if self.writing is None or self.writing.done():
            self.writing = asyncio.create_task(self._write())
        return await waiter

    async def _write(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, {}
            try:
                alive = await services.heartbeats(self.db, list(batch), self.idle)
            except Exception as exc:  # every waiter of this group sees the failure (its channel logs and closes)
                for waiters in batch.values():
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                continue
            for session_id, waiters in batch.items():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(session_id in alive)
