"""The COPY path writes the very bytes the Python path writes (CSV and sheet XML), for data built to trip it up."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reports import pgcopy
from reports.exporters import EXPORTERS
from reports.forms import Interval
from reports.writer import csv_stream, xlsx_row_chunks
from tests.webinar.question_helpers import add_questions
from webinar.events import queries as event_queries
from webinar.registration import queries as registration_queries
from webinar.tables import answers, consent_records, questions, registrations

# COPY is PostgreSQL's; on SQLite every export takes the Python path, which the other report tests cover.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

UTC = dt.UTC
TRICKY_PEOPLE: list[dict[str, Any]] = [
    {"first_name": 'Ana, "Ani"', "last_name": "Popescu\nIonescu", "organisation": "A;B"},
    {"first_name": "=1+2", "last_name": "+40 721", "job_title": "-minus", "member_id": "@SUM(A1)"},
    {"first_name": "\tTab", "last_name": "\rCR", "organisation": "back\\slash \\n not a newline"},
    {"first_name": "Ștefan Șerban", "last_name": "Țuțuianu\r\nNou", "phone": "", "organisation": None},
    {"first_name": "Şerban", "last_name": "Ţepeş", "job_title": 'quote"inside', "member_id": " spaced "},
    {"first_name": "Zoë", "last_name": "naïve – café ✓", "marketing_opt_in": True},
]


# Answers built to trip the COPY path up too: quotes, separators, line breaks, formula triggers, backslashes; a
# multichoice (stored one option per line, shown joined with "; "), and a removed question whose answers are held.
TRICKY_ANSWERS = [
    ("text", ['=HYPERLINK("x")', "a;b,c", "", "back\\slash", "-1", "Țară"]),
    ("textarea", ["line one\nline two", 'say "hi"', "\ttabbed\nnext", "", "ok", "r\n"]),
    ("multichoice", ["A; B\nC, D", "A; B", "", '"Q"\n=E', "C, D", "A; B\nC, D\n=E"]),
    ("checkbox", ["yes", "no", "yes", "no", "yes", "no"]),
    ("removed", ["@old", "", "old\r\nwindows", "", "x", ""]),
]


async def _answers(db: Any, event_id: int, people: list[int]) -> None:
    ids = await add_questions(
        db, event_id,
        {"kind": "text", "label_en": "Text, with a comma"}, {"kind": "textarea", "label_en": 'Long "quoted"'},
        {"kind": "multichoice", "label_en": "Many", "options": "A; B\nC, D\n=E\n\"Q\""},
        {"kind": "checkbox", "label_en": "Box"}, {"kind": "text", "label_en": "=Removed"},
    )  # fmt: skip
    async with db.transaction() as conn:
        for question_id, (_kind, values) in zip(ids, TRICKY_ANSWERS, strict=True):
            for reg_id, value in zip(people, values, strict=False):
                if value:
                    await conn.execute(
                        answers.insert().values(registration_id=reg_id, question_id=question_id, value=value)
                    )
        await conn.execute(questions.update().where(questions.c.id == ids[-1]).values(removed_at=dt.datetime.now(UTC)))


async def _people(create_registration: Any, db: Any, event_id: int) -> list[int]:
    ids = []
    for n, person in enumerate(TRICKY_PEOPLE):
        ids.append(await create_registration(event_id, email=f'=p{n},"x"@example.org', **person))
    erased = await create_registration(event_id, email="gone@example.org")
    async with db.transaction() as conn:
        await conn.execute(
            registrations.update()
            .where(registrations.c.id == erased)
            .values(email=None, email_normalised=None, first_name=None, last_name=None, erased_at=dt.datetime.now(UTC))
        )
        for reg_id in ids[:4]:  # the others have no consent record: an empty cell
            at = dt.datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC)
            await conn.execute(
                consent_records.insert().values(
                    registration_id=reg_id, event_id=event_id, purpose="processing", action="given", recorded_at=at
                )
            )
    return [*ids, erased]


async def _sessions(create_viewing_session: Any, event_id: int, people: list[int]) -> None:
    # Around the end of summer time in Bucharest (2026-10-25 01:00 UTC), with ties and odd microseconds.
    base = dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    lengths = [9, 3, 15, 0, 89.999999, 3600 * 5 + 27, 0.000001, 2 * 86400 + 1]
    for n, person in enumerate(people):
        for k, seconds in enumerate(lengths):
            start = base + dt.timedelta(minutes=17 * n + k, microseconds=123457 * k)
            end = start + dt.timedelta(seconds=seconds)
            if k == 3:  # still open: its end is the last heartbeat
                await create_viewing_session(event_id, person, start, None, last_seen_at=end, ip="2001:db8::1")
            else:
                await create_viewing_session(event_id, person, start, end, "left" if k % 2 else "timeout")
    # A backwards clock: minutes are never negative.
    await create_viewing_session(event_id, people[0], base, base - dt.timedelta(seconds=5), "logout")


async def _both(db: Any, event_id: int, report: str, interval: Interval, delimiter: str) -> tuple[bytes, bytes]:
    exporter = EXPORTERS[report]
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
        asked = await registration_queries.questions_of(conn, event_id, registration_queries.KEPT)
        asked = asked if exporter.asks_questions else []
        zone = ZoneInfo(event.timezone)
        rows = [row async for row in exporter.iterate(conn, event, interval, asked)]
        header = exporter.header_for(asked)

        async def again() -> Any:
            for row in rows:
                yield row

        python = b"".join([c async for c in csv_stream(header, again(), zone, delimiter)])
        sql, args = exporter.copy_query(event, interval, asked).csv(delimiter)
        counter = pgcopy.Counter()
        chunks = pgcopy.csv_stream(header, zone, delimiter, conn, sql, args, counter)
        copied = b"".join([c async for c in chunks])
    assert counter.rows == len(rows)  # what the audit entry records
    return python, copied


@pytest.mark.parametrize("timezone", ["Europe/Bucharest", "America/St_Johns", "Asia/Kathmandu", "UTC"])
@pytest.mark.parametrize("delimiter", [",", ";"])
async def test_copy_path_gives_the_same_bytes_as_the_python_path(
    database_url, db, create_event, create_registration, create_viewing_session, timezone, delimiter
):
    event_id = await create_event(timezone=timezone)
    people = await _people(create_registration, db, event_id)
    await _answers(db, event_id, people)
    await _sessions(create_viewing_session, event_id, people)
    narrow = Interval(dt.datetime(2026, 10, 25, 0, 45, tzinfo=UTC), dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    for report, interval in [("registered", Interval()), ("traffic", Interval()), ("traffic", narrow)]:
        python, copied = await _both(db, event_id, report, interval, delimiter)
        assert python.count(b"\r\n") > 3
        assert copied == python, (report, interval)
        if report == "registered":  # the answers were there to compare
            assert b"Text, with a comma" in python and b"A; B; C, D" in python and b"'@old" in python


async def _both_xlsx(db: Any, event_id: int, report: str, interval: Interval) -> tuple[bytes, bytes]:
    """The sheet's `<row>` XML from the Python writer and from COPY, for the same rows."""
    exporter = EXPORTERS[report]
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
        asked = await registration_queries.questions_of(conn, event_id, registration_queries.KEPT)
        asked = asked if exporter.asks_questions else []
        zone = ZoneInfo(event.timezone)
        rows = [row async for row in exporter.iterate(conn, event, interval, asked)]

        async def again() -> Any:
            for row in rows:
                yield row

        python = b"".join([c async for c in xlsx_row_chunks(again(), zone)])
        sql, args = exporter.copy_query(event, interval, asked).xlsx()
        counter = pgcopy.Counter()
        copied = b"".join([c async for c in pgcopy.xlsx_rows(conn, zone, sql, args, counter)])
    assert counter.rows == len(rows)
    return python, copied


@pytest.mark.parametrize("timezone", ["Europe/Bucharest", "America/St_Johns", "Asia/Kathmandu", "UTC"])
async def test_copy_path_writes_the_same_sheet_xml_as_the_python_path(
    database_url, db, create_event, create_registration, create_viewing_session, timezone
):
    event_id = await create_event(timezone=timezone)
    people = await _people(create_registration, db, event_id)
    await _answers(db, event_id, people)
    await _sessions(create_viewing_session, event_id, people)
    async with db.transaction() as conn:  # characters XML cannot carry, and the ones it must escape
        await conn.execute(
            registrations.update()
            .where(registrations.c.id == people[1])
            .values(organisation="<b>A&B</b>\x01\x1f\ufffe", job_title="\x02", phone="\x03=1")
        )
    narrow = Interval(dt.datetime(2026, 10, 25, 0, 45, tzinfo=UTC), dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    for report, interval in [("registered", Interval()), ("traffic", Interval()), ("traffic", narrow)]:
        python, copied = await _both_xlsx(db, event_id, report, interval)
        assert python.count(b"</row>\n") > 3
        assert copied == python, (report, interval)
    python, _ = await _both_xlsx(db, event_id, "registered", Interval())
    assert b"&lt;b&gt;A&amp;B&lt;/b&gt;</t>" in python and b"'=1</t>" in python and b"&#13;" in python
    assert b"\x01" not in python and b"'@old" in python


async def test_an_abandoned_copy_download_frees_its_connection_at_once(
    database_url, db, create_event, create_registration, create_viewing_session
):
    event_id = await create_event()
    people = await _people(create_registration, db, event_id)
    await _sessions(create_viewing_session, event_id, people)
    exporter = EXPORTERS["traffic"]
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
        sql, args = exporter.copy_query(event, Interval()).csv(",")
        sql = sql.replace(" WHERE ", " CROSS JOIN generate_series(1, 100000) WHERE ")  # a long copy
        stream = pgcopy.copy_lines(conn, "Asia/Kathmandu", sql, args, pgcopy.Counter())
        first = await anext(stream)
        assert first.endswith(b"\r\n")
        await stream.aclose()  # what Starlette does when the client goes away
    # The connection was closed (asyncpg refuses a query on it for a moment after a cancelled COPY): PostgreSQL
    # stops the COPY as the socket goes, and every connection left in the pool is ready, in UTC.
    async with db.connection() as conn:
        for _ in range(100):  # the server notices the closed socket on its next write
            running = await conn.fetch_val(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                " AND query LIKE '%generate_series(1, 100000)%'"
            )
            if running == 0:
                break
            await asyncio.sleep(0.02)
        assert running == 0
    assert await _pool_time_zones(db) == {"UTC"}


async def _pool_time_zones(db: Any) -> set[str]:
    """The TimeZone of every connection in the pool (all idle: each is taken once)."""
    pool = db.database._backend._pool
    held = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        return {await c.fetchval("SHOW TimeZone") for c in held}
    finally:
        for c in held:
            await pool.release(c)


async def test_an_export_in_the_events_zone_hands_its_connection_back_in_utc(
    database_url, db, create_event, create_registration
):
    event_id = await create_event(timezone="America/St_Johns")
    await _people(create_registration, db, event_id)
    exporter = EXPORTERS["registered"]
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
        sql, args = exporter.copy_query(event, Interval()).csv(",")
        chunks = [c async for c in pgcopy.copy_lines(conn, event.timezone, sql, args, pgcopy.Counter())]
        assert b"-03:30" in chunks[0] or b"-02:30" in chunks[0]
        assert await conn.fetch_val("SHOW TimeZone") == "America/St_Johns"  # the session's, for the COPY
    assert await _pool_time_zones(db) == {"UTC"}  # what every later user of the pool gets
