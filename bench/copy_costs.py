"""`python -m bench.copy_costs DB_URL EVENT_ID`: what each conversion of traffic.csv's COPY query costs, in PostgreSQL.

Each variant is `COPY (…) TO '/dev/null'` on the server (no client, no network), the best of three: the raw columns
of the `export` baseline, the join alone, each cell's conversion on its own, then the whole query as the app runs it
(reports/pgcopy.py). Run it on the database the `export` scenario leaves behind (`webinar_bench` or BENCH_DB_NAME).
"""

from __future__ import annotations

import asyncio
import sys
import time
from types import SimpleNamespace

import asyncpg

from reports import pgcopy
from reports.forms import Interval

ROUNDS = 3
FROM = "FROM viewing_sessions vs JOIN registrations r ON r.id = vs.registration_id WHERE vs.event_id = $1"


def variants() -> dict[str, str]:
    length = "coalesce(vs.ended_at, vs.last_seen_at) - vs.started_at"
    numeric = f"((greatest((extract(epoch FROM {length}) * 1000000)::bigint, 0) + 3000000) / 6000000)"  # before
    rpad = "rpad(date_trunc('second', {})::text, 25, ':00')"  # the same text, with DateStyle ISO: not cheaper
    raw = "r.email, r.first_name, r.last_name, vs.started_at, vs.ended_at, vs.ip, vs.end_reason"
    return {
        "sessions alone (ids)": "SELECT vs.id FROM viewing_sessions vs WHERE vs.event_id = $1 ORDER BY vs.id",
        "join, ids": f"SELECT vs.id {FROM} ORDER BY vs.id",
        "raw columns (baseline)": f"SELECT {raw} {FROM} ORDER BY vs.id",
        "raw columns as one text": f"SELECT concat_ws(',', {raw}) {FROM} ORDER BY vs.id",
        "text cells x5": "SELECT "
        + " || ',' || ".join(
            pgcopy.text_cell(e, ",") for e in ("r.email", "r.first_name", "r.last_name", "vs.ip", "vs.end_reason")
        )
        + f" {FROM} ORDER BY vs.id",
        "time cells x2 (to_char)": f"SELECT {pgcopy.time_cell('vs.started_at')} || ',' || "
        f"{pgcopy.time_cell('vs.ended_at')} {FROM} ORDER BY vs.id",
        "time cells x2 (rpad ::text)": f"SELECT {rpad.format('vs.started_at')} || ',' || {rpad.format('vs.ended_at')}"
        f" {FROM} ORDER BY vs.id",
        "minutes (numeric extract)": f"SELECT {numeric} {FROM} ORDER BY vs.id",
        "minutes (float date_part)": f"SELECT {pgcopy._tenths(length)} {FROM} ORDER BY vs.id",
    }


async def _time(conn: asyncpg.Connection, sql: str, args: list[object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await conn.execute(f"COPY ({_literal(sql, args)}) TO '/dev/null'")
        best = min(best, time.perf_counter() - started)
    return best


def _literal(sql: str, args: list[object]) -> str:
    for n in range(len(args), 0, -1):  # COPY takes no parameters: the event id and the bounds written in
        value = args[n - 1]
        sql = sql.replace(f"${n}", str(value) if isinstance(value, int) else f"'{value}'")
    return sql


async def main(url: str, event_id: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET TimeZone = 'Europe/Bucharest'; SET DateStyle = 'ISO, YMD'")
        for name, sql in variants().items():
            print(f"{name:28} {await _time(conn, sql, [event_id]):6.2f} s", flush=True)
        query = pgcopy.traffic_query(SimpleNamespace(id=event_id), Interval())  # type: ignore[arg-type]  # reads the id
        sql, args = query.csv(",")
        print(f"{'traffic.csv (the app)':28} {await _time(conn, sql, args):6.2f} s")
        sql, args = query.xlsx()
        print(f"{'traffic.xlsx rows (the app)':28} {await _time(conn, sql, args):6.2f} s")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
