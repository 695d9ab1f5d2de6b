"""Reminders before an event and the follow-up after it (SPEC §12), each queued once per person by the database.

A pass looks at the events with something due and, for each, queues in one transaction the e-mails of everyone due:
one INSERT … SELECT into `scheduled_emails` (its unique key (registration, kind, offset) is what makes each e-mail go
once, whatever the number of workers, restarts or SMTP outages; ON CONFLICT DO NOTHING on both engines), then one
INSERT … SELECT into the outbox of the rows this pass inserted, left for the sender to write like every registrant
e-mail. Nothing loops over the registrants in Python. docs/emails.md says what is sent when, and to whom.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.db import DB, insert_for
from webinar.events.queries import Event, by_id
from webinar.jobs import Context, Job, Lease, Until
from webinar.tables import UTCDateTime, events, outbox, registrations, scheduled_emails

REMINDER, FOLLOWUP = "reminder", "followup"
FOLLOWUP_KINDS = ("followup_attended", "followup_missed")
# A follow-up whose moment passed while the platform was down still goes out, for this long after its moment.
FOLLOWUP_LATE = dt.timedelta(days=7)
LOOK_AHEAD = dt.timedelta(days=60)  # the longest reminder offset the event form accepts
INTERVAL = 10.0  # seconds between passes at most: how late an edit of an event's time is seen (one query if none due)
WAKE_MARGIN = 0.05  # seconds past a reminder's moment the job wakes, so that it finds the moment come


@dataclass(frozen=True)
class Due:
    """What one event has due now: a reminder's offset (minutes before the start), the follow-up, both or neither."""

    event: Event
    offset: int | None
    followup: bool


def reminder_moment(event: Event, offset: int) -> dt.datetime:
    """When the event's reminder at `offset` minutes is due."""
    return event.starts_at - dt.timedelta(minutes=offset)


def current_offset(event: Event, at: dt.datetime) -> int | None:
    """The reminder due at `at`: the smallest offset whose moment has come, while the event has not started. A larger
    offset whose moment also passed (the platform was down for both) is superseded by it: nobody gets "tomorrow" and
    "in an hour" at once, and a reminder never goes out once the event has started."""
    if at >= event.starts_at:
        return None
    due = [o for o in event.reminder_offsets if reminder_moment(event, o) <= at]
    return min(due) if due else None


def followup_moment(event: Event) -> dt.datetime | None:
    """When the event's follow-up goes out (its end plus `followup_after_minutes`), or None without one."""
    if event.followup_after_minutes is None:
        return None
    return event.ends_at + dt.timedelta(minutes=event.followup_after_minutes)


def followup_due(event: Event, at: dt.datetime) -> bool:
    """Whether the follow-up is due at `at`: its moment has come, and not more than FOLLOWUP_LATE ago."""
    moment = followup_moment(event)
    return moment is not None and moment <= at < moment + FOLLOWUP_LATE


async def candidates(conn: Connection, at: dt.datetime) -> list[int]:
    """The ids of the events that may have a reminder or a follow-up due at `at` (not purged; starting within the
    longest offset, or ended within the follow-up's reach)."""
    reach = FOLLOWUP_LATE + dt.timedelta(minutes=60 * 24 * 7)  # the longest follow-up delay the form accepts
    rows = await conn.fetch_all(
        sa.select(events.c.id).where(
            events.c.purged_at.is_(None),
            sa.or_(
                sa.and_(events.c.reminders != "", events.c.starts_at > at, events.c.starts_at <= at + LOOK_AHEAD),
                sa.and_(
                    events.c.followup_after_minutes.is_not(None), events.c.ends_at <= at, events.c.ends_at > at - reach
                ),
            ),
        )
    )
    return [int(row["id"]) for row in rows]


def _approved(event: Event) -> list[sa.ColumnElement[bool]]:
    """The registrants who get the event's scheduled e-mails: approved, and not erased."""
    return [
        registrations.c.event_id == event.id,
        registrations.c.status == "approved",
        registrations.c.email.is_not(None),
    ]


async def _record(
    conn: Connection, event: Event, kind: str, offset: int, who: list[sa.ColumnElement[bool]], batch: str
) -> None:
    """Insert the `scheduled_emails` rows of everyone in `who` not yet recorded, marked with `batch`: ON CONFLICT DO
    NOTHING on the unique key leaves those recorded before alone, and settles a race with another worker's pass, whose
    rows this one waits for (PostgreSQL). No NOT EXISTS beside it: PostgreSQL planned that one as a scan of the
    table being filled for each registrant while the table was new or its statistics old (a first reminder to
    50,000 people ran into the 30 s statement timeout); the conflict is an index probe whatever the plan (104 ms for
    50,000 already recorded, against 63 ms)."""
    at = now()
    rows = sa.select(
        registrations.c.id,
        sa.literal(event.id, sa.BigInteger),
        sa.literal(kind),
        sa.literal(offset),
        sa.literal(batch),
        sa.literal(at, UTCDateTime),
    ).where(*who)
    columns = ["registration_id", "event_id", "kind", "offset_minutes", "batch", "created_at"]
    insert = insert_for(conn, scheduled_emails).from_select(columns, rows)
    await conn.execute(insert.on_conflict_do_nothing(index_elements=["registration_id", "kind", "offset_minutes"]))


async def _enqueue(
    conn: Connection,
    event: Event,
    kind: sa.ColumnElement[str],
    batch: str,
    mail_from: str,
    expires_at: dt.datetime | None,
) -> None:
    """Queue the outbox rows of the `scheduled_emails` rows of `batch`, unwritten (the sender writes each one as it
    sends it, in the registrant's language, as `notifications.compose_queued` does for every registrant e-mail)."""
    at = now()
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    message_id = sa.literal(f"<{batch}.") + sa.cast(scheduled_emails.c.id, sa.String) + sa.literal(f"@{domain}>")
    rows = (
        sa.select(
            sa.literal(event.id, sa.BigInteger),
            registrations.c.id,
            kind,
            registrations.c.email,
            sa.literal(""),
            sa.literal(""),
            sa.literal(""),
            message_id,
            sa.literal(at, UTCDateTime),
            sa.literal(at, UTCDateTime),
            sa.literal(expires_at, UTCDateTime),
        )
        .select_from(scheduled_emails.join(registrations, registrations.c.id == scheduled_emails.c.registration_id))
        .where(scheduled_emails.c.batch == batch)
    )
    columns = ["event_id", "registration_id", "kind", "to_address", "subject", "body_text", "body_html", "message_id"]
    columns += ["created_at", "next_attempt_at"]
    await conn.execute(outbox.insert().from_select([*columns, "expires_at"], rows))


async def queue_reminder(db: DB, event: Event, offset: int, mail_from: str) -> None:
    """Queue the reminder at `offset` minutes to every approved registrant who has not had it and who registered
    (or was approved) before its moment: someone who registers later got their confirmation, with the join link, after
    that moment — a reminder of what they just read would be noise, as Zoom does. It expires at the start."""
    moment = reminder_moment(event, offset)
    joined = sa.func.coalesce(registrations.c.decided_at, registrations.c.created_at)
    who = [*_approved(event), joined <= sa.literal(moment, UTCDateTime)]
    batch = uuid.uuid4().hex
    async with db.transaction() as conn:
        await _record(conn, event, REMINDER, offset, who, batch)
        await _enqueue(conn, event, sa.literal(REMINDER), batch, mail_from, event.starts_at)


# Whether a registration (a column) attended an event: SPEC §13's one rule, `webinar.attendance.queries.attended`,
# which the worker hands in (attendance is a layer above registration: it reads the registrants' fields).
Attended = Callable[[Event, Any], sa.ColumnElement[bool]]


async def queue_followup(db: DB, event: Event, mail_from: str, attended: Attended) -> None:
    """Queue the follow-up to every approved registrant who has not had it: `followup_attended` to those who
    attended (`attended`, the one rule), `followup_missed` to the others. Once per person (offset 0), so nobody gets
    both."""
    kind = sa.case((attended(event, registrations.c.id), FOLLOWUP_KINDS[0]), else_=FOLLOWUP_KINDS[1])
    batch = uuid.uuid4().hex
    async with db.transaction() as conn:
        await _record(conn, event, FOLLOWUP, 0, _approved(event), batch)
        await _enqueue(conn, event, kind, batch, mail_from, None)


async def _candidate_events(db: DB, at: dt.datetime) -> list[Event]:
    """The events that may have something due at `at` or soon after (`candidates`), read."""
    async with db.connection() as conn:
        found = [await by_id(conn, event_id) for event_id in await candidates(conn, at)]
    return [event for event in found if event is not None]


def due(events: list[Event], at: dt.datetime) -> list[Due]:
    """What each of the events has due at `at`."""
    found = []
    for event in events:
        offset, followup = current_offset(event, at), followup_due(event, at)
        if offset is not None or followup:
            found.append(Due(event, offset, followup))
    return found


def next_moment(events: list[Event], at: dt.datetime) -> dt.datetime | None:
    """The first moment after `at` at which one of the events has a reminder (or its follow-up) due."""
    moments = [reminder_moment(event, offset) for event in events for offset in event.reminder_offsets]
    moments += [moment for event in events if (moment := followup_moment(event)) is not None]
    return min((moment for moment in moments if moment > at), default=None)


async def queue_due(ctx: Context, attended: Attended) -> Until | None:
    """One pass: queue every reminder and follow-up that is due now. Each event's e-mails are one transaction, so a
    crash leaves an event either wholly queued or not at all, and the next pass (here or on another worker) carries
    on; a second pass at the same time queues nobody twice. Answers when the next reminder is due, so that the job
    wakes at its moment (a follow-up of an event still running is found by the job's interval, up to INTERVAL late)."""
    at = now()
    events = await _candidate_events(ctx.db, at)
    for item in due(events, at):
        if item.offset is not None:
            await queue_reminder(ctx.db, item.event, item.offset, ctx.settings.mail_from)
        if item.followup:
            await queue_followup(ctx.db, item.event, ctx.settings.mail_from, attended)
    upcoming = next_moment(events, at)
    return Until((upcoming - now()).total_seconds() + WAKE_MARGIN) if upcoming else None


@functools.cache
def job(attended: Attended) -> Job:
    """The reminders' job, splitting the follow-ups by `attended` (handed in by the worker). Its lease keeps two
    workers from doing the same pass twice over (harmless, but wasted); it is not what makes the e-mails go once —
    the unique key of `scheduled_emails` is."""

    async def reminders_pass(ctx: Context) -> Until | None:
        return await queue_due(ctx, attended)

    return Job("reminders", reminders_pass, interval=INTERVAL, lease=Lease(hold=dt.timedelta(minutes=1)))
