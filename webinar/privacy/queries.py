"""SQL for privacy: everything held about one registration, erased sessions, events past retention."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.accounts import sessions
from webinar.db import to_dataclass
from webinar.events.queries import Event, by_id
from webinar.i18n import N_
from webinar.tables import consent_records, consent_texts, events, outbox, registrations, staff_users, web_sessions


@dataclass(frozen=True)
class ConsentWithText:
    """A consent record with the exact wording it refers to (processing consent only has one)."""

    purpose: str
    action: str
    recorded_at: dt.datetime
    text_version: int | None
    text_sha256: str | None
    text_language: str | None  # the language of the wording ticked ('ro', 'en')
    text: str | None
    ip: str | None
    user_agent: str | None
    recorded_by: str | None  # who imported the person (action `imported`): the staff member's e-mail

    @property
    def described(self) -> str:
        """What the record says, in words for the person (a message id: the page translates it)."""
        return CONSENT_WORDS.get((self.purpose, self.action), f"{self.purpose}: {self.action}")


# Each (purpose, action) a consent record can hold, as /me tells it; `imported` has its own sentence there.
CONSENT_WORDS = {
    ("processing", "given"): N_("you agreed to the processing of your data for this event"),
    ("processing", "withdrawn"): N_("you withdrew your agreement to the processing of your data"),
    ("marketing", "given"): N_("you agreed to receive news about this organiser's future events"),
    ("marketing", "withdrawn"): N_("you stopped the news about this organiser's future events"),
    ("age", "given"): N_("you confirmed that you are old enough to register"),
}


@dataclass(frozen=True)
class SentEmail:
    """An e-mail queued for a registration, as the person may see it in their export."""

    kind: str
    to_address: str
    subject: str
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


async def consents_with_text(conn: Connection, registration_id: int) -> list[ConsentWithText]:
    """Every consent record of a registration with its consent wording, oldest first."""
    rows = await conn.fetch_all(
        sa.select(
            consent_records.c.purpose,
            consent_records.c.action,
            consent_records.c.recorded_at,
            consent_records.c.text_version,
            consent_records.c.text_sha256,
            consent_records.c.text_language,
            consent_texts.c.text,
            consent_records.c.ip,
            consent_records.c.user_agent,
            staff_users.c.email.label("recorded_by"),
        )
        .select_from(
            consent_records.outerjoin(consent_texts, consent_texts.c.id == consent_records.c.consent_text_id).outerjoin(
                staff_users, staff_users.c.id == consent_records.c.recorded_by
            )
        )
        .where(consent_records.c.registration_id == registration_id)
        .order_by(consent_records.c.recorded_at, consent_records.c.id)
    )
    return [to_dataclass(ConsentWithText, r) for r in rows]


async def emails(conn: Connection, registration_id: int) -> list[SentEmail]:
    """Every e-mail queued for a registration, oldest first."""
    rows = await conn.fetch_all(
        sa.select(outbox.c.kind, outbox.c.to_address, outbox.c.subject, outbox.c.status, outbox.c.created_at)
        .add_columns(outbox.c.sent_at)
        .where(outbox.c.registration_id == registration_id)
        .order_by(outbox.c.id)
    )
    return [to_dataclass(SentEmail, r) for r in rows]


async def _session_registration(conn: Connection, raw_sid: str | None, event_id: int) -> Any:
    """The registration (erased_at, status) this browser's attendee session, live or revoked, was for at the event."""
    if not raw_sid:
        return None
    return await conn.fetch_one(
        sa.select(registrations.c.erased_at, registrations.c.status)
        .select_from(web_sessions.join(registrations, registrations.c.id == web_sessions.c.registration_id))
        .where(web_sessions.c.id_hash == sessions.id_hash(raw_sid), web_sessions.c.event_id == event_id)
    )


async def session_of_erased(conn: Connection, raw_sid: str | None, event_id: int) -> bool:
    """Whether this browser's (now revoked) attendee session belonged to a registration of the event since erased."""
    row = await _session_registration(conn, raw_sid, event_id)
    return row is not None and row["erased_at"] is not None


async def session_of_cancelled(conn: Connection, raw_sid: str | None, event_id: int) -> bool:
    """Whether this browser's (now revoked) attendee session belonged to a registration of the event since
    cancelled."""
    row = await _session_registration(conn, raw_sid, event_id)
    return row is not None and row["status"] == "cancelled"


async def email_taken(conn: Connection, event_id: int, email_normalised: str, except_id: int) -> bool:
    """Whether another registration of the event uses this address."""
    row = await conn.fetch_one(
        sa.select(registrations.c.id).where(
            registrations.c.event_id == event_id,
            registrations.c.email_normalised == email_normalised,
            registrations.c.id != except_id,
        )
    )
    return row is not None


async def unerased_ids(conn: Connection, event_id: int) -> list[int]:
    """The ids of an event's registrations that still hold personal data."""
    rows = await conn.fetch_all(
        sa.select(registrations.c.id)
        .where(registrations.c.event_id == event_id, registrations.c.erased_at.is_(None))
        .order_by(registrations.c.id)
    )
    return [int(r["id"]) for r in rows]


async def past_retention(conn: Connection, at: dt.datetime) -> list[Event]:
    """Events whose retention period is over and which still hold someone's personal data."""
    has_people = sa.exists().where(registrations.c.event_id == events.c.id, registrations.c.erased_at.is_(None))
    # retention_days >= 1, so only events that ended at least a day ago can qualify; the exact cut-off is in Python.
    rows = await conn.fetch_all(
        sa.select(events.c.id, events.c.ends_at, events.c.retention_days)
        .where(events.c.ends_at < at - dt.timedelta(days=1), has_people)
        .order_by(events.c.ends_at, events.c.id)
    )
    due = [r["id"] for r in rows if r["ends_at"] + dt.timedelta(days=r["retention_days"]) < at]
    found = [await by_id(conn, event_id) for event_id in due]
    return [event for event in found if event is not None]
