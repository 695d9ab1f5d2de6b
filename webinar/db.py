"""Database access: the connection pool, atomic units of work, and engine differences."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
import sqlalchemy as sa
from databases import Database
from databases.core import Connection
from sqlalchemy.dialects import postgresql

from webinar.dbbackends import CachingPostgresBackend, PooledSQLiteBackend, PooledSQLiteConnection, Prepared
from webinar.settings import Settings

SQLITE_CONNECTIONS = 8  # kept open per process: readers run beside the one writer (WAL)


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
                max_size=10,
                timeout=settings.db_timeout_seconds,  # connect timeout: a dead server is a quick 503
                command_timeout=30,
                server_settings={"application_name": "webinar", "timezone": "UTC"},
                reset=_end_open_transaction,
            )
            self.database._backend = CachingPostgresBackend(self.database.url, **self.database.options)

    async def connect(self) -> None:
        await self.database.connect()
        if self.is_sqlite:
            await self.database.execute("PRAGMA journal_mode = WAL")

    async def disconnect(self) -> None:
        if self.database.is_connected:
            await self.database.disconnect()

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
        """One atomic unit of work: `async with db.transaction() as conn:` and pass `conn` down."""
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
                async with conn.transaction():
                    yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for reads that need no transaction."""
        async with self._acquire() as conn:
            yield conn

    async def one(self, query: Prepared, values: dict[str, Any]) -> Any:
        """Run one prepared statement that returns rows (atomic on its own) and return its first row or None: on
        PostgreSQL straight through asyncpg's pool (one round trip), on SQLite through `databases`. Rows of
        either are read by column name."""
        if self.is_sqlite:
            async with self.connection() as conn:
                return await conn.fetch_one(query.statement(values))
        sql, args = query.postgres(values)
        return await self.fetchrow(sql, *args)

    async def run(self, query: Prepared, values: dict[str, Any]) -> None:
        """Run one prepared statement that returns nothing (atomic on its own), as `one` does."""
        if self.is_sqlite:
            async with self.connection() as conn:
                await conn.execute(query.statement(values))
        else:
            sql, args = query.postgres(values)
            await self.fetchrow(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """PostgreSQL only: one raw statement (atomic on its own) straight through asyncpg's pool, for the hot
        paths that need one round trip and none of `databases`' per-task bookkeeping."""
        pool: asyncpg.Pool = self.database._backend._pool
        try:
            conn = await pool.acquire()
        except _CONNECT_FAILURES as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            return await conn.fetchrow(sql, *args)
        except _BROKEN_CONNECTION:
            conn.terminate()  # never back to the pool in an unknown protocol state
            raise
        finally:
            await pool.release(conn)


def alembic_url(url: str) -> str:
    """The SQLAlchemy async URL Alembic uses for the same database."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def dialect_name(conn: Connection) -> str:
    """'sqlite' or 'postgresql' for a connection (databases has no public accessor for it)."""
    name: str = conn._backend._dialect.name  # type: ignore[attr-defined]
    return name


def sqlite_connection(conn: Connection) -> PooledSQLiteConnection:
    """The SQLite connection under a `databases` connection: its write lock and its thread (`run_sync`)."""
    return cast(PooledSQLiteConnection, conn._connection)


def among(conn: Connection, column: Any, values: Collection[Any]) -> Any:
    """`column IN values`, as a statement that is the same whatever the number of values: `= ANY(array)` on
    PostgreSQL (compiled once, prepared once), `IN (…)` on SQLite (which has no arrays)."""
    if dialect_name(conn) == "sqlite":
        return column.in_(list(values))
    return column == sa.any_(sa.literal(list(values), type_=postgresql.ARRAY(column.type)))


def insert_for(conn: Connection, table: Any) -> Any:
    """A dialect-specific INSERT (with `on_conflict_do_…`) for the connection's engine."""
    if dialect_name(conn) == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)
