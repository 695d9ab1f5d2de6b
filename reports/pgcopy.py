"""CSV exports written by PostgreSQL: `COPY (SELECT <one finished CSV line per row>) TO STDOUT`, streamed.

Pulling rows through Python and the csv module runs at a fraction of COPY's speed, so on PostgreSQL the
query itself neutralises formulas, formats times in the event's zone with their offset (to_char under the
session's TimeZone, set to the event's for the COPY), rounds minutes and
quotes fields exactly as `reports.writer` does (tests/reports/test_copy_export.py holds the two paths to the
same bytes). Each row is one text column; COPY's text format then escapes only backslashes and control
characters, so every raw LF in its output ends a row: those become CRLF, then the escapes are undone.
The rows reach the response through a bounded queue, so memory stays flat, and a download the client
abandons cancels the COPY and closes its connection at once. SQLite keeps the Python path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from databases.core import Connection

from reports.forms import Interval
from reports.writer import BOM, encode_rows
from webinar.attendance import queries as attendance
from webinar.events.queries import Event
from webinar.registration import fields
from webinar.registration.questions import MULTICHOICE, SHOWN_SEPARATOR, STORED_SEPARATOR, Question
from webinar.tables import UNCONFIRMED

QUEUE_CHUNKS = 8
_ESCAPE = re.compile(rb"\\([\\bfnrtv])")
_UNESCAPED = {b"\\": b"\\", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def text_cell(expr: str, delimiter: str) -> str:
    """SQL for a text cell: NULL/'' empty, formula triggers prefixed with ', quoted when the csv module would."""
    # Each test runs once per cell: the prefix ' adds nothing that needs quoting, so the value itself decides.
    trigger = f"left({expr}, 1) IN ('-', '=', '+', '@', chr(9), chr(13))"
    neutral = f"(CASE WHEN {trigger} THEN '''' || {expr} ELSE {expr} END)"
    needs_quotes = f"{expr} ~ '[\"{delimiter}\\r\\n]'"
    quoted = f"'\"' || replace({neutral}, '\"', '\"\"') || '\"'"
    return f"(CASE WHEN coalesce({expr}, '') = '' THEN '' WHEN {needs_quotes} THEN {quoted} ELSE {neutral} END)"


def time_cell(expr: str) -> str:
    """SQL for a time as `2026-11-22 14:05:00+02:00` in the session's zone, which `copy_lines` sets to the event's
    (an offset with seconds, from before 1900, would lose them: no session or registration is that old)."""
    return f"(CASE WHEN {expr} IS NULL THEN '' ELSE to_char({expr}, 'YYYY-MM-DD HH24:MI:SSTZH:TZM') END)"


def minutes_cell(start: str, end: str, delimiter: str) -> str:
    """SQL for whole-session minutes to one decimal, as `queries.minutes_between` rounds them."""
    tenths = f"((greatest((extract(epoch FROM {end} - {start}) * 1000000)::bigint, 0) + 3000000) / 6000000)"
    point = "," if delimiter == ";" else "."
    return f"(({tenths} / 10)::text || '{point}' || ({tenths} % 10)::text)"


def _line(cells: list[str], delimiter: str) -> str:
    if delimiter not in (",", ";"):  # it is written into the SQL: only the two separators we offer
        raise ValueError(f"unsupported delimiter {delimiter!r}")
    return f" || '{delimiter}' || ".join(cells)


def _personal_cells(report: str, delimiter: str) -> list[str]:
    # The declared names are identifiers of our own (registration/fields.py), never anything a request sent.
    return [text_cell(f"r.{field.name}", delimiter) for field in fields.report_fields(report)]


def traffic_query(event: Event, interval: Interval, delimiter: str) -> tuple[str, list[Any]]:
    """The traffic report's rows as CSV lines (sessions overlapping the interval, by id)."""
    d = delimiter
    ip = "(CASE WHEN r.erased_at IS NULL THEN vs.ip END)"
    end = "coalesce(vs.ended_at, vs.last_seen_at)"
    cells = [
        *_personal_cells(fields.TRAFFIC, d),
        time_cell("vs.started_at"), time_cell("vs.ended_at"), minutes_cell("vs.started_at", end, d),
        text_cell(ip, d), text_cell("vs.end_reason", d),
    ]  # fmt: skip
    args: list[Any] = [event.id]
    where = ["vs.event_id = $1"]
    if interval.end is not None:
        args.append(interval.end)
        where.append(f"vs.started_at < ${len(args)}")
    if interval.start is not None:
        args.append(interval.start)
        where.append(f"({end} > ${len(args)} OR vs.started_at >= ${len(args)})")
    tables = "viewing_sessions vs JOIN registrations r ON r.id = vs.registration_id"
    sql = f"SELECT {_line(cells, d)} FROM {tables} WHERE {' AND '.join(where)} ORDER BY vs.id"  # noqa: S608  # nosec B608 - only constants and the checked delimiter; values are bound
    return sql, args


def _answers(questions: Sequence[Question], delimiter: str, args: list[Any]) -> tuple[list[str], str]:
    """The cells of the questions' answers (`Question.shown`: a multichoice's lines joined with '; ') and the join
    that reads them: one pass over a registrant's answers, each question's id a bound argument."""
    if not questions:
        return [], ""
    picks, cells = [], []
    for k, question in enumerate(questions):
        args.append(question.id)
        picks.append(f"max(a.value) FILTER (WHERE a.question_id = ${len(args)}) AS a{k}")
        value = f"ans.a{k}"
        if question.kind == MULTICHOICE:
            value = f"replace({value}, chr({ord(STORED_SEPARATOR)}), '{SHOWN_SEPARATOR}')"
        cells.append(text_cell(value, delimiter))
    picked = ", ".join(picks)
    join = f" LEFT JOIN LATERAL (SELECT {picked} FROM answers a WHERE a.registration_id = r.id) ans ON true"  # noqa: S608  # nosec B608 - only constants; the ids are bound
    return cells, join


def registered_query(
    event: Event, interval: Interval, delimiter: str, questions: Sequence[Question] = ()
) -> tuple[str, list[Any]]:
    """The registered report's rows as CSV lines (not erased, by id; never the password), then the answers."""
    d = delimiter
    consent = (
        "(SELECT max(cr.recorded_at) FROM consent_records cr WHERE cr.registration_id = r.id"
        " AND cr.purpose = 'processing' AND cr.action = 'given')"
    )
    cells = [*_personal_cells(fields.REGISTERED, d), text_cell("r.status", d)]
    cells += [time_cell("r.created_at"), time_cell(consent)]
    cells.append("(CASE WHEN r.marketing_opt_in THEN 'yes' ELSE 'no' END)")
    args: list[Any] = [event.id]
    answer_cells, answers = _answers(questions, d, args)
    cells += answer_cells
    where = f"r.event_id = $1 AND r.erased_at IS NULL AND r.status <> '{UNCONFIRMED}'"  # not registered yet (§15)
    sql = f"SELECT {_line(cells, d)} FROM registrations r{answers} WHERE {where} ORDER BY r.id"  # noqa: S608  # nosec B608 - only constants and the checked delimiter; values are bound
    return sql, args


def attendance_query(event: Event, delimiter: str) -> tuple[str, list[Any]]:
    """The attendance report's rows as CSV lines: the verdict statement itself (webinar/attendance/queries.py,
    compiled for PostgreSQL), its numbers written as `Verdict` writes them (whole minutes, rounded down)."""
    d = delimiter
    verdicts, args = attendance.postgres_sql(event)
    cells = [
        *(text_cell(f"v.{field.name}", d) for field in fields.report_fields(fields.ATTENDANCE)),
        "floor(v.seconds_live / 60)::bigint::text", "floor(v.seconds_replay / 60)::bigint::text",
        "v.checks_shown::text", "v.checks_answered::text", "(CASE WHEN v.qualifies THEN 'yes' ELSE 'no' END)",
    ]  # fmt: skip
    if event.evaluation:  # the final evaluation's columns, as AttendanceExporter writes them
        cells += ["coalesce(v.evaluation_score::text, '')", "(CASE WHEN v.evaluation_passed THEN 'yes' ELSE 'no' END)"]
    cells.append(text_cell("v.certificate", d))
    sql = f"SELECT {_line(cells, d)} FROM ({verdicts}) v ORDER BY v.id"  # noqa: S608  # nosec B608 - our own compiled statement and the checked delimiter; values are bound
    return sql, args


class Counter:
    """How many rows went out (each row ends in exactly one raw LF)."""

    rows = 0


async def copy_lines(conn: Connection, zone: str, sql: str, args: list[Any], counter: Counter) -> AsyncIterator[bytes]:
    """The rows of `sql` as CRLF-terminated CSV bytes, streamed from COPY through a bounded queue, with times in
    `zone` (the session's TimeZone, which the pool puts back to UTC when it takes the connection back: db.py)."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)

    async def sink(data: bytes) -> None:
        await queue.put(data)

    async def produce() -> None:
        try:
            await conn.raw_connection.execute("SELECT set_config('TimeZone', $1, false)", zone)
            await conn.raw_connection.copy_from_query(sql, *args, output=sink)
        except asyncio.CancelledError:
            raise  # the consumer is gone: nobody waits for the end marker
        except BaseException:
            await queue.put(None)
            raise
        await queue.put(None)

    producer = asyncio.create_task(produce())
    tail = b""
    try:
        while (data := await queue.get()) is not None:
            data, tail = _whole_rows(tail + data)
            if data:
                counter.rows += data.count(b"\n")
                yield _to_csv(data)
        await producer  # raises what COPY raised
        if tail:
            counter.rows += 1
            yield _to_csv(tail)
    finally:
        if not producer.done():  # the client went away: stop PostgreSQL now, free the connection
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            # asyncpg takes the next chunk of COPY data for the cancel's acknowledgement, so for a moment the
            # connection still reads as busy and refuses its next query (even the pool's reset). Close it instead:
            # PostgreSQL ends the COPY as its socket goes, and the pool opens a fresh connection when one is needed.
            conn.raw_connection.terminate()


async def csv_stream(
    header: tuple[str, ...],
    zone: ZoneInfo,
    delimiter: str,
    conn: Connection,
    sql: str,
    args: list[Any],
    counter: Counter,
) -> AsyncIterator[bytes]:
    """The whole file: BOM and header from the shared writer, then the rows PostgreSQL wrote."""
    yield (BOM + encode_rows([header], zone, delimiter)).encode("utf-8")
    async for chunk in copy_lines(conn, zone.key, sql, args, counter):
        yield chunk


def _whole_rows(data: bytes) -> tuple[bytes, bytes]:
    cut = data.rfind(b"\n") + 1
    return data[:cut], data[cut:]


def _to_csv(data: bytes) -> bytes:
    data = data.replace(b"\n", b"\r\n")
    if b"\\" in data:
        data = _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], data)
    return data
