"""SQL for attendees: their registration and the attendee session a browser presents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.accounts import sessions
from webinar.clock import now
from webinar.db import DB
from webinar.dbbackends import Prepared
from webinar.events.queries import Event, to_dataclass
from webinar.tables import BigId, UTCDateTime, events, registrations, web_sessions
from webinar.text import normalise_email


@dataclass(frozen=True)
class Attendee:
    """The parts of a registration that decide access."""

    id: int
    event_id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    status: str
    marketing_opt_in: bool
    token_version: int
    password_hash: str | None
    language: str
    erased_at: dt.datetime | None


@dataclass(frozen=True)
class AttendeeSession:
    """A live attendee web session and whom it belongs to."""

    id_hash: str
    attendee: Attendee


async def registration(conn: Connection, registration_id: int) -> Attendee | None:
    """One registration by id."""
    row = await conn.fetch_one(registrations.select().where(registrations.c.id == registration_id))
    return to_dataclass(Attendee, row) if row else None


async def registration_by_email(conn: Connection, event_id: int, email: str) -> Attendee | None:
    """The event's (not erased) registration for an address, compared case-insensitively."""
    row = await conn.fetch_one(
        registrations.select().where(
            registrations.c.event_id == event_id,
            registrations.c.email_normalised == normalise_email(email),
            registrations.c.erased_at.is_(None),
        )
    )
    return to_dataclass(Attendee, row) if row else None


async def attendee_session(
    conn: Connection, raw_sid: str | None, event_id: int, idle: dt.timedelta
) -> AttendeeSession | None:
    """The live attendee session of this browser for this event (None for staff, other events, erased people)."""
    if not raw_sid:
        return None
    session = await sessions.load(conn, raw_sid, idle)
    if session is None or session.kind != "attendee" or session.event_id != event_id:
        return None
    assert session.registration_id is not None
    attendee = await registration(conn, session.registration_id)
    if attendee is None or attendee.erased_at is not None or attendee.event_id != event_id:
        return None
    return AttendeeSession(session.id_hash, attendee)


# The join link and the stream page each read their event and their attendee in one prepared statement.
_ATTENDEE = [registrations.c[f.name].label(f"attendee_{f.name}") for f in fields(Attendee)]
_EVENT_AND_REGISTRATION = Prepared(
    sa.select(events, *_ATTENDEE)
    .select_from(events.outerjoin(registrations, registrations.c.id == sa.bindparam("registration_id", type_=BigId)))
    .where(events.c.slug == sa.bindparam("slug"))
)
_EVENT_AND_VIEWER = Prepared(
    sa.select(events, web_sessions.c.id_hash.label("session_id"), web_sessions.c.last_seen_at, *_ATTENDEE)
    .select_from(
        events.outerjoin(
            web_sessions,
            sa.and_(
                web_sessions.c.id_hash == sa.bindparam("session_id"),
                web_sessions.c.kind == "attendee",
                web_sessions.c.event_id == events.c.id,
                sessions.live(sa.bindparam("at", type_=UTCDateTime), sa.bindparam("idle_since", type_=UTCDateTime)),
            ),
        ).outerjoin(
            registrations,
            sa.and_(
                registrations.c.id == web_sessions.c.registration_id,
                registrations.c.event_id == events.c.id,
                registrations.c.erased_at.is_(None),
            ),
        )
    )
    .where(events.c.slug == sa.bindparam("slug"))
)


def _attendee(row: Any) -> Attendee | None:
    if row["attendee_id"] is None:
        return None
    return Attendee(**{f.name: row[f"attendee_{f.name}"] for f in fields(Attendee)})


async def event_and_registration(
    db: DB, slug: str, registration_id: int | None
) -> tuple[Event, Attendee | None] | None:
    """The event with this slug and the registration with this id (any event's: the caller checks), if any."""
    row = await db.one(_EVENT_AND_REGISTRATION, {"slug": slug, "registration_id": registration_id})
    return (to_dataclass(Event, row), _attendee(row)) if row else None


async def event_and_viewer(
    db: DB, slug: str, raw_sid: str | None, idle: dt.timedelta
) -> tuple[Event, AttendeeSession | None] | None:
    """The event with this slug and the live attendee session (with its registration) this browser has for it."""
    at = now()
    session_id = sessions.id_hash(raw_sid) if raw_sid else ""  # "" is no session's: they are SHA-256 hex
    row = await db.one(_EVENT_AND_VIEWER, {"slug": slug, "session_id": session_id, "at": at, "idle_since": at - idle})
    if row is None:
        return None
    attendee = _attendee(row)
    if attendee is None:
        return to_dataclass(Event, row), None
    if sessions.touch_due(row["last_seen_at"], at):
        async with db.connection() as conn:
            await sessions.touch(conn, row["session_id"], at)
    return to_dataclass(Event, row), AttendeeSession(row["session_id"], attendee)
