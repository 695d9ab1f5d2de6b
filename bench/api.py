"""The `api` scenario: paging through 100,000 registrations with `GET /api/v1/events/{id}/registrations` (the cursor,
the largest page) against raw asyncpg keyset paging of the same columns, page size and order in the runner."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from bench import fixtures
from bench.harness import Server
from webinar.api import tokens
from webinar.api.spec import PAGE_MOST
from webinar.settings import Settings

SLUG = "bench-api"
COUNT = 100_000
ROUNDS = 3  # alternated with the baseline, the best of each compared (one pass of each swings with the machine)
# The columns the API's registration carries (webinar/api/views.py registration_json), by the same keyset.
BASELINE_SQL = (
    "SELECT id, event_id, email, first_name, last_name, job_title, member_id, organisation, phone, status,"
    " marketing_opt_in, language, created_at, updated_at, decided_at, erased_at FROM registrations"
    " WHERE event_id = $1 AND id > $2 ORDER BY id LIMIT $3"
)


async def add_data(url: str, settings: Settings, event_id: int) -> str:
    """The registrants to page through, and a token of the benchmark's organisation (made as the CLI makes one)."""
    await fixtures.add_registrants(url, event_id, "api", COUNT)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE registrations")  # as autovacuum does to a table at rest, after the bulk load
    finally:
        await conn.close()
    return await tokens.create_from_cli(settings, "bench", "bench api")


def api_pass(server: Server, token: str, event_id: int) -> tuple[float, int, int]:
    """Every page of the event's registrations, one after another as a client syncs: (seconds, rows, pages)."""
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/events/{event_id}/registrations"
    rows = pages = 0
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        params: dict[str, str | int] = {"limit": PAGE_MOST}
        while True:
            response = client.get(path, params=params)
            response.raise_for_status()
            body = response.json()
            rows, pages = rows + len(body["data"]), pages + 1
            if body["next_cursor"] is None:
                break
            params = {"limit": PAGE_MOST, "cursor": body["next_cursor"]}
        return time.perf_counter() - started, rows, pages


async def baseline_pass(url: str, event_id: int) -> tuple[float, int]:
    """The same pages straight from PostgreSQL over one asyncpg connection: (seconds, rows)."""
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        rows, last = 0, 0
        while True:
            page = await conn.fetch(BASELINE_SQL, event_id, last, PAGE_MOST)
            rows += len(page)
            if len(page) < PAGE_MOST:
                return time.perf_counter() - started, rows
            last = page[-1]["id"]
    finally:
        await conn.close()


def run(server: Server, db_url: str, token: str, event_id: int) -> dict:
    passes, bases = [], []
    for _ in range(ROUNDS):
        passes.append(api_pass(server, token, event_id))
        bases.append(asyncio.run(baseline_pass(db_url, event_id)))
    seconds, rows, pages = min(passes)
    base_seconds, base_rows = min(bases)
    rate, base_rate = rows / seconds, base_rows / base_seconds
    ok = rate / base_rate >= 0.5 and rows == base_rows == COUNT
    print(f"  api: {[round(p[0], 2) for p in passes]} s, {pages} pages; asyncpg {[round(b[0], 2) for b in bases]} s")
    return {
        "scenario": "api", "result": round(rate, 1), "unit": f"registrations/s, pages of {PAGE_MOST}",
        "baseline": round(base_rate, 1), "ratio": round(rate / base_rate, 3),
        "target": ">= 0.5 x raw asyncpg keyset paging of the same columns", "pass": ok,
        "registrations": rows, "pages": pages, "seconds": [round(p[0], 3) for p in passes],
        "baseline_seconds": [round(b[0], 3) for b in bases],
    }  # fmt: skip
