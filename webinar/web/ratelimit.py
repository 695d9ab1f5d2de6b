"""Fixed-window rate limits kept in the database, so every worker and machine shares them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.clock import now
from webinar.db import dialect_name, sqlite_connection
from webinar.dbbackends import Prepared
from webinar.tables import UTCDateTime, rate_limits
from webinar.web.errors import RateLimited

_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
KEY_LENGTH = 200


def pg_hit(rows: str) -> str:
    """The PostgreSQL statement counting one attempt per row of `rows` (key, window start, 1), returning each new
    count with its key (it is also a CTE of the registrations' group statement, registration/fastpath.py)."""
    return f"""
INSERT INTO rate_limits (key, window_start, hits) {rows}
ON CONFLICT (key) DO UPDATE
    SET hits = CASE WHEN rate_limits.window_start = EXCLUDED.window_start THEN rate_limits.hits + 1 ELSE 1 END,
        window_start = EXCLUDED.window_start
RETURNING hits, key
"""  # noqa: S608  # nosec B608 - only the caller's constant rows clause is put in; values are bound


PG_HIT = pg_hit("VALUES ($1, $2, 1)")


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


@dataclass(frozen=True)
class Limit:
    """At most `limit` (x RATE_LIMIT_SCALE) attempts under `key` in each fixed `window`."""

    key: str
    limit: int
    window: dt.timedelta
    scale: float = 1.0

    @property
    def most(self) -> int:
        """The attempts allowed in one window."""
        return max(1, int(self.limit * self.scale))

    @property
    def stored_key(self) -> str:
        return self.key[:KEY_LENGTH]

    def window_start(self, at: dt.datetime) -> dt.datetime:
        """The start of the window `at` falls in."""
        return _EPOCH + self.window * ((at - _EPOCH) // self.window)

    def check(self, hits: int, at: dt.datetime) -> None:
        """Raise RateLimited (429) when `hits` in the window of `at` are more than allowed."""
        if hits > self.most:
            retry_after = int((self.window_start(at) + self.window - at).total_seconds()) + 1
            raise RateLimited(max(retry_after, 1))

    def sqlite_hit(self, at: dt.datetime) -> tuple[str, list[Any]]:
        """The SQLite statement (and its arguments) counting one attempt; it returns the window's count."""
        return SQLITE_HIT.bind({"key": self.stored_key, "window_start": self.window_start(at)})


async def hit(conn: Connection, key: str, limit: int, window: dt.timedelta, scale: float = 1.0) -> None:
    """Count one attempt under `key`; raise RateLimited (429) once `limit` (x RATE_LIMIT_SCALE) is passed."""
    await count(conn, Limit(key, limit, window, scale))


async def count(conn: Connection, limit: Limit) -> None:
    """Count one attempt against `limit`; raise RateLimited (429) once it is passed."""
    at = now()
    # A hot path (every registration and login): the statement is written, or compiled, once.
    hits: int
    if dialect_name(conn) == "postgresql":
        hits = await conn.raw_connection.fetchval(PG_HIT, limit.stored_key, limit.window_start(at))
    else:
        sql, args = limit.sqlite_hit(at)
        sqlite = sqlite_connection(conn)
        hits = await sqlite.run_sync(lambda raw: raw.execute(sql, args).fetchone()[0], writes=True)
    limit.check(hits, at)


async def purge_old(conn: Connection, older_than: dt.timedelta = dt.timedelta(days=1)) -> None:
    """Forget counters whose window ended long ago."""
    await conn.execute(rate_limits.delete().where(rate_limits.c.window_start < now() - older_than))
