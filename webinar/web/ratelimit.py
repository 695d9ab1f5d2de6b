"""Fixed-window rate limits kept in the database, so every worker and machine shares them.

A counter's stored key names nobody: it is its kind ("send-link") and an HMAC, keyed by SECRET_KEY, of the whole
key with the address or IP in it. A counter is therefore not personal data, and no erasure touches it (resetting
counters on request would hand out fresh guesses: docs/security.md, "Rate limits").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.clock import now
from webinar.db import engine
from webinar.dbbackends import Prepared
from webinar.settings import Settings
from webinar.tables import UTCDateTime, rate_limits
from webinar.web.errors import RateLimited

_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


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


def stored_key(secret: str, key: str) -> str:
    """What is stored for the counter `key` ("<kind>:<who>"): the kind, then an HMAC of the whole key."""
    kind = key.split(":", 1)[0][:40]
    return f"{kind}:" + hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Limit:
    """At most `limit` (x RATE_LIMIT_SCALE) attempts under `key` in each fixed `window`; `secret` keys the HMAC
    that stands for `key` in the table."""

    key: str
    limit: int
    window: dt.timedelta
    secret: str
    scale: float = 1.0

    @classmethod
    def of(cls, settings: Settings, key: str, limit: int, window: dt.timedelta) -> Limit:
        """A limit with this platform's secret and scale."""
        return cls(key, limit, window, str(settings.secret_key), settings.rate_limit_scale)

    @property
    def most(self) -> int:
        """The attempts allowed in one window."""
        return max(1, int(self.limit * self.scale))

    @property
    def stored_key(self) -> str:
        return stored_key(self.secret, self.key)

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


async def hit(conn: Connection, settings: Settings, key: str, limit: int, window: dt.timedelta) -> None:
    """Count one attempt under `key`; raise RateLimited (429) once `limit` (x RATE_LIMIT_SCALE) is passed."""
    await count(conn, Limit.of(settings, key, limit, window))


async def count(conn: Connection, limit: Limit) -> None:
    """Count one attempt against `limit`; raise RateLimited (429) once it is passed."""
    at = now()
    row = await conn.fetch_one(HIT[engine(conn)].statement(limit.hit_values(at)))
    assert row is not None  # an upsert returns its row
    limit.check(row["hits"], at)


async def purge_old(conn: Connection, older_than: dt.timedelta = dt.timedelta(days=1)) -> None:
    """Forget counters whose window ended long ago."""
    await conn.execute(rate_limits.delete().where(rate_limits.c.window_start < now() - older_than))
