"""The `databases` backends we run on: compiled statements cached, SQLite connections kept open, SQLite writes
taken in turn."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import aiosqlite
from databases.backends.common.records import Record, Row, create_column_maps
from databases.backends.dialects.psycopg import PGDialect_psycopg
from databases.backends.postgres import PostgresBackend, PostgresConnection
from databases.backends.sqlite import CompilationContext, SQLiteBackend, SQLiteConnection
from sqlalchemy.engine.cursor import CursorResultMetaData
from sqlalchemy.sql.ddl import DDLElement
from sqlalchemy.sql.dml import UpdateBase, ValuesBase
from sqlalchemy.sql.elements import ClauseElement, TextClause
from sqlalchemy.util import LRUCache

from webinar.stopping import to_the_end

# `databases` compiles every statement from scratch, which was a fifth of the CPU of a page like the stream page.
# SQLAlchemy's own statement cache (what its engines use) keys a compiled statement by the statement's shape and
# pulls this execution's values out of it. This leans on SQLAlchemy 2.1's internals (`_compile_w_cache`), hence
# the pin in pyproject.toml; the whole test suite runs through it on both engines.
_COMPILED: LRUCache[Any, Any] = LRUCache(1000)
T = TypeVar("T")


def _cached(query: ClauseElement, dialect: Any) -> tuple[Any, dict[str, Any]] | None:
    """(compiled statement, this execution's parameters), or None when the statement must be compiled anew."""
    if isinstance(query, DDLElement):
        return None
    compiled: Any
    compiled, extracted, param_dict, _hit = query._compile_w_cache(dialect, compiled_cache=_COMPILED, column_keys=[])
    if compiled.post_compile_params:  # IN (…) lists: their length is part of the SQL text
        return None
    params = compiled.construct_params(extracted_parameters=extracted, _collected_params=param_dict, _check=False)
    return compiled, params


def _bind(compiled: Any, keys: Any, params: dict[str, Any]) -> list[Any]:
    processors = compiled._bind_processors
    return [processors[key](params[key]) if key in processors else params[key] for key in keys]


def _numbered(compiled: Any, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """A statement compiled for PostgreSQL (pyformat) as asyncpg takes it: $n placeholders and their values."""
    plan = compiled.__dict__.get("_webinar_pg")
    if plan is None:
        keys = sorted(params)
        text = compiled.string % {key: f"${i}" for i, key in enumerate(keys, start=1)}
        plan = compiled.__dict__["_webinar_pg"] = (text, keys)
    text, keys = plan
    return text, _bind(compiled, keys, params)


class CachingPostgresConnection(PostgresConnection):
    """`databases`' PostgreSQL connection, compiling each statement shape once."""

    def _compile(self, query: ClauseElement) -> tuple[str, list[Any], Any]:
        text, args, result_columns, _maps = self._compile_with_maps(query)
        return text, args, result_columns

    def _compile_with_maps(self, query: ClauseElement) -> tuple[str, list[Any], Any, Any]:
        """`databases` builds a record's column maps anew for every query (a str() of each column: a tenth of the
        stream page's CPU); a cached statement keeps its maps."""
        found = _cached(query, self._dialect)
        if found is None:
            text, args, result_columns = super()._compile(query)
            return text, args, result_columns, None
        compiled, params = found
        text, args = _numbered(compiled, params)
        maps = compiled.__dict__.get("_webinar_maps")
        if maps is None:
            maps = compiled.__dict__["_webinar_maps"] = create_column_maps(compiled._result_columns)
        return text, args, compiled._result_columns, maps

    async def fetch_all(self, query: ClauseElement) -> list[Any]:
        assert self._connection is not None, "Connection is not acquired"
        text, args, result_columns, maps = self._compile_with_maps(query)
        rows = await self._connection.fetch(text, *args)
        maps = maps or create_column_maps(result_columns)
        return [Record(row, result_columns, self._dialect, maps) for row in rows]

    async def fetch_one(self, query: ClauseElement) -> Any:
        assert self._connection is not None, "Connection is not acquired"
        text, args, result_columns, maps = self._compile_with_maps(query)
        row = await self._connection.fetchrow(text, *args)
        if row is None:
            return None
        return Record(row, result_columns, self._dialect, maps or create_column_maps(result_columns))


class _CacheablePostgresDialect(PGDialect_psycopg):
    """`databases`' dialect, declared fit for SQLAlchemy's statement cache (it only adds types and bind formats)."""

    supports_statement_cache = True


class CachingPostgresBackend(PostgresBackend):
    def _get_dialect(self) -> Any:
        dialect = super()._get_dialect()
        dialect.__class__ = _CacheablePostgresDialect
        return dialect

    def connection(self) -> CachingPostgresConnection:
        return CachingPostgresConnection(self, self._dialect)


class _SQLitePool:
    """Open aiosqlite connections (a thread each) kept for reuse, instead of one opened per unit of work."""

    def __init__(self, database: str, size: int, **options: Any) -> None:
        self.database, self.size, self.options = database, size, options
        self.idle: list[aiosqlite.Connection] = []
        self._memref = None  # what SQLiteBackend.disconnect looks for (shared in-memory databases; not used here)
        self.slots = asyncio.Semaphore(size)

    async def acquire(self) -> aiosqlite.Connection:
        await self.slots.acquire()
        if self.idle:
            return self.idle.pop()
        try:
            connection = aiosqlite.connect(database=self.database, isolation_level=None, **self.options)
            await connection.__aenter__()
        except BaseException:
            self.slots.release()
            raise
        return connection

    async def release(self, connection: aiosqlite.Connection) -> None:
        try:
            if connection.in_transaction:  # a unit of work that ended without COMMIT or ROLLBACK
                # To the end even at a stop: a connection neither kept nor closed keeps its thread, which is not a
                # daemon, and the process then cannot exit.
                await to_the_end(connection.rollback())
            self.idle.append(connection)
        except BaseException as exc:  # a broken connection is closed, not kept; a stop goes on once it is
            with contextlib.suppress(Exception):
                await to_the_end(connection.close())
            if not isinstance(exc, Exception):
                raise
        finally:
            self.slots.release()

    async def close(self) -> None:
        while self.idle:
            await self.idle.pop().close()


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _writes(query: ClauseElement) -> bool:
    if isinstance(query, TextClause):
        return query.text.lstrip()[:7].upper().startswith(_WRITE_VERBS)
    return isinstance(query, UpdateBase)


class PooledSQLiteConnection(SQLiteConnection):
    """`databases`' SQLite connection, with the statement cache, on a kept-open connection.

    SQLite has one writer. A write that finds the database locked sleeps in SQLite's busy handler (1, 2, 5, 10,
    … ms), while whoever holds the lock may already be done: under a rush the process sat idle in those sleeps.
    So every write of the process waits its turn on one asyncio lock instead: a transaction (`DB.transaction`)
    holds it from BEGIN to COMMIT, and a single write outside one takes it for that statement.
    """

    def __init__(self, pool: Any, dialect: Any, write_lock: asyncio.Lock) -> None:
        super().__init__(pool, dialect)
        self.write_lock = write_lock
        self.holds_write_lock = False

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold the process's write lock (for a whole transaction)."""
        async with self.write_lock:
            self.holds_write_lock = True
            try:
                yield
            finally:
                self.holds_write_lock = False

    async def run_sync(self, fn: Callable[[sqlite3.Connection], T], writes: bool = False) -> T:
        """Run `fn(sqlite3 connection)` in the connection's thread: several statements for one hand-off
        (`writes`: it writes, so it takes its turn unless this connection holds the write lock already)."""
        assert self._connection is not None, "Connection is not acquired"
        raw: sqlite3.Connection = self._connection._conn
        async with self.write_lock if writes and not self.holds_write_lock else contextlib.nullcontext():
            result: T = await self._connection._execute(fn, raw)  # type: ignore[no-untyped-call]
        return result

    async def _run(self, query: ClauseElement, fetch: str) -> Any:
        """Execute, fetch and close in one trip to the connection's thread (aiosqlite's cursor API makes three:
        execute, fetch, close; each a thread hand-off and a wake-up of the event loop). Records for "one" and
        "all", (lastrowid, rowcount) for "none"."""
        sql, args, result_columns, context = self._compile(query)

        def run(raw: sqlite3.Connection) -> tuple[list[Any], Any, Any, int]:
            cursor = raw.execute(sql, args)
            try:
                rows = cursor.fetchall() if fetch == "all" else cursor.fetchmany(1) if fetch == "one" else []
                return rows, cursor.description, cursor.lastrowid, cursor.rowcount
            finally:
                cursor.close()

        rows, description, lastrowid, rowcount = await self.run_sync(run, writes=_writes(query))
        if fetch == "none":
            return lastrowid, rowcount
        metadata: Any = CursorResultMetaData(context, description)
        maps = create_column_maps(result_columns)
        return [
            Record(Row(metadata, metadata._processors, metadata._keymap, row), result_columns, self._dialect, maps)
            for row in rows
        ]

    async def fetch_all(self, query: ClauseElement) -> Any:
        return await self._run(query, "all")

    async def fetch_one(self, query: ClauseElement) -> Any:
        records = await self._run(query, "one")
        return records[0] if records else None

    async def execute(self, query: ClauseElement) -> Any:
        lastrowid, rowcount = await self._run(query, "none")
        return rowcount if lastrowid == 0 else lastrowid

    def _compile(self, query: ClauseElement) -> Any:
        found = _cached(query, self._dialect)
        if found is None:
            return super()._compile(query)
        compiled, params = found
        context: Any = self._dialect.execution_ctx_cls()
        context.dialect = self._dialect
        context.result_column_struct = (
            compiled._result_columns,
            compiled._ordered_columns,
            compiled._textual_ordered_columns,
            compiled._ad_hoc_textual,
            compiled._loose_column_name_matching,
        )
        args = _bind(compiled, compiled.positiontup, params)
        return compiled.string, args, compiled._result_columns, CompilationContext(context)


class PooledSQLiteBackend(SQLiteBackend):
    def __init__(self, database_url: str, *, pool_size: int, **options: Any) -> None:
        super().__init__(database_url, **options)
        self._pool = _SQLitePool(self._pool._database, pool_size, **options)  # type: ignore[assignment]
        self.write_lock = asyncio.Lock()

    def connection(self) -> PooledSQLiteConnection:
        return PooledSQLiteConnection(self._pool, self._dialect, self.write_lock)

    async def disconnect(self) -> None:
        await self._pool.close()  # type: ignore[attr-defined]
        await super().disconnect()


class Prepared:
    """A statement compiled once per engine (per set of columns, for an INSERT), to run on the driver directly:
    `bind(values)` is the SQLite SQL and its arguments (for `PooledSQLiteConnection.run_sync`), `postgres(values)`
    the PostgreSQL SQL ($n placeholders) and its arguments (for asyncpg), values given by column or `bindparam`
    name and converted by their types as SQLAlchemy would; `statement(values)` is the same for `databases`."""

    def __init__(self, statement: Any, for_databases: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, frozenset[str]], Any] = {}
        # How `statement(values)` builds it for `databases` when `.values(**values)` cannot: an UPDATE whose SET and
        # WHERE name their own bind parameters (SQLAlchemy offers no `.params()` for INSERT/UPDATE/DELETE).
        self._for_databases = for_databases

    def _compile(self, dialect: Any, values: dict[str, Any]) -> Any:
        key = (dialect.name, frozenset(values))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._statement.compile(dialect=dialect, column_keys=list(values))
        return compiled

    def bind(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        compiled = self._compile(_SQLITE_DIALECT, values)
        return compiled.string, _bind(compiled, compiled.positiontup, compiled.construct_params(values, _check=False))

    def postgres(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        compiled = self._compile(_PG_DIALECT, values)
        return _numbered(compiled, compiled.construct_params(values, _check=False))

    def statement(self, values: dict[str, Any]) -> Any:
        if self._for_databases is not None:
            return self._for_databases(values)
        if isinstance(self._statement, ValuesBase):
            return self._statement.values(**values)
        return self._statement.params(**values)


_SQLITE_DIALECT: Any = SQLiteBackend("sqlite://")._dialect
_PG_DIALECT: Any = CachingPostgresBackend("postgresql://")._dialect
