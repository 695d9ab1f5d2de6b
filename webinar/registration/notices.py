"""E-mails about an event to all its registrants at once: an update of its time or stream, and its cancellation.

Each is queued in the caller's transaction with one INSERT … SELECT, left unwritten for the sender to compose
(notifications.py), so a change that reaches 50,000 people renders nothing while the organiser's request waits. Both
raise the event's `ics_sequence`: every calendar entry sent from then on (these e-mails, and any confirmation after
them) carries the new SEQUENCE with the registrant's same UID, so calendars move or remove the entry they have.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from databases.core import Connection

from webinar import changes
from webinar.accounts import sessions
from webinar.clock import now
from webinar.mail import outbox
from webinar.registration import notifications
from webinar.settings import Settings
from webinar.tables import CANCELLABLE, events, registrations

# The changes that move a registrant's calendar entry or where they watch: these send an update.
NOTIFIED_CHANGES = frozenset({"starts_at", "ends_at", "stream_url", "embed_url"})
UPDATE_TO = ("approved",)  # the people who have the entry and the join link
CANCELLATION_TO = CANCELLABLE  # everyone still counting on the event: approved, pending, waitlisted


def _raised_sequence(event_id: int) -> sa.Update:
    """The statement that raises the event's SEQUENCE (a change of what its page shows: said here at once)."""
    changes.shown_changed()
    at = now()
    return events.update().where(events.c.id == event_id).values(ics_sequence=events.c.ics_sequence + 1, updated_at=at)


def _recipients(event_id: int, statuses: Iterable[str]) -> sa.Select[tuple[int, str]]:
    """The event's registrants in these statuses who still have an address (the erased have none)."""
    r = registrations.c
    return sa.select(r.id, r.email).where(
        r.event_id == event_id, r.status.in_(tuple(statuses)), r.email.is_not(None), r.erased_at.is_(None)
    )


async def _queue_to_all(conn: Connection, settings: Settings, kind: str, event_id: int, statuses: Iterable[str]) -> int:
    assert kind in notifications.KINDS
    recipients = _recipients(event_id, statuses)
    return await outbox.enqueue_many(conn, recipients, kind=kind, mail_from=settings.mail_from, event_id=event_id)


async def announce_change(conn: Connection, settings: Settings, event_id: int, changed: Iterable[str]) -> int | None:
    """After a change of a scheduled event (inside its transaction): when `changed` names its time or stream, raise its
    SEQUENCE and queue an update for each approved registrant, withdrawing the updates still queued (the new one
    says it all); returns how many were queued, or None when the change sends nothing."""
    if not NOTIFIED_CHANGES & set(changed):
        return None
    status = await conn.fetch_val(sa.select(events.c.status).where(events.c.id == event_id))
    if status != "scheduled":  # a cancelled event's registrants were told already
        return None
    await conn.execute(_raised_sequence(event_id))
    await outbox.withdraw_queued(conn, event_id, "update", "superseded by a later update")
    return await _queue_to_all(conn, settings, "update", event_id, UPDATE_TO)


async def cancel_event(conn: Connection, settings: Settings, event_id: int) -> int | None:
    """Cancel a scheduled event (inside the caller's transaction, which holds the event's row): its status, when, a
    higher SEQUENCE, and the `event_cancelled` e-mail queued for each approved, pending and waitlisted registrant;
    returns how many, or None when the event is not scheduled (cancelled already)."""
    at = now()
    cancelled = await conn.fetch_val(
        _raised_sequence(event_id)
        .where(events.c.status == "scheduled")
        .values(status="cancelled", cancelled_at=at)
        .returning(events.c.id)
    )
    if cancelled is None:
        return None
    await outbox.withdraw_queued(conn, event_id, "update", "the event was cancelled")
    await sessions.end_event(conn, event_id)  # the stream pages still open close within a poll
    return await _queue_to_all(conn, settings, "event_cancelled", event_id, CANCELLATION_TO)
