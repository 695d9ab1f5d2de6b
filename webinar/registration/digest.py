"""Registrations waiting for approval: how many a staff member's scope holds (the back office's badge), and the
daily e-mail that tells an organisation's organisers about them (docs/registration.md, "Approval")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.db import to_dataclass
from webinar.jobs import Context, Job, Lease
from webinar.mail import outbox
from webinar.mail.render import render_email
from webinar.tables import events, registrations, staff_users

# The digest goes once a day, from this hour of the morning in this time zone (the platform's clients' own).
ZONE = ZoneInfo("Europe/Bucharest")
HOUR = 8
INTERVAL = 300.0  # seconds between passes: the digest goes within five minutes of the hour


def _waiting(organisation_id: int | None) -> list[sa.ColumnElement[bool]]:
    """The rule of a registration that waits for a decision: pending, for an event not cancelled, purged or over
    (deciding after the end is moot); of one organisation when given."""
    where = [
        registrations.c.status == "pending",
        events.c.cancelled_at.is_(None),
        events.c.purged_at.is_(None),
        events.c.ends_at > now(),
    ]
    return where + ([events.c.organisation_id == organisation_id] if organisation_id is not None else [])


_JOINED = registrations.join(events, events.c.id == registrations.c.event_id)


async def pending_count(conn: Connection, organisation_id: int | None) -> int:
    """How many registrations wait for approval in one organisation's events (every organisation's: None)."""
    query = sa.select(sa.func.count()).select_from(_JOINED).where(*_waiting(organisation_id))
    return int(await conn.fetch_val(query))


@dataclass(frozen=True)
class Waiting:
    """One event with registrations waiting for approval."""

    event_id: int
    title: str
    starts_at: dt.datetime
    timezone: str
    pending: int


async def waiting_by_event(conn: Connection, organisation_id: int) -> list[Waiting]:
    """The organisation's events with registrations waiting for approval, soonest first."""
    query = (
        sa.select(
            events.c.id.label("event_id"), events.c.title, events.c.starts_at, events.c.timezone,
            sa.func.count().label("pending"),
        )
        .select_from(_JOINED)
        .where(*_waiting(organisation_id))
        .group_by(events.c.id, events.c.title, events.c.starts_at, events.c.timezone)
        .order_by(events.c.starts_at, events.c.id)
    )  # fmt: skip
    return [to_dataclass(Waiting, row) for row in await conn.fetch_all(query)]


@dataclass(frozen=True)
class Organiser:
    id: int
    email: str
    language: str
    organisation_id: int


def _not_yet(today: dt.date) -> sa.ColumnElement[bool]:
    return sa.or_(staff_users.c.approval_digest_on.is_(None), staff_users.c.approval_digest_on < today)


async def _due(conn: Connection, today: dt.date) -> list[Organiser]:
    """The active organisers who want the digest, have not had today's, and whose organisation has someone waiting."""
    s = staff_users.c
    has_waiting = sa.exists().select_from(_JOINED).where(*_waiting(None), events.c.organisation_id == s.organisation_id)
    query = sa.select(s.id, s.email, s.language, s.organisation_id).where(
        s.role == "organiser", s.is_active, s.approval_digest, _not_yet(today), has_waiting
    )
    return [to_dataclass(Organiser, row) for row in await conn.fetch_all(query.order_by(staff_users.c.id))]


async def send_digests(ctx: Context, at: dt.datetime) -> int:
    """Queue today's digest to every organiser it is due to, each in one transaction with the day recorded; returns
    how many were queued. The conditional UPDATE of the day is what makes it once per person and day: a second pass
    at the same time (another worker) finds the day taken and queues nothing."""
    today, queued = at.astimezone(ZONE).date(), 0
    async with ctx.db.connection() as conn:
        due = await _due(conn, today)
    for person in due:
        async with ctx.db.transaction() as conn:
            taken = await conn.fetch_val(
                staff_users.update()
                .where(staff_users.c.id == person.id, _not_yet(today))
                .values(approval_digest_on=today)
                .returning(staff_users.c.id)
            )
            waiting = await waiting_by_event(conn, person.organisation_id) if taken is not None else []
            if waiting:
                await _queue(conn, ctx, person, waiting)
                queued += 1
    return queued


async def _queue(conn: Connection, ctx: Context, person: Organiser, waiting: list[Waiting]) -> None:
    base = ctx.settings.base_url
    context = {
        "waiting": waiting,
        "total": sum(w.pending for w in waiting),
        "base_url": base,
        "back_office_url": f"{base}/admin/",
        "account_url": f"{base}/admin/account",
    }
    rendered = render_email(ctx.env, "approvals_digest", context, person.language)
    await outbox.enqueue(
        conn, kind="approvals_digest", to_address=person.email, subject=rendered.subject, body_text=rendered.text,
        body_html=rendered.html, mail_from=ctx.settings.mail_from,
    )  # fmt: skip


async def digest_pass(ctx: Context) -> bool:
    """One pass of the digest job: nothing before HOUR in ZONE, then each organiser's digest of the day."""
    at = now()
    if at.astimezone(ZONE).hour >= HOUR:
        await send_digests(ctx, at)
    return False


# The lease spares a second worker the same pass; the day recorded per person is what sends each digest once.
JOB = Job("approvals-digest", digest_pass, interval=INTERVAL, lease=Lease(hold=dt.timedelta(minutes=2)))
