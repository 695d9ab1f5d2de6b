"""SQL for attendees: their registration and the attendee session a browser presents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from databases.core import Connection

from webinar.accounts import sessions
from webinar.events.queries import to_dataclass
from webinar.tables import registrations
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
