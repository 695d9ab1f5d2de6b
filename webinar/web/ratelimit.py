"""Fixed-window rate limits kept in the database, so every worker and machine shares them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.clock import now
from webinar.db import dialect_name, sqlite_connection
from webinar.dbbackends import Prepared
from webinar.tables import UTCDateTime, rate_limits
from webinar.web.errors import RateLimited

PG_HIT = """
INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1)
ON CONFLICT (key) DO UPDATE SET hits = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.hits + 1 ELSE 1 END,
                                window_start = $2
RETURNING hits
"""


_WINDOW_START = sa.bindparam("window_start", type_=UTCDateTime)
SQLITE_HIT = Prepared(
    sqlite_insert(rate_limits)
    .values(key=sa.bindparam("key"), window_start=_WINDOW_START, hits=1)
    .on_conflict_do_update(
        index_elements=[rate_limits.c.key],
        set_={
            "hits": sa.case((rate_limits.c.window_start == _WINDOW_START, rate_limits.c.hits + 1), else_=1),
            "window_start": _WINDOW_START,
        },
    )
    .returning(rate_limits.c.hits)
)


async def hit(conn: Connection, key: str, limit: int, window: dt.timedelta, scale: float = 1.0) -> None:
    """Count one attempt under `key`; raise RateLimited (429) once `limit` (x RATE_LIMIT_SCALE) is passed."""
    limit = max(1, int(limit * scale))
    at = now()
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    window_start = epoch + window * ((at - epoch) // window)
    # A hot path (every registration and login): the statement is written, or compiled, once.
    hits: int
    if dialect_name(conn) == "postgresql":
        hits = await conn.raw_connection.fetchval(PG_HIT, key[:200], window_start)
    else:
        sql, args = SQLITE_HIT.bind({"key": key[:200], "window_start": window_start})
        sqlite = sqlite_connection(conn)
        hits = await sqlite.run_sync(lambda raw: raw.execute(sql, args).fetchone()[0], writes=True)
    if hits > limit:
        retry_after = int((window_start + window - at).total_seconds()) + 1
        raise RateLimited(max(retry_after, 1))


async def purge_old(conn: Connection, older_than: dt.timedelta = dt.timedelta(days=1)) -> None:
    """Forget counters whose window ended long ago."""
    await conn.execute(rate_limits.delete().where(rate_limits.c.window_start < now() - older_than))
