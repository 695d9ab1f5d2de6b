"""The hot paths' statement pool on a real PostgreSQL: bounded, fair, and never reusing a connection it cannot trust."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from webinar.db import DatabaseUnavailable, StatementPool


async def _server_connections(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'webinar' AND datname = current_database()"
        )
        return count
    finally:
        await conn.close()


async def test_more_statements_than_connections_all_run_on_at_most_size_connections(pg_url):
    pool = StatementPool(pg_url, 3, 5)
    try:
        rows = await asyncio.gather(*(pool.fetchrow("SELECT $1::int AS n, pg_sleep(0.01)", n) for n in range(40)))
        assert [row["n"] for row in rows] == list(range(40))
        assert await _server_connections(pg_url) == 3
        backends = {(await pool.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"] for _ in range(10)}
        assert len(backends) == 1  # idle connections are reused, not reopened
    finally:
        await pool.close()
    assert await _settled_connections(pg_url, 0) == 0


async def test_a_refused_statement_keeps_its_connection_and_a_cancelled_one_closes_it(pg_url):
    pool = StatementPool(pg_url, 1, 5)
    try:
        pid = (await pool.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"]
        with pytest.raises(asyncpg.UndefinedTableError):
            await pool.fetchrow("SELECT * FROM no_such_table")
        assert (await pool.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"] == pid
        slow = asyncio.create_task(pool.fetchrow("SELECT pg_sleep(5)"))
        waiting = asyncio.create_task(pool.fetchrow("SELECT pg_backend_pid() AS pid"))
        await asyncio.sleep(0.2)
        slow.cancel()  # mid-statement: the connection's state is unknown, so it is closed
        with pytest.raises(asyncio.CancelledError):
            await slow
        new_pid = (await asyncio.wait_for(waiting, 5))["pid"]  # the waiter was given the freed slot
        assert new_pid != pid
    finally:
        await pool.close()
        await _end_backends(pg_url)  # the cancelled pg_sleep's backend runs on until it notices its client is gone


async def _end_backends(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'webinar' AND datname = current_database()"
        )
    finally:
        await conn.close()
    assert await _settled_connections(url, 0) == 0


async def test_an_unreachable_server_is_database_unavailable_and_frees_the_slot(pg_url):
    pool = StatementPool("postgresql://postgres@127.0.0.1:1/nowhere", 1, 2)
    for _ in range(2):  # the failed attempt gave its slot back: the second one tries again instead of waiting
        with pytest.raises(DatabaseUnavailable):
            await asyncio.wait_for(pool.fetchrow("SELECT 1"), 10)


async def test_closing_waits_for_no_statement_and_closes_each_connection_as_it_comes_back(pg_url):
    pool = StatementPool(pg_url, 2, 5)
    await asyncio.gather(*(pool.fetchrow("SELECT pg_sleep(0.05)") for _ in range(2)))  # two idle connections
    running = asyncio.create_task(pool.fetchrow("SELECT pg_sleep(0.5) AS slept"))
    await asyncio.sleep(0.1)
    await pool.close()
    assert await _settled_connections(pg_url, 1) == 1  # the idle one is gone, the busy one is finishing
    assert (await running) is not None  # the statement finished normally
    assert await _settled_connections(pg_url, 0) == 0


async def _settled_connections(url: str, expected: int) -> int:
    """The server's count of our connections once it reaches `expected` (a closed socket takes a moment to be
    noticed), or after two seconds."""
    for _ in range(40):
        count = await _server_connections(url)
        if count == expected:
            break
        await asyncio.sleep(0.05)
    return count
