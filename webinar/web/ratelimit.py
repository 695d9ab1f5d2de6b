"""Fixed-window rate limits kept in the database, so every worker and machine shares them.

A counter's stored key names nobody: it is its kind ("send-link") and an HMAC, keyed by SECRET_KEY, of the whole
key with the address or IP in it. A counter is therefore not personal data, and no erasure touches it (resetting
counters on request would hand out fresh guesses: docs/security.md, "Rate limits").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.clock import now
from webinar.db import DB, engine
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


def address(ip: str) -> str:
    """An IP address as a per-address counter names it: an IPv6 address by its /64 (one subscriber's network, where
    a host picks any of 2^64 addresses), an IPv4 address as it is."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


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


# A streak of failures is forgotten a day after its last one (purge_old drops the row by then too).
FORGET_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True)
class Backoff:
    """Failures under `key`, successes never counted: after `soft` (x RATE_LIMIT_SCALE) failures in a row, each
    further attempt waits `first`, doubling with every failure up to `longest`. Stored in `rate_limits` as the
    number of failures (`hits`) and the moment of the last one (`window_start`), under an HMAC like a Limit's."""

    key: str
    soft: int
    first: dt.timedelta
    longest: dt.timedelta
    secret: str
    scale: float = 1.0

    @classmethod
    def of(cls, settings: Settings, key: str, soft: int, first: dt.timedelta, longest: dt.timedelta) -> Backoff:
        """A backoff with this platform's secret and scale."""
        return cls(key, soft, first, longest, str(settings.secret_key), settings.rate_limit_scale)

    @property
    def stored_key(self) -> str:
        return stored_key(self.secret, self.key)

    def delay(self, failures: int) -> dt.timedelta:
        """How long after the last of `failures` the next attempt must wait."""
        over = failures - max(1, int(self.soft * self.scale))
        if over < 0:
            return dt.timedelta(0)
        return min(self.first * 2 ** min(over, 30), self.longest)


async def waiting(conn: Connection, backoff: Backoff) -> int | None:
    """The seconds an attempt under `backoff` must still wait (for Retry-After), or None when it may go ahead."""
    row = await conn.fetch_one(
        sa.select(rate_limits.c.hits, rate_limits.c.window_start).where(rate_limits.c.key == backoff.stored_key)
    )
    at = now()
    if row is None or row["window_start"] < at - FORGET_AFTER:
        return None
    left = row["window_start"] + backoff.delay(row["hits"]) - at
    return int(left.total_seconds()) + 1 if left > dt.timedelta(0) else None


async def failed(conn: Connection, backoff: Backoff) -> None:
    """Count one failure under `backoff` (a streak older than FORGET_AFTER starts again at one)."""
    at = now()
    insert: Any = {"sqlite": sqlite_insert, "postgresql": pg_insert}[engine(conn)](rate_limits)
    statement = insert.values(key=backoff.stored_key, window_start=at, hits=1).on_conflict_do_update(
        index_elements=[rate_limits.c.key],
        set_={
            "hits": sa.case((rate_limits.c.window_start < at - FORGET_AFTER, 1), else_=rate_limits.c.hits + 1),
            "window_start": insert.excluded.window_start,
        },
    )
    await conn.execute(statement)


async def forget(conn: Connection, backoff: Backoff) -> None:
    """End the streak of failures under `backoff` (the account's owner got in)."""
    await conn.execute(rate_limits.delete().where(rate_limits.c.key == backoff.stored_key))
