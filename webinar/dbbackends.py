"""The `databases` backends we run on: compiled statements cached, and SQLite connections kept open."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiosqlite
from databases.backends.dialects.psycopg import PGDialect_psycopg
from databases.backends.postgres import PostgresBackend, PostgresConnection
from databases.backends.sqlite import CompilationContext, SQLiteBackend, SQLiteConnection
from sqlalchemy.sql.ddl import DDLElement
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.util import LRUCache

# `databases` compiles every statement from scratch, which was a fifth of the CPU of a page like the stream page.
# SQLAlchemy's own statement cache (what its engines use) keys a compiled statement by the statement's shape and
# pulls this execution's values out of it. This leans on SQLAlchemy 2.1's internals (`_compile_w_cache`), hence
# the pin in pyproject.toml; the whole test suite runs through it on both engines.
_COMPILED: LRUCache[Any, Any] = LRUCache(1000)


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


class CachingPostgresConnection(PostgresConnection):
    """`databases`' PostgreSQL connection, compiling each statement shape once."""

    def _compile(self, query: ClauseElement) -> tuple[str, list[Any], Any]:
        found = _cached(query, self._dialect)
        if found is None:
            return super()._compile(query)
        compiled, params = found
        plan = compiled.__dict__.get("_webinar_pg")
        if plan is None:
            keys = sorted(params)
            text = compiled.string % {key: f"${i}" for i, key in enumerate(keys, start=1)}
            plan = compiled.__dict__["_webinar_pg"] = (text, keys)
        text, keys = plan
        return text, _bind(compiled, keys, params), compiled._result_columns


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
                await connection.rollback()
            self.idle.append(connection)
        except Exception:
            with contextlib.suppress(Exception):
                await connection.close()
        finally:
            self.slots.release()

    async def close(self) -> None:
        while self.idle:
            await self.idle.pop().close()


class PooledSQLiteConnection(SQLiteConnection):
    """`databases`' SQLite connection, with the statement cache, on a kept-open connection."""

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

    def connection(self) -> PooledSQLiteConnection:
        return PooledSQLiteConnection(self._pool, self._dialect)

    async def disconnect(self) -> None:
        await self._pool.close()  # type: ignore[attr-defined]
        await super().disconnect()
