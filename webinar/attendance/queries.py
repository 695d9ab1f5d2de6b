"""The attendance verdict in SQL: minutes live (the union of a person's sessions in the live window), minutes of
replay, presence checks shown and answered, and whether the person qualifies (SPEC §13, docs/attendance.md).

One statement, the same on SQLite (≥ 3.25: window functions) and PostgreSQL, for one registrant, a range of them
(the exports' batches) or a whole event: PostgreSQL's COPY writes attendance.csv straight from it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from webinar.db import to_dataclass
from webinar.dbbackends import Prepared
from webinar.events.queries import Event
from webinar.registration import fields
from webinar.tables import (
    BigId,
    UTCDateTime,
    certificates,
    evaluation_results,
    presence_checks,
    registrations,
    viewing_sessions,
)

vs, pc, r, er = viewing_sessions, presence_checks, registrations, evaluation_results
# The registrants an attendance verdict is given for: approved ones (the only ones the stream page lets in), not
# erased (an erased person has no identity left to report).
VERDICT_STATUS = "approved"
BATCH_SIZE = 1000
EVERYONE = (0, 2**62)  # the registration id range (lo, hi] that holds every registrant


class _Seconds(FunctionElement[float]):
    """`end - start` in seconds, as a number, on either engine."""

    type = sa.Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(_Seconds, "sqlite")
def _seconds_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(_Seconds, "postgresql")
def _seconds_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"extract(epoch FROM ({end}) - ({start}))"


def _later(a: Any, b: Any) -> Any:
    return sa.case((a > b, a), else_=b)


def _earlier(a: Any, b: Any) -> Any:
    return sa.case((a < b, a), else_=b)


def _param(name: str, type_: Any) -> Any:
    return sa.bindparam(name, type_=type_)


def _verdicts() -> sa.Select[Any]:
    """One row per approved, not erased registrant of the event with an id in (lo, hi]: their seconds live and of
    replay, their presence checks shown and answered in time, and whether they qualify."""
    event_id, lo, hi = _param("event_id", BigId), _param("lo", BigId), _param("hi", BigId)
    starts, ends = _param("starts_at", UTCDateTime), _param("ends_at", UTCDateTime)
    # A session lasts from its login to its logout, or to its last heartbeat while it is open (a crashed server's
    # session, until the sweeper closes it there too). Live sessions count only inside [start, end]; replay
    # sessions are all after the end and count whole, apart.
    end = sa.func.coalesce(vs.c.ended_at, vs.c.last_seen_at)
    live = vs.c.kind == "live"
    clipped = (
        sa.select(
            vs.c.registration_id, vs.c.kind,
            sa.case((live, _later(vs.c.started_at, starts)), else_=vs.c.started_at).label("s"),
            sa.case((live, _earlier(end, ends)), else_=end).label("e"),
        )
        .where(
            vs.c.event_id == event_id, vs.c.registration_id > lo, vs.c.registration_id <= hi,
            sa.or_(~live, sa.and_(vs.c.started_at < ends, end > starts)),
        )
        .cte("clipped")
    )  # fmt: skip
    # The union of a person's sessions (gaps and islands): in order of start, each session adds only what lies
    # beyond the latest end of the sessions before it, so overlapping sessions (two devices) count once.
    before = sa.func.max(clipped.c.e).over(
        partition_by=(clipped.c.registration_id, clipped.c.kind), order_by=(clipped.c.s, clipped.c.e), rows=(None, -1)
    )
    ordered = sa.select(clipped, before.label("before")).cte("ordered")
    o = ordered.c
    added = sa.case(
        (sa.or_(o.before.is_(None), o.before <= o.s), _Seconds(o.s, o.e)),
        (o.before < o.e, _Seconds(o.before, o.e)),
        else_=0,
    )
    watched = (
        sa.select(
            o.registration_id,
            sa.func.sum(added).filter(o.kind == "live").label("live"),
            sa.func.sum(added).filter(o.kind == "replay").label("replay"),
        )
        .group_by(o.registration_id)
        .cte("watched")
    )
    checks = (
        sa.select(
            pc.c.registration_id,
            sa.func.count().label("shown"),
            sa.func.count().filter(pc.c.answered_at <= pc.c.answer_by).label("answered"),
        )
        .where(pc.c.event_id == event_id, pc.c.registration_id > lo, pc.c.registration_id <= hi)
        .group_by(pc.c.registration_id)
        .cte("checks")
    )
    # Rounded to the millisecond: SQLite's julianday arithmetic is exact to a few microseconds only, and an hour
    # watched must not come out as 59 minutes.
    seconds_live = sa.func.round(sa.func.coalesce(watched.c.live, 0), 3)
    seconds_replay = sa.func.round(sa.func.coalesce(watched.c.replay, 0), 3)
    shown = sa.func.coalesce(checks.c.shown, 0)
    answered = sa.func.coalesce(checks.c.answered, 0)
    # The rule, once: watched live at all, at least the threshold, and answered every presence check of the event.
    qualifies = sa.and_(
        seconds_live > 0,
        seconds_live >= _param("least_seconds", sa.Integer),
        answered >= _param("checks_required", sa.Integer),
    )
    personal = [r.c[f.name] for f in fields.report_fields(fields.ATTENDANCE)]
    return (
        sa.select(
            r.c.id, *personal,
            sa.type_coerce(seconds_live, sa.Float).label("seconds_live"),
            sa.type_coerce(seconds_replay, sa.Float).label("seconds_replay"),
            shown.label("checks_shown"), answered.label("checks_answered"), qualifies.label("qualifies"),
            certificates.c.number.label("certificate"),
            # The final evaluation's result (webinar/evaluation/), once taken: the score and the verdict kept with it.
            er.c.score.label("evaluation_score"), sa.func.coalesce(er.c.passed, sa.false()).label("evaluation_passed"),
        )
        .select_from(
            r.outerjoin(watched, watched.c.registration_id == r.c.id)
            .outerjoin(checks, checks.c.registration_id == r.c.id)
            # The person's certificate while it is valid (a revoked one is not shown as theirs).
            .outerjoin(
                certificates, sa.and_(certificates.c.registration_id == r.c.id, certificates.c.revoked_at.is_(None))
            )
            .outerjoin(er, er.c.registration_id == r.c.id)
        )
        .where(
            r.c.event_id == event_id, r.c.status == VERDICT_STATUS, r.c.erased_at.is_(None), r.c.id > lo, r.c.id <= hi
        )
        .order_by(r.c.id)
    )  # fmt: skip


VERDICTS = Prepared(_verdicts())


def values(event: Event, lo: int, hi: int) -> dict[str, Any]:
    """The statement's parameters for one event and a range of registration ids (lo, hi]."""
    return {
        "event_id": event.id, "lo": lo, "hi": hi, "starts_at": event.starts_at, "ends_at": event.ends_at,
        "least_seconds": (event.attendance_minutes or 0) * 60, "checks_required": event.presence_checks,
    }  # fmt: skip


def qualifying(event: Event) -> sa.Select[Any]:
    """The ids of the event's registrants who qualify, by the same rule, as a subquery for a bulk statement (the
    follow-up e-mails)."""
    verdicts = _verdicts().params(values(event, *EVERYONE)).subquery("verdicts")
    return sa.select(verdicts.c.id).where(verdicts.c.qualifies)


def attended(event: Event, registration_id: Any) -> sa.ColumnElement[bool]:
    """Whether the registration `registration_id` (a column or a value) attended `event`, by the one rule: for the
    follow-up e-mails (registration/reminders.py, which the worker hands this to)."""
    who = registration_id if isinstance(registration_id, sa.ColumnElement) else sa.literal(registration_id)
    return who.in_(qualifying(event))


@dataclass(frozen=True)
class Verdict:
    """One registrant's attendance: what certificates, the report, /me and the back office read."""

    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    member_id: str | None
    organisation: str | None
    seconds_live: float
    seconds_replay: float
    checks_shown: int
    checks_answered: int
    qualifies: bool
    certificate: str | None  # the number of the person's valid certificate, once issued
    evaluation_score: int | None = None  # the final evaluation's score in percent, once taken
    evaluation_passed: bool = False

    @property
    def minutes_live(self) -> int:
        """Whole minutes watched live, rounded down (what the threshold is compared with)."""
        return math.floor(self.seconds_live / 60)

    @property
    def minutes_replay(self) -> int:
        """Whole minutes of replay watched, rounded down."""
        return math.floor(self.seconds_replay / 60)


def _verdict(row: Any) -> Verdict:
    return Verdict(
        id=row["id"], email=row["email"], first_name=row["first_name"], last_name=row["last_name"],
        member_id=row["member_id"], organisation=row["organisation"], seconds_live=float(row["seconds_live"] or 0),
        seconds_replay=float(row["seconds_replay"] or 0), checks_shown=int(row["checks_shown"]),
        checks_answered=int(row["checks_answered"]), qualifies=bool(row["qualifies"]), certificate=row["certificate"],
        evaluation_score=row["evaluation_score"], evaluation_passed=bool(row["evaluation_passed"]),
    )  # fmt: skip


async def verdicts_between(conn: Connection, event: Event, lo: int, hi: int) -> list[Verdict]:
    """The verdicts of the event's approved registrants with an id in (lo, hi], by id."""
    rows = await conn.fetch_all(VERDICTS.statement(values(event, lo, hi)))
    return [_verdict(row) for row in rows]


async def verdict_of(conn: Connection, event: Event, registration_id: int) -> Verdict | None:
    """One registrant's verdict (None unless approved and not erased)."""
    found = await verdicts_between(conn, event, registration_id - 1, registration_id)
    return found[0] if found else None


async def _batch_end(conn: Connection, event: Event, after: int, size: int = BATCH_SIZE) -> int | None:
    """The id that ends the next batch of `size` approved registrants after `after` (None when there are none left)."""
    ids = (
        sa.select(r.c.id)
        .where(r.c.event_id == event.id, r.c.status == VERDICT_STATUS, r.c.erased_at.is_(None), r.c.id > after)
        .order_by(r.c.id)
        .limit(size)
        .subquery()
    )
    return await conn.fetch_val(sa.select(sa.func.max(ids.c.id)))


async def all_verdicts(conn: Connection, event: Event) -> AsyncIterator[Verdict]:
    """Every verdict of the event, by id, a batch of registrants at a time (constant memory)."""
    after = 0
    while (last := await _batch_end(conn, event, after)) is not None:
        for verdict in await verdicts_between(conn, event, after, last):
            yield verdict
        after = last


async def verdicts_after(conn: Connection, event: Event, after: int, size: int) -> list[Verdict]:
    """The verdicts of the next `size` approved registrants with an id above `after`, by id (the API's pages)."""
    last = await _batch_end(conn, event, after, size)
    return [] if last is None else await verdicts_between(conn, event, after, last)


async def qualifying_count(conn: Connection, event: Event) -> int:
    """How many of the event's registrants qualify, in one statement."""
    verdicts = VERDICTS.statement(values(event, *EVERYONE)).subquery()
    query = sa.select(sa.func.count()).select_from(verdicts).where(verdicts.c.qualifies)
    return int(await conn.fetch_val(query) or 0)


def postgres_sql(event: Event) -> tuple[str, list[Any]]:
    """The whole event's verdicts as PostgreSQL SQL ($n placeholders) and its arguments, for COPY."""
    return VERDICTS.postgres(values(event, *EVERYONE))


@dataclass(frozen=True)
class PresenceCheck:
    """One presence check shown to a person, and their answer (late answers are kept, and count as missed)."""

    number: int
    due_at: dt.datetime
    answer_by: dt.datetime
    shown_at: dt.datetime
    answered_at: dt.datetime | None

    @property
    def answered_in_time(self) -> bool:
        return self.answered_at is not None and self.answered_at <= self.answer_by


async def checks_of(conn: Connection, registration_id: int) -> list[PresenceCheck]:
    """The presence checks shown to one registrant, in order."""
    rows = await conn.fetch_all(
        sa.select(pc.c.number, pc.c.due_at, pc.c.answer_by, pc.c.shown_at, pc.c.answered_at)
        .where(pc.c.registration_id == registration_id)
        .order_by(pc.c.number)
    )
    return [to_dataclass(PresenceCheck, row) for row in rows]
