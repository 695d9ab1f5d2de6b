"""Running an export: stream the rows through the writer, then audit it (rows are counted only at the end)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from reports import pgcopy
from reports.exporters import Exporter
from reports.forms import Interval
from reports.writer import Row, csv_stream, xlsx_row_chunks, xlsx_stream
from webinar import audit
from webinar.accounts.staff import StaffUser
from webinar.db import DB
from webinar.events.queries import Event
from webinar.registration import queries as registration_queries

log = logging.getLogger("webinar.reports")
_pending_audits: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class ExportRequest:
    exporter: Exporter
    event: Event
    interval: Interval
    fmt: str
    delimiter: str
    user: StaffUser
    ip: str

    @property
    def filename(self) -> str:
        return f"{self.event.slug}-{self.exporter.identifier}.{self.fmt}"


async def _record(db: DB, job: ExportRequest, rows: int, completed: bool) -> None:
    details: dict[str, object] = {"report": job.exporter.identifier, "format": job.fmt, "rows": rows}
    if job.fmt == "csv":
        details["separator"] = job.delimiter
    if job.exporter.uses_interval:
        details["from"], details["to"] = job.interval.start, job.interval.end
    if not completed:
        details["completed"] = False
    async with db.transaction() as conn:
        await audit.record(
            conn, "report.exported", actor=job.user.email, actor_staff_id=job.user.id,
            organisation_id=job.event.organisation_id, event_id=job.event.id, ip=job.ip, details=details,
        )  # fmt: skip


def _record_later(db: DB, job: ExportRequest, rows: int) -> None:
    """An interrupted download is still audited, from a task of its own (the stream is being torn down)."""
    task = asyncio.get_running_loop().create_task(_record(db, job, rows, completed=False))
    _pending_audits.add(task)
    task.add_done_callback(_pending_audits.discard)


async def export(db: DB, job: ExportRequest) -> AsyncIterator[bytes]:
    """The file's bytes, streamed; one `report.exported` audit entry with the row count when it ends."""
    count = 0

    async def counted(rows: AsyncIterator[Row]) -> AsyncIterator[Row]:
        nonlocal count
        async for row in rows:
            count += 1
            yield row

    zone = ZoneInfo(job.event.timezone)
    completed = False
    copied = pgcopy.Counter()
    exporter, event = job.exporter, job.event
    try:
        async with db.connection() as conn:
            kept = registration_queries.KEPT
            questions = await registration_queries.questions_of(conn, event.id, kept) if exporter.asks_questions else []
            header = exporter.header_for(questions, event)
            copy = None if db.is_sqlite else exporter.copy_query(event, job.interval, questions)
            rows = counted(exporter.iterate(conn, event, job.interval, questions))
            # On PostgreSQL a report with a copy query is written by the database itself, as the writer would.
            if job.fmt == "xlsx":
                if copy is None:
                    sheet_rows = xlsx_row_chunks(rows, zone)
                else:
                    sheet_rows = pgcopy.xlsx_rows(conn, zone, *copy.xlsx(), copied)
                chunks = xlsx_stream(exporter.title, header, sheet_rows)
            elif copy is not None:
                chunks = pgcopy.csv_stream(header, zone, job.delimiter, conn, *copy.csv(job.delimiter), copied)
            else:
                chunks = csv_stream(header, rows, zone, job.delimiter)
            async for chunk in chunks:
                yield chunk
        completed = True
    finally:
        if not completed:
            _record_later(db, job, count + copied.rows)
    await _record(db, job, count + copied.rows, completed=True)
