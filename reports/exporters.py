"""One small class per report: identifier, title, header and an async row iterator (pretix's ListExporter)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import ClassVar

from databases.core import Connection

from reports import pgcopy, queries
from reports.forms import Interval
from reports.writer import Row
from webinar.attendance import queries as attendance
from webinar.events.queries import Event
from webinar.i18n import N_
from webinar.registration import fields
from webinar.registration.questions import Question

Questions = Sequence[Question]


class Exporter:
    """A report: subclasses set the class attributes and yield one row per line after the header. A report that
    `asks_questions` ends each row with the event's questions (`questions`: those asked, and removed ones whose
    answers are still held), one column each, headed by its label in the event's language."""

    identifier: ClassVar[str]
    title: ClassVar[str]
    header: ClassVar[tuple[str, ...]]  # the fixed columns
    uses_interval: ClassVar[bool] = False
    asks_questions: ClassVar[bool] = False

    def iterate(
        self, conn: Connection, event: Event, interval: Interval, questions: Questions = ()
    ) -> AsyncIterator[Row]:
        raise NotImplementedError

    def copy_query(self, event: Event, interval: Interval, questions: Questions = ()) -> pgcopy.Query | None:
        """The rows as PostgreSQL writes this report's CSV or sheet XML itself (reports/pgcopy.py); None: Python."""
        return None

    def header_for(self, questions: Questions = (), event: Event | None = None) -> tuple[str, ...]:
        """The header row: the fixed columns, then one per question."""
        return (*self.header, *(q.header for q in questions)) if self.asks_questions else self.header

    def personal_columns(self) -> Sequence[fields.Item]:
        """The registration's declared items this report shows first, in column order."""
        return fields.report_fields(self.identifier)


class RegisteredExporter(Exporter):
    """Everyone registered (not erased), with their consent time, marketing choice and answers."""

    identifier = fields.REGISTERED
    title = N_("Registered")
    header = (*fields.headers(identifier), "Status", "Registered at", "Consent given at", "Marketing opt-in")
    asks_questions = True

    async def iterate(
        self, conn: Connection, event: Event, interval: Interval, questions: Questions = ()
    ) -> AsyncIterator[Row]:
        personal: Sequence[fields.Item] = self.personal_columns()
        asked: Sequence[fields.Item] = questions  # items too: each reads its answer from the registrant
        fetch = partial(queries.registrants_after, conn, event.id, with_answers=bool(questions))
        async for p in queries.batched(fetch):
            yield (
                *(f.value_of(p) for f in personal), p.status, p.created_at, p.consent_given_at, p.marketing_opt_in,
                *(q.value_of(p) for q in asked),
            )  # fmt: skip

    def copy_query(self, event: Event, interval: Interval, questions: Questions = ()) -> pgcopy.Query | None:
        return pgcopy.registered_query(event, interval, questions)


class ActiveExporter(Exporter):
    """Registrants with at least one viewing session, with their sessions summed up.

    Last logout is the latest session end (its last heartbeat while a session is still open);
    minutes watched is the sum of (logout or last heartbeat) minus login, rounded to one decimal.
    """

    identifier = fields.ACTIVE
    title = N_("Active")
    header = (*fields.headers(identifier), "Sessions", "First login", "Last logout", "Minutes watched")

    async def iterate(
        self, conn: Connection, event: Event, interval: Interval, questions: Questions = ()
    ) -> AsyncIterator[Row]:
        personal = self.personal_columns()
        after = 0
        while batch := await queries.active_after(conn, event.id, after):
            spans: dict[int, list[queries.Span]] = {p.id: [] for p in batch}
            for span in await queries.spans_of(conn, list(spans)):
                spans[span.registration_id].append(span)
            for p in batch:
                mine = spans[p.id]
                yield (
                    *(f.value_of(p) for f in personal), len(mine),
                    min(s.started_at for s in mine), max(s.end for s in mine), round(sum(s.minutes for s in mine), 1),
                )  # fmt: skip
            after = batch[-1].id


class TrafficExporter(Exporter):
    """One row per viewing session overlapping the interval; an erased registrant's sessions keep times only."""

    identifier = fields.TRAFFIC
    title = N_("Traffic")
    header = (*fields.headers(identifier), "Login at", "Logout at", "Minutes", "IP address", "End reason")
    uses_interval = True

    async def iterate(
        self, conn: Connection, event: Event, interval: Interval, questions: Questions = ()
    ) -> AsyncIterator[Row]:
        personal = self.personal_columns()
        async for s in queries.batched(lambda after: queries.sessions_after(conn, event.id, interval, after)):
            ip = None if s.erased else s.ip
            yield (*(f.value_of(s) for f in personal), s.started_at, s.ended_at, s.minutes, ip, s.end_reason)

    def copy_query(self, event: Event, interval: Interval, questions: Questions = ()) -> pgcopy.Query | None:
        return pgcopy.traffic_query(event, interval)


class AttendanceExporter(Exporter):
    """SPEC §13: every approved registrant's verdict (webinar/attendance/queries.py): whole minutes live and of replay,
    presence checks shown and answered in time, whether they qualify, and the number of their valid certificate
    once one is issued."""

    identifier = fields.ATTENDANCE
    title = N_("Attendance")
    header = (
        *fields.headers(identifier), "Minutes live", "Minutes replay", "Presence checks", "Presence answered",
        "Qualifies", "Certificate",
    )  # fmt: skip
    evaluation = ("Evaluation score", "Passed")  # before `Certificate`, for an event with a final evaluation

    def header_for(self, questions: Questions = (), event: Event | None = None) -> tuple[str, ...]:
        if event is None or not event.evaluation:
            return self.header
        return (*self.header[:-1], *self.evaluation, self.header[-1])

    async def iterate(
        self, conn: Connection, event: Event, interval: Interval, questions: Questions = ()
    ) -> AsyncIterator[Row]:
        personal = self.personal_columns()
        async for v in attendance.all_verdicts(conn, event):
            # The score is empty until the person takes the evaluation; until then they have not passed it.
            scored = (v.evaluation_score, v.evaluation_passed) if event.evaluation else ()
            yield (
                *(f.value_of(v) for f in personal), v.minutes_live, v.minutes_replay, v.checks_shown,
                v.checks_answered, v.qualifies, *scored, v.certificate,
            )  # fmt: skip

    def copy_query(self, event: Event, interval: Interval, questions: Questions = ()) -> pgcopy.Query | None:
        return pgcopy.attendance_query(event)


EXPORTERS: dict[str, Exporter] = {
    e.identifier: e for e in (RegisteredExporter(), ActiveExporter(), TrafficExporter(), AttendanceExporter())
}
FORMATS = ("csv", "xlsx")
