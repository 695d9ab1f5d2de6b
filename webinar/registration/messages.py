"""Staff's messages to an event's registrants: who they reach, and one e-mail each queued with one INSERT … SELECT.

The text is the organiser's (placeholders, never a template: webinar/mail/placeholders.py), stored once in
`event_messages`; each e-mail is written by the sender when it goes, in the registrant's language and with their own
links (notifications.compose_queued), so a message to 50,000 people holds its request for two statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.db import to_dataclass
from webinar.mail import outbox
from webinar.mail.texts import EmailText
from webinar.settings import Settings
from webinar.tables import MESSAGE_AUDIENCES, WAITLISTED, event_messages, registrations

KIND = "message"
# `all`: everyone still in, the people a cancellation of the event is told (not the unconfirmed, whose address is not
# proven yet: a form is no spam relay; nor those rejected or who cancelled, unless chosen by their status).
STILL_IN = ("approved", "pending", WAITLISTED)
assert set(STILL_IN) <= set(MESSAGE_AUDIENCES)


@dataclass(frozen=True)
class EventMessage:
    id: int
    event_id: int
    audience: str
    subject: str
    body: str
    recipients: int
    sent_by_email: str
    created_at: dt.datetime

    def as_text(self) -> EmailText:
        """The message as the composer takes an organiser's text."""
        return EmailText(self.event_id, KIND, "", self.subject, self.body, self.sent_by_email, self.created_at)


def statuses(audience: str) -> tuple[str, ...]:
    """The registration statuses an audience is."""
    assert audience in MESSAGE_AUDIENCES
    return STILL_IN if audience == "all" else (audience,)


def _reachable(event_id: int, wanted: Sequence[str]) -> tuple[sa.ColumnElement[bool], ...]:
    """The registrations of the event in these statuses that a message may reach: never an erased one."""
    r = registrations.c
    return r.event_id == event_id, r.status.in_(wanted), r.erased_at.is_(None), r.email.is_not(None)


def recipients(event_id: int, audience: str) -> sa.Select[Any]:
    """The registration id and address of each person a message to the audience reaches."""
    return sa.select(registrations.c.id, registrations.c.email).where(*_reachable(event_id, statuses(audience)))


async def counts(conn: Connection, event_id: int) -> dict[str, int]:
    """How many people a message to each audience would reach now (one grouped count, by the rule of `recipients`)."""
    wanted = sorted({s for a in MESSAGE_AUDIENCES for s in statuses(a)})
    query = sa.select(registrations.c.status, sa.func.count()).where(*_reachable(event_id, wanted))
    by_status = {row[0]: int(row[1]) for row in await conn.fetch_all(query.group_by(registrations.c.status))}
    return {a: sum(by_status.get(s, 0) for s in statuses(a)) for a in MESSAGE_AUDIENCES}


async def queue(
    conn: Connection, settings: Settings, event_id: int, audience: str, subject: str, body: str, staff: tuple[int, str]
) -> tuple[int, int]:
    """Store the message and queue one e-mail to each recipient, inside the caller's transaction; its id and how
    many were queued. `staff` is the sender's id and address."""
    message_id: int = await conn.fetch_val(
        event_messages.insert()
        .values(
            event_id=event_id, audience=audience, subject=subject, body=body, recipients=0, sent_by=staff[0],
            sent_by_email=staff[1], created_at=now(),
        )
        .returning(event_messages.c.id)
    )  # fmt: skip
    queued = await outbox.enqueue_many(
        conn, recipients(event_id, audience), kind=KIND, mail_from=settings.mail_from, event_id=event_id,
        event_message_id=message_id,
    )  # fmt: skip
    await conn.execute(event_messages.update().where(event_messages.c.id == message_id).values(recipients=queued))
    return message_id, queued


async def by_id(conn: Connection, message_id: int) -> EventMessage | None:
    """One message."""
    row = await conn.fetch_one(event_messages.select().where(event_messages.c.id == message_id))
    return to_dataclass(EventMessage, row) if row else None


async def of_event(conn: Connection, event_id: int) -> list[EventMessage]:
    """The event's messages, newest first."""
    query = event_messages.select().where(event_messages.c.event_id == event_id)
    rows = await conn.fetch_all(query.order_by(event_messages.c.id.desc()))
    return [to_dataclass(EventMessage, row) for row in rows]


async def remove_all(conn: Connection, event_id: int) -> None:
    """Delete every message of an event (when its data is purged), inside the caller's transaction."""
    await conn.execute(event_messages.delete().where(event_messages.c.event_id == event_id))
