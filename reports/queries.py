"""SQL for reports: keyset-paginated batches (constant memory at any row count), returning frozen dataclasses."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from databases.core import Connection

from reports.forms import Interval
from webinar.db import to_dataclass
from webinar.registration import fields
from webinar.registration.queries import Registration, answers_for
from webinar.tables import UNCONFIRMED, consent_records, registrations, viewing_sessions

BATCH_SIZE = 1000

r = registrations
vs = viewing_sessions
# A session's end for reports: its logout time, or its last heartbeat while it is still open.
session_end = sa.func.coalesce(vs.c.ended_at, vs.c.last_seen_at)


def minutes_between(start: dt.datetime, end: dt.datetime) -> float:
    """Whole-session minutes to one decimal, halves rounded up, in exact integer arithmetic.

    Exact (not float `round`), so PostgreSQL's COPY path (reports/pgcopy.py) computes the very same digits.
    """
    micros = max((end - start) // dt.timedelta(microseconds=1), 0)
    return ((micros + 3_000_000) // 6_000_000) / 10


class HasId(Protocol):
    @property
    def id(self) -> int: ...


K = TypeVar("K", bound=HasId)


async def batched(fetch: Callable[[int], Awaitable[Sequence[K]]]) -> AsyncIterator[K]:
    """Every row of a keyset-paginated query: `fetch(after_id)` returns the next batch ordered by id."""
    after = 0
    while True:
        batch = await fetch(after)
        for item in batch:
            yield item
        if len(batch) < BATCH_SIZE:
            return
        after = batch[-1].id


@dataclass(frozen=True)
class Registrant(Registration):
    """A registration as the registered report shows it (never the password hash), with its consent time and its
    answers to the event's questions (question id → stored text; what `Question.value_of` reads)."""

    consent_given_at: dt.datetime | None
    answers: Mapping[int, str]


_REGISTRANT_COLUMNS = tuple(f.name for f in dataclasses.fields(Registrant) if f.name != "answers")


# Every column of a Registration: its personal fields are the declared ones (registration/fields.py).
_REGISTRATION = [r.c[name] for name in Registration.__dataclass_fields__]


def _consent_given_at() -> Any:
    cr = consent_records
    return (
        sa.select(sa.func.max(cr.c.recorded_at))
        .where(cr.c.registration_id == r.c.id, cr.c.purpose == "processing", cr.c.action == "given")
        .scalar_subquery()
    )


async def registrants_after(
    conn: Connection, event_id: int, after_id: int, with_answers: bool = False
) -> list[Registrant]:
    """The next batch of not-erased registrants of an event (never the password hash), `with_answers` to the
    event's questions (one more query per batch)."""
    query = (
        sa.select(*_REGISTRATION, sa.type_coerce(_consent_given_at(), r.c.created_at.type).label("consent_given_at"))
        .where(r.c.event_id == event_id, r.c.erased_at.is_(None), r.c.status != UNCONFIRMED, r.c.id > after_id)
        .order_by(r.c.id)
        .limit(BATCH_SIZE)
    )
    rows = await conn.fetch_all(query)
    answers = await answers_for(conn, [row["id"] for row in rows]) if with_answers else {}
    return [
        Registrant(**{name: row[name] for name in _REGISTRANT_COLUMNS}, answers=answers.get(row["id"], {}))
        for row in rows
    ]


async def active_after(conn: Connection, event_id: int, after_id: int) -> list[Registration]:
    """The next batch of not-erased registrants with at least one viewing session."""
    has_session = sa.exists().where(vs.c.registration_id == r.c.id)
    query = (
        sa.select(*_REGISTRATION)
        .where(r.c.event_id == event_id, r.c.erased_at.is_(None), r.c.id > after_id, has_session)
        .order_by(r.c.id)
        .limit(BATCH_SIZE)
    )
    return [to_dataclass(Registration, row) for row in await conn.fetch_all(query)]


@dataclass(frozen=True)
class Span:
    id: int
    registration_id: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    last_seen_at: dt.datetime

    @property
    def end(self) -> dt.datetime:
        return self.ended_at or self.last_seen_at

    @property
    def minutes(self) -> float:
        return minutes_between(self.started_at, self.end)


_SPAN_COLUMNS = (vs.c.id, vs.c.registration_id, vs.c.started_at, vs.c.ended_at, vs.c.last_seen_at)


async def spans_of(conn: Connection, registration_ids: Sequence[int]) -> list[Span]:
    """The viewing sessions of some registrations (one batch of them)."""
    if not registration_ids:
        return []
    query = sa.select(*_SPAN_COLUMNS).where(vs.c.registration_id.in_(list(registration_ids)))
    return [to_dataclass(Span, row) for row in await conn.fetch_all(query)]


def overlaps(interval: Interval) -> list[Any]:
    """Conditions for a session overlapping the interval (an instant session at its start counts too)."""
    conditions: list[Any] = []
    if interval.end is not None:
        conditions.append(vs.c.started_at < interval.end)
    if interval.start is not None:
        conditions.append(sa.or_(session_end > interval.start, vs.c.started_at >= interval.start))
    return conditions


@dataclass(frozen=True)
class SessionRow:
    """A viewing session with who it belongs to: the fields the traffic report declares (registration/fields.py)."""

    id: int
    registration_id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    last_seen_at: dt.datetime
    ip: str | None
    end_reason: str | None
    erased: bool

    @property
    def minutes(self) -> float:
        return minutes_between(self.started_at, self.ended_at or self.last_seen_at)


def _sessions_query(event_id: int, interval: Interval) -> Any:
    return (
        sa.select(
            vs.c.id, vs.c.registration_id, *(r.c[f.name] for f in fields.report_fields(fields.TRAFFIC)),
            vs.c.started_at, vs.c.ended_at, vs.c.last_seen_at, vs.c.ip, vs.c.end_reason,
            r.c.erased_at.is_not(None).label("erased"),
        )
        .join(r, r.c.id == vs.c.registration_id)
        .where(vs.c.event_id == event_id, *overlaps(interval))
    )  # fmt: skip


async def sessions_after(conn: Connection, event_id: int, interval: Interval, after_id: int) -> list[SessionRow]:
    """The next batch (by id) of viewing sessions overlapping the interval, with who they belong to."""
    query = _sessions_query(event_id, interval).where(vs.c.id > after_id).order_by(vs.c.id).limit(BATCH_SIZE)
    return [to_dataclass(SessionRow, row) for row in await conn.fetch_all(query)]


async def sessions_page(
    conn: Connection, event_id: int, interval: Interval, offset: int, limit: int
) -> list[SessionRow]:
    """One page of the sessions overlapping the interval, in login order."""
    query = _sessions_query(event_id, interval).order_by(vs.c.started_at, vs.c.id).offset(offset).limit(limit)
    return [to_dataclass(SessionRow, row) for row in await conn.fetch_all(query)]


async def spans_by_start(conn: Connection, event_id: int, interval: Interval) -> AsyncIterator[Span]:
    """Every session overlapping the interval in (login time, id) order, fetched in keyset batches."""
    last: tuple[dt.datetime, int] | None = None
    while True:
        query = sa.select(*_SPAN_COLUMNS).where(vs.c.event_id == event_id, *overlaps(interval))
        if last is not None:
            query = query.where(
                sa.or_(vs.c.started_at > last[0], sa.and_(vs.c.started_at == last[0], vs.c.id > last[1]))
            )
        rows = await conn.fetch_all(query.order_by(vs.c.started_at, vs.c.id).limit(BATCH_SIZE))
        for row in rows:
            yield to_dataclass(Span, row)
        if len(rows) < BATCH_SIZE:
            return
        last = (rows[-1]["started_at"], rows[-1]["id"])


@dataclass(frozen=True)
class SessionCounts:
    sessions: int
    active: int
    first_start: dt.datetime | None
    last_end: dt.datetime | None
    taken_over: int = 0  # sessions ended because the registrant opened the stream on one device too many (§15)


async def session_counts(conn: Connection, event_id: int, interval: Interval) -> SessionCounts:
    """How many sessions and distinct viewers overlap the interval, and the earliest login / latest end."""
    query = sa.select(
        sa.func.count(vs.c.id).label("sessions"),
        sa.func.count(sa.distinct(vs.c.registration_id)).label("active"),
        sa.type_coerce(sa.func.min(vs.c.started_at), vs.c.started_at.type).label("first_start"),
        sa.type_coerce(sa.func.max(session_end), vs.c.started_at.type).label("last_end"),
        sa.func.count(vs.c.id).filter(vs.c.end_reason == "taken_over").label("taken_over"),
    ).where(vs.c.event_id == event_id, *overlaps(interval))
    return to_dataclass(SessionCounts, await conn.fetch_one(query))
