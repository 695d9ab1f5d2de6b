"""Exports written by PostgreSQL: `COPY (SELECT <each row's finished CSV cells, or its sheet `<row>`>) TO STDOUT`.

Pulling rows through Python and the csv module runs at a fraction of COPY's speed, so on PostgreSQL the
query itself neutralises formulas, formats times in the event's zone with their offset (to_char under the
session's TimeZone, set to the event's for the COPY), rounds minutes and quotes fields exactly as
`reports.writer` does (tests/reports/test_copy_export.py holds the two paths to the same bytes). COPY joins
the cells with the separator; its text format then escapes only backslashes, control characters and the
separator within a value, so every raw LF in its output ends a row: those become CRLF, then the escapes are
undone. The rows reach the response through a bounded queue, so memory stays flat, and a download the client
abandons cancels the COPY and closes its connection at once. SQLite keeps the Python path.
For .xlsx the query writes each row's `<row>` element of the sheet XML instead (inline strings, times as Excel
day numbers in the event's local time), and reports.writer zips it as it comes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from databases.core import Connection
from openpyxl.utils import get_column_letter

from reports.forms import Interval
from reports.writer import (
    BOM,
    DATE_STYLE,
    FORMULA_TRIGGERS,
    INLINE_CLOSE,
    INLINE_OPEN,
    PRESERVED_OPEN,
    XLSX_EPOCH,
    encode_rows,
)
from webinar.attendance import queries as attendance
from webinar.events.queries import Event
from webinar.registration import fields
from webinar.registration.questions import MULTICHOICE, SHOWN_SEPARATOR, STORED_SEPARATOR, Question
from webinar.tables import UNCONFIRMED

QUEUE_CHUNKS = 8
# The pool's 30 s command timeout would cut a long download off halfway (asyncpg counts the whole COPY, the time
# the client takes to read it included); an export ends when it is written or when the client goes away.
COPY_TIMEOUT = 3600.0
EPOCH_SECONDS = int((XLSX_EPOCH - dt.datetime(1970, 1, 1)).total_seconds())  # Excel's day 0
# COPY's text format escapes a backslash, these control characters, and the delimiter within a value (`\,`).
_ESCAPE = re.compile(rb"\\([\\bfnrtv,;])")
_UNESCAPED = {
    b"\\": b"\\",
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
    b",": b",",
    b";": b";",
}


TEXT, TIME, MINUTES, NUMBER, YESNO = "text", "time", "minutes", "number", "yesno"
# The characters XML 1.0 cannot carry (reports.writer.XML_ILLEGAL; PostgreSQL text never holds NUL), and those that
# need escaping too: a cell with none of them, the usual case, is written without any replace.
_XML_ILLEGAL = r"[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_XML_SPECIAL = r"[&<>\r\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|^[ \t\n]|[ \t\n]$"
_ENTITIES = (("'&'", "&amp;"), ("'<'", "&lt;"), ("'>'", "&gt;"), ("chr(13)", "&#13;"))


@dataclass(frozen=True)
class Column:
    """One column of a report: its kind (how it is written) and its SQL over the report's tables (for MINUTES:
    the session's length, an interval)."""

    kind: str
    expr: str


@dataclass(frozen=True)
class Query:
    """A report's rows for COPY: the columns, `FROM … WHERE …`, the key the rows are ordered by and the bound
    values; written as CSV lines (`csv`) or as the sheet's `<row>` XML (`xlsx`), each cell by the rules of
    reports.writer, which tests/reports/test_copy_export.py holds to the same bytes."""

    columns: Sequence[Column]
    source: str
    order: str
    args: list[Any]

    def csv(self, delimiter: str) -> tuple[str, list[Any]]:
        """SQL for the finished CSV cells of each row, one column each: COPY joins them with `delimiter`
        (`copy_lines`), which costs far less than joining them in SQL, where each `||` copies the line so far."""
        if delimiter not in (",", ";"):  # it is written into the SQL: only the two separators we offer
            raise ValueError(f"unsupported delimiter {delimiter!r}")
        cells = ", ".join(csv_cell(c.kind, f"q.c{k}", delimiter) for k, c in enumerate(self.columns))
        return f"SELECT {cells} FROM ({self._inner()}) q ORDER BY q.o", self.args  # noqa: S608  # nosec B608 - only constants and the checked delimiter; values are bound

    def xlsx(self) -> tuple[str, list[Any]]:
        """SQL for one `<row>` of sheet XML per row, numbered from 2 (the header is row 1)."""
        # Each cell but its reference is written below the row numbering, where PostgreSQL's parallel workers
        # write it (above a window function it would be the leader's work alone); the numbered rows then only
        # put the references in, each row with one `concat` (a NULL, a cell left out, is skipped).
        cells = ", ".join(f"{xml_cell(c.kind, f'q.c{k}')} AS x{k}" for k, c in enumerate(self.columns))
        written = f"SELECT {cells}, q.o FROM ({self._inner()}) q ORDER BY q.o OFFSET 0"  # noqa: S608  # nosec B608 - only constants; values are bound
        numbered = f"SELECT (row_number() OVER (ORDER BY w.o) + 1)::text AS n, w.* FROM ({written}) w"  # noqa: S608  # nosec B608 - only constants
        refs = ", ".join(f"'<c r=\"{get_column_letter(k + 1)}' || r.n || r.x{k}" for k in range(len(self.columns)))
        line = f"concat('<row r=\"', r.n, '\">', {refs}, '</row>')"
        return f"SELECT {line} FROM ({numbered}) r ORDER BY r.o", self.args  # noqa: S608  # nosec B608 - only constants; values are bound

    def _inner(self) -> str:
        exprs = (_tenths(c.expr) if c.kind == MINUTES else c.expr for c in self.columns)
        picked = ", ".join(f"{expr} AS c{k}" for k, expr in enumerate(exprs))
        return f"SELECT {picked}, {self.order} AS o FROM {self.source}"  # noqa: S608  # nosec B608 - only constants; values are bound


# reports.writer.FORMULA_TRIGGERS as code points: `ascii()` of the first character allocates nothing, `left()` does.
_TRIGGERS = ", ".join(str(ord(c)) for c in FORMULA_TRIGGERS)


def _neutral(expr: str) -> str:
    """SQL for reports.writer.neutralise: a leading ' before a formula trigger."""
    return f"(CASE WHEN ascii({expr}) IN ({_TRIGGERS}) THEN '''' || {expr} ELSE {expr} END)"


def text_cell(expr: str, delimiter: str) -> str:
    """SQL for a text cell: NULL/'' empty (COPY writes NULL as nothing), formula triggers prefixed with ', quoted
    when the csv module would (a one-character `strpos` is a memchr: four of them cost less than one regex)."""
    # Each test runs once per cell: the prefix ' adds nothing that needs quoting, so the value itself decides.
    neutral = _neutral(expr)
    needs_quotes = " OR ".join(f"strpos({expr}, {c}) > 0" for c in ("'\"'", f"'{delimiter}'", "chr(13)", "chr(10)"))
    quoted = f"'\"' || replace({neutral}, '\"', '\"\"') || '\"'"
    return f"(CASE WHEN {expr} = '' THEN NULL WHEN {needs_quotes} THEN {quoted} ELSE {neutral} END)"


def time_cell(expr: str) -> str:
    """SQL for a time as `2026-11-22 14:05:00+02:00` in the session's zone, which `copy_lines` sets to the event's
    (an offset with seconds, from before 1900, would lose them: no session or registration is that old). NULL is
    written as nothing (`copy_lines`)."""
    return f"to_char({expr}, 'YYYY-MM-DD HH24:MI:SSTZH:TZM')"


def _tenths(length: str) -> str:
    """SQL for a session's length in tenths of a minute, halves up, as `queries.minutes_between` rounds them: its
    microseconds exactly (a double holds them to the microsecond for any length under a century), cheaper than
    `extract`'s numeric."""
    return f"((greatest(round(date_part('epoch', {length}) * 1000000)::bigint, 0) + 3000000) / 6000000)"


def minutes_cell(tenths: str, delimiter: str) -> str:
    """SQL for whole-session minutes to one decimal (`tenths`: from `_tenths`, picked once in Query._inner)."""
    point = "," if delimiter == ";" else "."
    return f"(({tenths} / 10)::text || '{point}' || ({tenths} % 10)::text)"


def csv_cell(kind: str, expr: str, delimiter: str) -> str:
    """SQL for one CSV cell of a column of `kind`, as reports.writer.csv_cell writes it."""
    if kind == TEXT:
        return text_cell(expr, delimiter)
    if kind == TIME:
        return time_cell(expr)
    if kind == MINUTES:
        return minutes_cell(expr, delimiter)
    if kind == NUMBER:  # integers only: no decimal comma to write
        return f"coalesce(({expr})::text, '')"
    return f"(CASE WHEN {expr} THEN 'yes' ELSE 'no' END)"


def xml_cell(kind: str, expr: str) -> str:
    """SQL for one `<c>` of a column of `kind` from just after its reference, as reports.writer.xlsx_cell writes
    it; NULL for a cell left out (`||` with a NULL is NULL)."""
    if kind == TEXT:
        return xml_text_cell(expr)
    if kind == TIME:  # Excel's day number of the local time (the session's TimeZone: the event's), to the second
        days = f"((floor(date_part('epoch', ({expr})::timestamp))::bigint + {-EPOCH_SECONDS})::float8 / 86400)"
        return f"('\" s=\"{DATE_STYLE}\"><v>' || {days}::text || '</v></c>')"
    if kind == MINUTES:  # `expr` is already the tenths (Query._inner)
        return f"('\"><v>' || ({expr} / 10)::text || '.' || ({expr} % 10)::text || '</v></c>')"
    if kind == NUMBER:
        return f"('\"><v>' || ({expr})::text || '</v></c>')"
    return f"('{INLINE_OPEN}' || (CASE WHEN {expr} THEN 'yes' ELSE 'no' END) || '{INLINE_CLOSE}')"


def xml_text_cell(expr: str) -> str:
    """SQL for reports.writer.inline_cell: as it is (neutralised) unless it holds something XML must be told about."""
    cleaned = f"regexp_replace({expr}, '{_XML_ILLEGAL}', '', 'g')"
    escaped = _neutral(cleaned)
    for char, entity in _ENTITIES:
        escaped = f"replace({escaped}, {char}, '{entity}')"
    plain = f"'{INLINE_OPEN}' || {_neutral(expr)} || '{INLINE_CLOSE}'"
    preserved = f"'{PRESERVED_OPEN}' || {escaped} || '{INLINE_CLOSE}'"
    return (
        f"(CASE WHEN {expr} = '' THEN NULL WHEN {expr} ~ '{_XML_SPECIAL}' THEN "
        f"(CASE WHEN {cleaned} <> '' THEN {preserved} END) ELSE {plain} END)"
    )


def _personal(report: str) -> list[Column]:
    # The declared names are identifiers of our own (registration/fields.py), never anything a request sent.
    return [Column(TEXT, f"r.{field.name}") for field in fields.report_fields(report)]


def traffic_query(event: Event, interval: Interval) -> Query:
    """The traffic report's rows (sessions overlapping the interval, by id)."""
    end = "coalesce(vs.ended_at, vs.last_seen_at)"
    columns = [
        *_personal(fields.TRAFFIC), Column(TIME, "vs.started_at"), Column(TIME, "vs.ended_at"),
        Column(MINUTES, f"{end} - vs.started_at"), Column(TEXT, "(CASE WHEN r.erased_at IS NULL THEN vs.ip END)"),
        Column(TEXT, "vs.end_reason"),
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
    return Query(columns, f"{tables} WHERE {' AND '.join(where)}", "vs.id", args)


def _answers(questions: Sequence[Question], args: list[Any]) -> tuple[list[Column], str]:
    """The columns of the questions' answers (`Question.shown`: a multichoice's lines joined with '; ') and the join
    that reads them: one pass over a registrant's answers, each question's id a bound argument."""
    if not questions:
        return [], ""
    picks, columns = [], []
    for k, question in enumerate(questions):
        args.append(question.id)
        picks.append(f"max(a.value) FILTER (WHERE a.question_id = ${len(args)}) AS a{k}")
        value = f"ans.a{k}"
        if question.kind == MULTICHOICE:
            value = f"replace({value}, chr({ord(STORED_SEPARATOR)}), '{SHOWN_SEPARATOR}')"
        columns.append(Column(TEXT, value))
    picked = ", ".join(picks)
    join = f" LEFT JOIN LATERAL (SELECT {picked} FROM answers a WHERE a.registration_id = r.id) ans ON true"  # noqa: S608  # nosec B608 - only constants; the ids are bound
    return columns, join


def registered_query(event: Event, interval: Interval, questions: Sequence[Question] = ()) -> Query:
    """The registered report's rows (not erased, by id; never the password), then the answers."""
    consent = (
        "(SELECT max(cr.recorded_at) FROM consent_records cr WHERE cr.registration_id = r.id"
        " AND cr.purpose = 'processing' AND cr.action = 'given')"
    )
    columns = [
        *_personal(fields.REGISTERED), Column(TEXT, "r.status"), Column(TIME, "r.created_at"), Column(TIME, consent),
        Column(YESNO, "r.marketing_opt_in"),
    ]  # fmt: skip
    args: list[Any] = [event.id]
    answer_columns, answers = _answers(questions, args)
    where = f"r.event_id = $1 AND r.erased_at IS NULL AND r.status <> '{UNCONFIRMED}'"  # not registered yet (§15)
    return Query([*columns, *answer_columns], f"registrations r{answers} WHERE {where}", "r.id", args)


def attendance_query(event: Event) -> Query:
    """The attendance report's rows: the verdict statement itself (webinar/attendance/queries.py, compiled for
    PostgreSQL), its numbers written as `Verdict` writes them (whole minutes, rounded down)."""
    verdicts, args = attendance.postgres_sql(event)
    columns = [
        *(Column(TEXT, f"v.{field.name}") for field in fields.report_fields(fields.ATTENDANCE)),
        Column(NUMBER, "floor(v.seconds_live / 60)::bigint"), Column(NUMBER, "floor(v.seconds_replay / 60)::bigint"),
        Column(NUMBER, "v.checks_shown"), Column(NUMBER, "v.checks_answered"), Column(YESNO, "v.qualifies"),
    ]  # fmt: skip
    if event.evaluation:  # the final evaluation's columns, as AttendanceExporter writes them
        columns += [Column(NUMBER, "v.evaluation_score"), Column(YESNO, "v.evaluation_passed")]
    columns.append(Column(TEXT, "v.certificate"))
    return Query(columns, f"({verdicts}) v", "v.id", args)


class Counter:
    """How many rows went out (each row ends in exactly one raw LF)."""

    rows = 0


async def copy_lines(
    conn: Connection,
    zone: str,
    sql: str,
    args: list[Any],
    counter: Counter,
    finish: Callable[[bytes], bytes] | None = None,
    delimiter: str = "\t",
) -> AsyncIterator[bytes]:
    """The rows of `sql` as CRLF-terminated CSV bytes (or, with `finish`, as it makes them of COPY's whole rows),
    streamed from COPY through a bounded queue, with times in `zone` (the session's TimeZone, which the pool puts
    back to UTC when it takes the connection back: db.py)."""
    finish = finish or _to_csv
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)

    async def sink(data: bytes) -> None:
        await queue.put(data)

    async def produce() -> None:
        try:
            await conn.raw_connection.execute("SELECT set_config('TimeZone', $1, false)", zone)
            await conn.raw_connection.copy_from_query(
                sql, *args, output=sink, timeout=COPY_TIMEOUT, delimiter=delimiter, null=""
            )
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
                yield finish(data)
        await producer  # raises what COPY raised
        if tail:
            counter.rows += 1
            yield finish(tail)
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
    async for chunk in copy_lines(conn, zone.key, sql, args, counter, delimiter=delimiter):
        yield chunk


async def xlsx_rows(
    conn: Connection, zone: ZoneInfo, sql: str, args: list[Any], counter: Counter
) -> AsyncIterator[bytes]:
    """The sheet's `<row>` XML as PostgreSQL wrote it, one row per line as reports.writer.xlsx_rows writes them."""
    async for chunk in copy_lines(conn, zone.key, sql, args, counter, _unescape):
        yield chunk


def _whole_rows(data: bytes) -> tuple[bytes, bytes]:
    cut = data.rfind(b"\n") + 1
    return data[:cut], data[cut:]


def _to_csv(data: bytes) -> bytes:
    return _unescape(data.replace(b"\n", b"\r\n"))


def _unescape(data: bytes) -> bytes:
    if b"\\" in data:
        data = _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], data)
    return data
