"""The `attendance` scenario: attendance.csv (every registrant's verdict) against psql's \\copy of the same query."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from typing import Any

from bench.export import best, download, staff_client, xlsx_row
from bench.harness import Server
from webinar.attendance import queries as attendance
from webinar.events.queries import Event

ROUNDS = 3


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return f"timestamptz '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def verdict_sql(event: Event) -> str:
    """The verdict statement the export runs, its parameters written in (psql's \\copy takes no parameters)."""
    sql, args = attendance.postgres_sql(event)
    for n in range(len(args), 0, -1):  # $12 before $1
        sql = sql.replace(f"${n}", _literal(args[n - 1]))
    return sql


def psql_copy(db_url: str, sql: str) -> tuple[float, int]:
    """psql \\copy of the verdicts to stdout: (seconds, bytes)."""
    started = time.perf_counter()
    out = subprocess.run(["psql", db_url, "-c", f"\\copy ({sql}) to stdout csv"], capture_output=True, check=True)
    return time.perf_counter() - started, len(out.stdout)


def run(server: Server, db_url: str, event: Event, registrants: int, sessions: int) -> list[dict]:
    client = staff_client(server)
    path = f"/admin/events/{event.id}/reports/attendance.csv"
    sql = verdict_sql(event)
    download(server, client, path)  # warm-up
    copies, exports = [], []
    for _ in range(ROUNDS):  # alternated, the best of each compared (the machine is shared)
        copies.append(psql_copy(db_url, " ".join(sql.split())))
        exports.append(download(server, client, path))
    base_seconds, base_bytes = min(copies)
    fastest = best(exports)
    xlsx = best([download(server, client, f"/admin/events/{event.id}/reports/attendance.xlsx") for _ in range(ROUNDS)])
    rate, base_rate = registrants / fastest["seconds"], registrants / base_seconds
    ok = rate / base_rate >= 0.5 and fastest["lines"] == registrants + 1 and fastest["rss_growth_mb"] < 50
    print(f"  attendance: attendance.csv {fastest}; psql \\copy {base_seconds:.2f} s ({base_bytes} bytes); xlsx {xlsx}")
    return [{
        "scenario": "attendance", "result": round(rate), "unit": "registrants/s (attendance.csv)",
        "baseline": round(base_rate), "ratio": round(rate / base_rate, 3),
        "target": ">= 0.5 x psql \\copy of the same query, memory growth < 50 MB", "pass": ok,
        "registrants": registrants, "sessions": sessions, "attendance_csv": fastest,
        "psql_copy_seconds": round(base_seconds, 2), "psql_copy_all_seconds": [round(c[0], 2) for c in copies],
        "attendance_xlsx": xlsx,
    }, xlsx_row("attendance", {"attendance": (fastest, xlsx)})]  # fmt: skip
