"""Fixed-window rate limits kept in the database, so every worker and machine shares them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.clock import now
from webinar.db import DB, engine
from webinar.dbbackends import Prepared
from webinar.tables import UTCDateTime, rate_limits
from webinar.web.errors import RateLimited

_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
KEY_LENGTH = 200


def counted(insert: Any) -> Any:
    """`insert` (a dialect's INSERT of `key`, `window_start`, `hits` = 1 into rate_limits) made into the counting
    rule, returning each key's new count: one more attempt in the same window, or the first of a new window. The
    one statement of the rule for both engines, alone (`count`) or over the rows of a group of registrations
    (registration/batch.py)."""
    new = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[rate_limits.c.key],
        set_={
            "hits": sa.case((rate_limits.c.window_start == new.window_start, rate_limits.c.hits + 1), else_=1),
            "window_start": new.window_start,
        },
    ).returning(rate_limits.c.hits, rate_limits.c.key)


def _hit(insert: Any) -> Prepared:
    values = {"key": sa.bindparam("key"), "window_start": sa.bindparam("window_start", type_=UTCDateTime), "hits": 1}
    return Prepared(counted(insert(rate_limits).values(**values)))


HIT = {"sqlite": _hit(sqlite_insert), "postgresql": _hit(pg_insert)}


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

    def hit_values(self, at: dt.datetime) -> dict[str, Any]:
        """The values of `HIT` counting one attempt at `at`."""
        return {"key": self.stored_key, "window_start": self.window_start(at)}


async def hit(conn: Connection, key: str, limit: int, window: dt.timedelta, scale: float = 1.0) -> None:
    """Count one attempt under `key`; raise RateLimited (429) once `limit` (x RATE_LIMIT_SCALE) is passed."""
    await count(conn, Limit(key, limit, window, scale))


async def count(conn: Connection, limit: Limit) -> int:
    """Count one attempt against `limit`; raise RateLimited (429) once it is passed. The count with this one."""
    at = now()
    row = await conn.fetch_one(HIT[engine(conn)].statement(limit.hit_values(at)))
    assert row is not None  # an upsert returns its row
    limit.check(row["hits"], at)
    return int(row["hits"])


def _seen() -> Prepared:
    key: Any = sa.bindparam("key")
    start: Any = sa.bindparam("window_start", type_=UTCDateTime)
    return Prepared(sa.select(rate_limits.c.hits).where(rate_limits.c.key == key, rate_limits.c.window_start == start))


SEEN = _seen()


async def hits(db: DB, limit: Limit) -> int:
    """The attempts counted under `limit` in the current window so far (nothing is counted)."""
    row = await db.one(SEEN, limit.hit_values(now()))
    return int(row["hits"]) if row is not None else 0


async def purge_old(conn: Connection, older_than: dt.timedelta = dt.timedelta(days=1)) -> None:
    """Forget counters whose window ended long ago."""
    await conn.execute(rate_limits.delete().where(rate_limits.c.window_start < now() - older_than))
