"""Database access: the connection pool, atomic units of work, and engine differences."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import fields
from functools import partial
from itertools import count
from typing import Any, TypeVar, cast

import asyncpg
import sqlalchemy as sa
from databases import Database
from databases.core import Connection
from sqlalchemy.dialects import postgresql

from webinar import changes, files
from webinar.dbbackends import CachingPostgresBackend, PooledSQLiteBackend, PooledSQLiteConnection, Prepared
from webinar.settings import Settings
from webinar.stopping import to_the_end

log = logging.getLogger("webinar.db")

SQLITE_CONNECTIONS = 8  # kept open per process: readers run beside the one writer (WAL)
POSTGRES_CONNECTIONS = 10  # at most, per process, for units of work (`databases`' pool)
STATEMENT_CONNECTIONS = 8  # at most, per process, for the hot paths' single statements (`StatementPool`)


class _SQLiteConnection(sqlite3.Connection):
    """Every SQLite connection enforces foreign keys and waits for a busy writer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA foreign_keys = ON")
        self.execute("PRAGMA synchronous = NORMAL")


async def _end_open_transaction(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection it takes back. We set no session state (no LISTEN, prepared cursors
    or session advisory locks) but the TimeZone of a CSV export (reports/pgcopy.py), which the server reports
    to the driver, so asyncpg's default RESET ALL round trip per request buys nothing: a transaction left open
    must end, and a changed TimeZone goes back to UTC."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")
    if conn.get_settings().TimeZone != "UTC":
        await conn.execute("RESET TimeZone")


SERVER_SETTINGS = {"application_name": "webinar", "timezone": "UTC"}


class DatabaseUnavailable(ConnectionError):
    """No connection could be had (server down, refusing connections, pool starved): a 503, not a bug."""


# What opening a connection raises when the server cannot serve us: refused, not accepting connections for this
# database (ALLOW_CONNECTIONS false raises 55000), shutting down, too many clients, or too slow to answer.
_CONNECT_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


# What a connection that was working raises once its server backend is gone (terminated, shut down).
_BROKEN_CONNECTION = (
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.PostgresConnectionError,
    ConnectionError,
)


class StatementPool:
    """PostgreSQL connections for single statements (`DB.one`, `DB.all`: registration, join link, stream page).

    asyncpg's pool gives a connection back through a new task, a timer and a reset callback, which cost more client
    CPU than the statement itself; a statement that is atomic on its own needs none of that. A connection is taken
    from the idle ones (or opened, up to `size`, or waited for, first come first served) and given back as soon as
    its statement is done; one that failed in any other way than the server refusing the statement (cancelled,
    broken, timed out) is closed, never reused.
    """

    def __init__(self, url: str, size: int, connect_timeout: float) -> None:
        self.url, self.size, self.connect_timeout = url, size, connect_timeout
        self._idle: list[asyncpg.Connection] = []
        self._opened = 0
        self._closing = False
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self._take()
        try:
            rows = await conn.fetch(sql, *args)
        except BaseException as exc:
            if isinstance(exc, asyncpg.PostgresError) and not isinstance(exc, _BROKEN_CONNECTION):
                self._give(conn)  # the server refused this statement; the connection is as good as before
            else:
                self._close(conn)
            raise
        self._give(conn)
        return rows

    async def close(self) -> None:
        """Close the idle connections; those still running a statement are closed as they come back."""
        self._closing = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._opened -= 1
            await conn.close(timeout=5)

    async def _take(self) -> asyncpg.Connection:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._opened < self.size:
                self._opened += 1
                try:
                    return await asyncpg.connect(
                        self.url, timeout=self.connect_timeout, command_timeout=30, server_settings=SERVER_SETTINGS
                    )
                except BaseException as exc:
                    self._opened -= 1
                    self._wake(None)
                    if isinstance(exc, _CONNECT_FAILURES):
                        raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
                    raise
            waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and (handed := waiter.result()) is not None:
                    self._give(handed)  # handed over just as this request was cancelled: pass it on
                raise
            if conn is not None:
                return conn
            # None: a connection was closed, so this waiter may open one

    def _give(self, conn: asyncpg.Connection) -> None:
        if self._closing or conn.is_closed() or conn.is_in_transaction():
            self._close(conn)
        elif not self._wake(conn):
            self._idle.append(conn)

    def _close(self, conn: asyncpg.Connection) -> None:
        conn.terminate()
        self._opened -= 1
        self._wake(None)

    def _wake(self, conn: asyncpg.Connection | None) -> bool:
        """Hand `conn` (None: a free slot) to the longest waiting request; False when nobody waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False


class DB:
    """The application's database: a `databases.Database` plus what differs between engines."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            options: dict[str, Any] = {"factory": _SQLiteConnection, "timeout": settings.db_timeout_seconds}
            self.database = Database(self.url, **options)
            self.database._backend = PooledSQLiteBackend(self.url, pool_size=SQLITE_CONNECTIONS, **options)
        else:
            self.database = Database(
                self.url,
                min_size=1,
                max_size=POSTGRES_CONNECTIONS,
                timeout=settings.db_timeout_seconds,  # connect timeout: a dead server is a quick 503
                command_timeout=30,
                server_settings=SERVER_SETTINGS,
                reset=_end_open_transaction,
            )
            self.database._backend = CachingPostgresBackend(self.database.url, **self.database.options)
            self.timeout = settings.db_timeout_seconds
            self.statements = StatementPool(self.url, STATEMENT_CONNECTIONS, self.timeout)

    async def connect(self) -> None:
        if (path := files.sqlite_file(self.url)) is not None:
            files.create_private(path)  # before SQLite creates it with the umask's mode
        await self.database.connect()
        if self.is_sqlite:
            await self.database.execute("PRAGMA journal_mode = WAL")

    async def disconnect(self, within: float | None = None) -> None:
        """Close the pools; with `within`, a pool whose connections are not all given back by then is closed at
        once, those connections with it (logged: each is a unit of work a stop cut short)."""
        if not self.is_sqlite:  # a fresh pool for a later connect(); this one closes its connections as they return
            closing, self.statements = self.statements, StatementPool(self.url, STATEMENT_CONNECTIONS, self.timeout)
            await closing.close()
        if self.database.is_connected:
            try:
                await asyncio.wait_for(self.database.disconnect(), within)
            except TimeoutError:  # asyncpg's pool terminates its connections when its close is cut short
                log.error("stop: database connections still in use after %.1f s; closed at once", within)

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[Connection]:
        """A pooled connection; failing to get one is DatabaseUnavailable, whatever the driver called it."""
        holder = self.database.connection()
        try:
            conn = await holder.__aenter__()
        except _CONNECT_FAILURES as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            yield conn
        except BaseException as exc:
            if isinstance(exc, _BROKEN_CONNECTION) and not self.is_sqlite:
                # Never hand a connection in an unknown protocol state back to the pool: drop it.
                conn.raw_connection.terminate()
            await holder.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        await holder.__aexit__(None, None, None)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One atomic unit of work: `async with db.transaction() as conn:` and pass `conn` down. A unit that changed
        what an event's pages show (webinar/changes.py) says so again once committed: a copy read in between, of the
        rows as they were before the commit, is dropped too."""
        before = changes.generation()
        async with self._unit() as conn:
            yield conn
        if changes.generation() != before:
            changes.shown_changed()

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[Connection]:
        async with self._acquire() as conn:
            if self.is_sqlite:
                async with sqlite_connection(conn).writing():  # one writer: the process's writes take turns
                    # IMMEDIATE takes the write lock up front (waiting up to the busy timeout): a deferred BEGIN
                    # that reads first fails at once with SQLITE_BUSY when another connection wrote meanwhile.
                    await conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn
                    except BaseException:
                        await conn.execute("ROLLBACK")
                        raise
                    await conn.execute("COMMIT")
            else:
                async with _postgres_transaction(conn.raw_connection):
                    yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for reads that need no transaction."""
        async with self._acquire() as conn:
            yield conn

    async def one(self, query: Prepared, values: dict[str, Any]) -> Any:
        """Run one prepared statement (atomic on its own) and return its first row or None: on PostgreSQL straight
        through the statement pool (one round trip, none of `databases`' per-task bookkeeping), on SQLite through
        `databases`. Rows of either are read by column name."""
        rows = await self.all(query, values, first=True)
        return rows[0] if rows else None

    async def all(self, query: Prepared, values: dict[str, Any], first: bool = False) -> list[Any]:
        """Every row of one prepared statement (atomic on its own), as `one`."""
        if self.is_sqlite:
            async with self.connection() as conn:
                statement = query.statement(values)
                if first:
                    row = await conn.fetch_one(statement)
                    return [row] if row is not None else []
                return list(await conn.fetch_all(statement))
        sql, args = query.postgres(values)
        return await self.statements.fetch(sql, *args)

    async def run(self, query: Prepared, values: dict[str, Any]) -> None:
        """Run one prepared statement that returns nothing (atomic on its own), as `one` does."""
        if self.is_sqlite:
            async with self.connection() as conn:
                await conn.execute(query.statement(values))
        else:
            sql, args = query.postgres(values)
            await self.statements.fetch(sql, *args)

    async def in_one_trip(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """SQLite only: `work(connection)` as one transaction in one hand-off to a connection's thread, holding the
        process's write lock: several statements for the price of one (the embedded hot path)."""
        assert self.is_sqlite
        async with self.connection() as conn:
            return await sqlite_connection(conn).run_sync(partial(_immediately, work), writes=True)


T = TypeVar("T")


@asynccontextmanager
async def _postgres_transaction(raw: asyncpg.Connection) -> AsyncIterator[None]:
    """BEGIN … COMMIT (ROLLBACK when the block raises) on the unit of work's own connection; a SAVEPOINT when this
    task's unit of work is already in one. Not `databases`' transaction: cancelled during its BEGIN, COMMIT or
    ROLLBACK (a stop cancelling the request), it never gives its connection back, and the pool's close then waits
    for it forever. Here the connection goes back whatever happens (`DB._acquire`; the pool's reset rolls back a
    transaction left open), and a COMMIT that was sent is waited for, so a stop never leaves its outcome unknown."""
    savepoint = f"webinar_{id(raw)}_{next(_SAVEPOINTS)}" if raw.is_in_transaction() else None
    await raw.execute("BEGIN" if savepoint is None else f"SAVEPOINT {savepoint}")
    try:
        yield
    except BaseException:
        if not raw.is_closed():
            with suppress(Exception):  # the block's own error is the one to raise; the pool's reset rolls back too
                await raw.execute("ROLLBACK" if savepoint is None else f"ROLLBACK TO SAVEPOINT {savepoint}")
        raise
    await to_the_end(raw.execute("COMMIT" if savepoint is None else f"RELEASE SAVEPOINT {savepoint}"))


_SAVEPOINTS = count(1)


def _immediately(work: Callable[[sqlite3.Connection], T], raw: sqlite3.Connection) -> T:
    """`work` between BEGIN IMMEDIATE and COMMIT (ROLLBACK when it raises)."""
    raw.execute("BEGIN IMMEDIATE")
    try:
        result = work(raw)
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")
    return result


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def to_dataclass(cls: type[T], row: object) -> T:
    """Build a frozen dataclass from a database record (of either engine, or a mapping)."""
    names = _FIELD_NAMES.get(cls) or _FIELD_NAMES.setdefault(cls, tuple(f.name for f in fields(cls)))  # type: ignore[arg-type]
    return cls(**{name: row[name] for name in names})  # type: ignore[index]


def alembic_url(url: str) -> str:
    """The SQLAlchemy async URL Alembic uses for the same database."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def engine(conn: Connection) -> str:
    """'sqlite' or 'postgresql' for a connection. `databases` (pinned <0.10 in pyproject.toml) has no public
    accessor for it; every test on both engines goes through here."""
    name: str = conn._backend._dialect.name  # type: ignore[attr-defined]
    return name


def sqlite_connection(conn: Connection) -> PooledSQLiteConnection:
    """The SQLite connection under a `databases` connection: its write lock and its thread (`run_sync`)."""
    return cast(PooledSQLiteConnection, conn._connection)


def among(conn: Connection, column: Any, values: Collection[Any]) -> Any:
    """`column IN values`, as a statement that is the same whatever the number of values: `= ANY(array)` on
    PostgreSQL (compiled once, prepared once), `IN (…)` on SQLite (which has no arrays)."""
    if engine(conn) == "sqlite":
        return column.in_(list(values))
    return column == sa.any_(sa.literal(list(values), type_=postgresql.ARRAY(column.type)))


def insert_for(conn: Connection, table: Any) -> Any:
    """A dialect-specific INSERT (with `on_conflict_do_…`) for the connection's engine."""
    if engine(conn) == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)


async def insert_many(
    conn: Connection, insert: Prepared | Any, rows: Sequence[dict[str, Any]], returning: bool = False
) -> list[tuple[Any, ...]]:
    """Insert `rows` (all with the same keys) with `insert` (a table's INSERT, or a dialect's one with its
    `on_conflict_…` and `returning(…)`) in the caller's transaction: the bulk path (an import's thousands of rows).
    The statement is compiled once (`Prepared`: give one kept at module level to compile it once per process)
    and run for each row on the driver: on SQLite in one hand-off to
    the connection's thread, on PostgreSQL pipelined by asyncpg's `executemany` — or a round trip per row when it
    must return rows. With `returning`, every row returned, as tuples in the RETURNING order."""
    if not rows:
        return []
    prepared = insert if isinstance(insert, Prepared) else Prepared(insert)
    if engine(conn) == "sqlite":

        def work(raw: sqlite3.Connection) -> list[tuple[Any, ...]]:
            found: list[tuple[Any, ...]] = []
            for row in rows:
                found.extend(tuple(r) for r in raw.execute(*prepared.bind(row)).fetchall())
            return found

        return await sqlite_connection(conn).run_sync(work, writes=True)
    raw = conn.raw_connection  # the transaction's own asyncpg connection
    bound = [prepared.postgres(row) for row in rows]
    sql = bound[0][0]
    if not returning:
        await raw.executemany(sql, [args for _sql, args in bound])
        return []
    return [tuple(record) for _sql, args in bound for record in await raw.fetch(sql, *args)]
