"""Ending, on this worker, the presence channels whose viewing session a decision elsewhere ended (docs/security.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from webinar.clock import now
from webinar.db import DB
from webinar.tables import viewing_sessions

log = logging.getLogger("webinar.presence")

vs = viewing_sessions
# How far back a poll looks: longer than any transaction that ends sessions takes to commit, and than the clocks of
# two workers of one deployment drift apart. A session ended earlier than that is caught by the channel's next
# heartbeat instead (its UPDATE finds the session closed).
LOOK_BACK = dt.timedelta(seconds=30)


class Channel:
    """One open presence channel as the poller sees it: whether its access was withdrawn, and the deadline of the
    receive it waits in (moved to now to wake it)."""

    __slots__ = ("revoked", "session_id", "timeout")

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.revoked = False
        self.timeout: asyncio.Timeout | None = None

    def revoke(self) -> None:
        self.revoked = True
        if self.timeout is not None:
            try:
                self.timeout.reschedule(asyncio.get_running_loop().time())
            except RuntimeError:
                pass  # not waiting now: the channel looks at `revoked` before it waits again


class Revocations:
    """The channels this worker holds, and one loop that every `every` seconds asks the database which of them were
    ended as `logout` (a rejection, a cancellation, an erasure, the event cancelled, a logout — by whichever
    process): one indexed query per worker, whatever the number of channels, and only while it holds some."""

    def __init__(self, db: DB, every: float) -> None:
        self.db, self.every = db, every
        self.channels: dict[int, list[Channel]] = {}

    @contextmanager
    def watch(self, session_id: int) -> Iterator[Channel]:
        """Register one channel for the life of the `with` block."""
        channel = Channel(session_id)
        self.channels.setdefault(session_id, []).append(channel)
        try:
            yield channel
        finally:
            held = self.channels.get(session_id, [])
            if channel in held:
                held.remove(channel)
            if not held:
                self.channels.pop(session_id, None)

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is logged and tried again at the next interval."""
        while True:
            await asyncio.sleep(self.every)
            if not self.channels:
                continue
            try:
                await self.poll()
            except Exception:
                log.exception("presence: could not read the ended viewing sessions")

    async def poll(self) -> int:
        """Wake the channels whose session was ended as `logout` lately; returns how many."""
        query = sa.select(vs.c.id).where(vs.c.ended_at >= now() - LOOK_BACK, vs.c.end_reason == "logout")
        async with self.db.connection() as conn:
            ended = {int(row[0]) for row in await conn.fetch_all(query)}
        woken = 0
        for session_id in ended & self.channels.keys():
            for channel in self.channels.get(session_id, []):
                channel.revoke()
                woken += 1
        return woken
