"""SQL for registrations, their consent records, answers and viewing sessions, and events' questions, returning
frozen dataclasses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.db import to_dataclass
from webinar.events.queries import Event
from webinar.registration.questions import Question
from webinar.tables import (
    HOLDS_SEAT,
    WAITLISTED,
    UTCDateTime,
    answers,
    consent_records,
    evaluation_results,
    events,
    questions,
    registrations,
    staff_users,
    viewing_sessions,
)
from webinar.text import fold, like_escape

PAGE_SIZE = 50


@dataclass(frozen=True)
class Registration:
    id: int
    event_id: int
    email: str | None
    email_normalised: str | None
    first_name: str | None
    last_name: str | None
    job_title: str | None
    member_id: str | None
    organisation: str | None
    phone: str | None
    status: str
    marketing_opt_in: bool
    token_version: int
    language: str
    created_at: dt.datetime
    updated_at: dt.datetime
    decided_at: dt.datetime | None
    erased_at: dt.datetime | None


@dataclass(frozen=True)
class ConsentRecord:
    id: int
    purpose: str
    action: str
    consent_text_id: int | None
    text_version: int | None
    text_sha256: str | None
    text_language: str | None  # the language of the text ticked ('ro', 'en'; None without a text)
    recorded_at: dt.datetime
    ip: str | None
    user_agent: str | None
    recorded_by: str | None  # the e-mail of the staff member who imported the person (action `imported`)


@dataclass(frozen=True)
class ViewingSession:
    id: int
    started_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str | None
    ip: str | None
    user_agent: str | None
    kind: str  # live or replay


_COLUMNS = [registrations.c[name] for name in Registration.__dataclass_fields__]


@dataclass(frozen=True)
class Seats:
    """What deciding on an event's seats reads of it, as it is while its row is held (`lock_seats`)."""

    id: int
    organisation_id: int
    capacity: int | None
    approval: str
    waitlist: bool
    ends_at: dt.datetime
    status: str


_SEATS = [events.c[name] for name in Seats.__dataclass_fields__]


async def lock_seats(conn: Connection, event_id: int) -> Seats | None:
    """Hold the event's row until the transaction ends, and read its seats as they are now: every change of who holds
    a seat takes this lock first, so seat counts cannot race (SQLite: its writers take turns anyway)."""
    row = await conn.fetch_one(sa.select(*_SEATS).where(events.c.id == event_id).with_for_update())
    return to_dataclass(Seats, row) if row else None


async def seats_taken(conn: Connection, event_id: int) -> int:
    """How many registrations hold a seat (approved or pending)."""
    query = sa.select(sa.func.count()).where(
        registrations.c.event_id == event_id, registrations.c.status.in_(HOLDS_SEAT)
    )
    return int(await conn.fetch_val(query))


def full_at(capacity: int | None, taken: int) -> bool:
    """Whether an event of `capacity` is full with `taken` seats held (never, without a capacity): the rule, once."""
    return capacity is not None and taken >= capacity


async def is_full(conn: Connection, event: Event | Seats) -> bool:
    """Whether every seat of the event is taken now (`full_at`)."""
    return full_at(event.capacity, await seats_taken(conn, event.id))


IN_LINE = (registrations.c.created_at, registrations.c.id)


def _in_line(event_id: int) -> list[sa.ColumnElement[bool]]:
    """The event's waiting list: its waitlisted registrations still holding their data, first come first (IN_LINE:
    by when they registered, the last time for someone who cancelled and registered again)."""
    return [
        registrations.c.event_id == event_id,
        registrations.c.status == WAITLISTED,
        registrations.c.erased_at.is_(None),
    ]


async def first_in_line(conn: Connection, event_id: int, most: int | None) -> list[Registration]:
    """The earliest `most` (None: all) of the event's waiting list, their rows held until the transaction ends."""
    query = sa.select(*_COLUMNS).where(*_in_line(event_id)).order_by(*IN_LINE).limit(most)
    rows = await conn.fetch_all(query.with_for_update())
    return [to_dataclass(Registration, r) for r in rows]


async def place_in_line(conn: Connection, reg: Registration) -> int | None:
    """A waitlisted registration's place on its event's waiting list (1 = next to get a seat); None if not on it."""
    if reg.status != WAITLISTED or reg.erased_at is not None:
        return None
    ahead = sa.select(sa.func.count()).where(
        *_in_line(reg.event_id), sa.tuple_(*IN_LINE) < sa.tuple_(sa.literal(reg.created_at, UTCDateTime), reg.id)
    )
    return int(await conn.fetch_val(ahead)) + 1


async def by_id(conn: Connection, event_id: int, registration_id: int) -> Registration | None:
    """One registration of one event."""
    row = await conn.fetch_one(
        sa.select(*_COLUMNS).where(registrations.c.id == registration_id, registrations.c.event_id == event_id)
    )
    return to_dataclass(Registration, row) if row else None


async def by_ids(conn: Connection, event_id: int, registration_ids: Collection[int]) -> dict[int, Registration]:
    """Some registrations of one event, by id (one missing: erased, or of another event). Read by primary key alone
    and fenced here: with `event_id` in the statement, PostgreSQL's plan (statistics taken before a rush, or a
    generic plan) read every registration of a 50,000-person event for each ten looked up, 30 ms a call."""
    rows = await conn.fetch_all(sa.select(*_COLUMNS).where(registrations.c.id.in_(registration_ids)))
    found = [to_dataclass(Registration, row) for row in rows]
    return {reg.id: reg for reg in found if reg.event_id == event_id}


async def passed_evaluation(conn: Connection, registration_ids: Collection[int]) -> set[int]:
    """Those of the registrations who passed their event's final evaluation (SPEC §13)."""
    rows = await conn.fetch_all(
        sa.select(evaluation_results.c.registration_id).where(
            evaluation_results.c.registration_id.in_(registration_ids), evaluation_results.c.passed
        )
    )
    return {int(row["registration_id"]) for row in rows}


async def by_email(conn: Connection, event_id: int, email_normalised: str, lock: bool = False) -> Registration | None:
    """The event's registration for an address; `lock` holds the row (PostgreSQL) until the transaction ends."""
    query = sa.select(*_COLUMNS).where(
        registrations.c.event_id == event_id, registrations.c.email_normalised == email_normalised
    )
    row = await conn.fetch_one(query.with_for_update() if lock else query)
    return to_dataclass(Registration, row) if row else None


def _filters(event_id: int, q: str, status: str | None) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [registrations.c.event_id == event_id]
    for word in fold(q).split():
        where.append(registrations.c.search_text.like(f"%{like_escape(word)}%", escape="\\"))
    if status:
        where.append(registrations.c.status == status)
    return where


async def search(
    conn: Connection, event_id: int, q: str, status: str | None, page: int
) -> tuple[list[Registration], int]:
    """One page of an event's registrants matching a folded search and a status, and how many match."""
    where = _filters(event_id, q, status)
    total = int(await conn.fetch_val(sa.select(sa.func.count()).select_from(registrations).where(*where)))
    rows = await conn.fetch_all(
        sa.select(*_COLUMNS)
        .where(*where)
        .order_by(registrations.c.created_at.desc(), registrations.c.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return [to_dataclass(Registration, r) for r in rows], total


async def status_counts(conn: Connection, event_id: int) -> dict[str, int]:
    """How many of the event's registrants are in each status."""
    rows = await conn.fetch_all(
        sa.select(registrations.c.status, sa.func.count().label("n"))
        .where(registrations.c.event_id == event_id)
        .group_by(registrations.c.status)
    )
    return {row["status"]: int(row["n"]) for row in rows}


async def consents(conn: Connection, registration_id: int) -> list[ConsentRecord]:
    """Every consent record of a registration, oldest first."""
    rows = await conn.fetch_all(
        sa.select(*(c for c in consent_records.c if c.name != "recorded_by"), staff_users.c.email.label("recorded_by"))
        .select_from(consent_records.outerjoin(staff_users, staff_users.c.id == consent_records.c.recorded_by))
        .where(consent_records.c.registration_id == registration_id)
        .order_by(consent_records.c.recorded_at, consent_records.c.id)
    )
    return [to_dataclass(ConsentRecord, r) for r in rows]


async def sessions(conn: Connection, registration_id: int) -> list[ViewingSession]:
    """Every viewing session of a registration, oldest first."""
    rows = await conn.fetch_all(
        viewing_sessions.select()
        .where(viewing_sessions.c.registration_id == registration_id)
        .order_by(viewing_sessions.c.started_at)
    )
    return [to_dataclass(ViewingSession, r) for r in rows]


# Which of an event's questions a reader wants: those the form asks now; also the removed ones whose answers are
# still held (the reports, the registrant's page, the person's own data); or every one (the back office).
ASKED, KEPT, EVERY = "asked", "kept", "every"


def questions_query(event_id: Any, which: str = ASKED) -> sa.Select[Any]:
    """An event's questions in order (`event_id` a value or a bind parameter), ASKED, KEPT or EVERY (above)."""
    query = (
        sa.select(questions, events.c.language.label("event_language"))
        .join(events, events.c.id == questions.c.event_id)
        .where(questions.c.event_id == event_id)
        .order_by(questions.c.position, questions.c.id)
    )
    asked = questions.c.removed_at.is_(None)
    if which == ASKED:
        return query.where(asked)
    if which == KEPT:
        return query.where(sa.or_(asked, sa.exists().where(answers.c.question_id == questions.c.id)))
    assert which == EVERY
    return query


async def questions_of(conn: Connection, event_id: int, which: str = ASKED) -> list[Question]:
    """An event's questions in order: ASKED, KEPT or EVERY (above)."""
    return [to_dataclass(Question, row) for row in await conn.fetch_all(questions_query(event_id, which))]


async def has_answers(conn: Connection, question_id: int) -> bool:
    """Whether anyone answered the question (answers of erased people are gone)."""
    query = sa.select(answers.c.id).where(answers.c.question_id == question_id).limit(1)
    return await conn.fetch_one(query) is not None


async def answers_of(conn: Connection, registration_id: int) -> dict[int, str]:
    """A registration's stored answers by question id."""
    rows = await conn.fetch_all(
        sa.select(answers.c.question_id, answers.c.value).where(answers.c.registration_id == registration_id)
    )
    return {int(row["question_id"]): row["value"] for row in rows}


async def answers_for(conn: Connection, registration_ids: Sequence[int]) -> dict[int, dict[int, str]]:
    """The stored answers of some registrations (one batch of a report), by registration id, then question id."""
    found: dict[int, dict[int, str]] = {}
    if not registration_ids:
        return found
    rows = await conn.fetch_all(
        sa.select(answers.c.registration_id, answers.c.question_id, answers.c.value).where(
            answers.c.registration_id.in_(list(registration_ids))
        )
    )
    for row in rows:
        found.setdefault(int(row["registration_id"]), {})[int(row["question_id"])] = row["value"]
    return found
