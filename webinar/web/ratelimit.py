"""Fixed-window rate limits kept in the database, so every worker and machine shares them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.db import insert_for
from webinar.tables import rate_limits
from webinar.web.errors import RateLimited


async def hit(conn: Connection, key: str, limit: int, window: dt.timedelta) -> None:
    """Count one attempt under `key`; raise RateLimited (429) once `limit` is passed in the window."""
    at = now()
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    window_start = epoch + window * ((at - epoch) // window)
    stmt = insert_for(conn, rate_limits).values(key=key[:200], window_start=window_start, hits=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[rate_limits.c.key],
        set_={
            "hits": sa.case((rate_limits.c.window_start == window_start, rate_limits.c.hits + 1), else_=1),
            "window_start": window_start,
        },
    ).returning(rate_limits.c.hits)
    hits = await conn.fetch_val(stmt)
    if hits > limit:
        retry_after = int((window_start + window - at).total_seconds()) + 1
        raise RateLimited(max(retry_after, 1))


async def purge_old(conn: Connection, older_than: dt.timedelta = dt.timedelta(days=1)) -> None:
    """Forget counters whose window ended long ago."""
    await conn.execute(rate_limits.delete().where(rate_limits.c.window_start < now() - older_than))
