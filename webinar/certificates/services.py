"""Issuing a certificate (on the first download after the end, to a person who qualifies; the same one afterwards)
and revoking one. The reasons a person gets none are here, once, for the 403 page."""

from __future__ import annotations

import datetime as dt
import enum
import sqlite3
from dataclasses import dataclass

import asyncpg
import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.attendance import queries as attendance
from webinar.certificates import numbers, queries
from webinar.certificates.queries import Certificate
from webinar.clock import now
from webinar.db import DB
from webinar.events.queries import Event
from webinar.i18n import N_
from webinar.tables import events
from webinar.webhooks import queue as webhooks


class Refusal(enum.Enum):
    """Why a person gets no certificate (the 403 page says which)."""

    OFF = N_("This event does not issue certificates.")
    NOT_OVER = N_("Certificates are issued after the event ends.")
    NOT_APPROVED = N_("Only approved participants get a certificate.")
    NOT_WATCHED = N_("You did not watch the event live.")
    MINUTES = N_("You watched fewer minutes live than this event requires.")
    CHECKS = N_("You did not answer every presence check in time.")
    REVOKED = N_("Your certificate has been revoked.")


def refusal(event: Event, verdict: attendance.Verdict | None, at: dt.datetime) -> Refusal | None:
    """Why this person may not have a certificate now; None when they may."""
    if (off := issuable(event, at)) is not None:
        return off
    if verdict is None:
        return Refusal.NOT_APPROVED
    if verdict.qualifies:
        return None
    if verdict.seconds_live <= 0:
        return Refusal.NOT_WATCHED
    if verdict.checks_answered < event.presence_checks:
        return Refusal.CHECKS
    return Refusal.MINUTES


@dataclass(frozen=True)
class Outcome:
    certificate: Certificate | None
    refused: Refusal | None


def full_name(first_name: str | None, last_name: str | None) -> str:
    """The name as registered, given name first, exactly as typed."""
    return " ".join(part for part in (first_name, last_name) if part)


async def issue(db: DB, event: Event, registration_id: int) -> Outcome:
    """The person's certificate: the one issued before, or a new one when they qualify now (numbered next)."""
    for attempt in (1, 2, 3):
        try:
            return await _issue(db, event, registration_id)
        except (asyncpg.exceptions.UniqueViolationError, sqlite3.IntegrityError):
            if attempt == 3:  # another download took the number (or issued this one) at the same moment: again
                raise
    raise AssertionError("unreachable")


async def _issue(db: DB, event: Event, registration_id: int) -> Outcome:
    async with db.transaction() as conn:
        await _lock(conn, event)
        held = await queries.of_registration(conn, registration_id)
        if held is not None:
            return Outcome(None, Refusal.REVOKED) if held.revoked else Outcome(held, None)
        verdict = await attendance.verdict_of(conn, event, registration_id)
        refused = refusal(event, verdict, now())
        if refused is not None:
            return Outcome(None, refused)
        assert verdict is not None
        await _insert(conn, event, verdict, "attendee")
        issued = await queries.of_registration(conn, registration_id)
    assert issued is not None
    return Outcome(issued, None)


async def _lock(conn: Connection, event: Event) -> None:
    """One issuer per event at a time on PostgreSQL (SQLite's writers take turns anyway): numbers in order."""
    await conn.execute(sa.select(events.c.id).where(events.c.id == event.id).with_for_update())


async def _insert(conn: Connection, event: Event, verdict: attendance.Verdict, actor: str) -> None:
    """Number and store the person's certificate (inside the caller's transaction, the event locked)."""
    sequence = await queries.next_sequence(conn, event.id)
    number = numbers.number(event.certificate_series, sequence, numbers.new_code())
    await queries.insert(
        conn, event_id=event.id, registration_id=verdict.id, sequence=sequence, number=number,
        full_name=full_name(verdict.first_name, verdict.last_name), member_id=verdict.member_id or None,
        minutes=verdict.minutes_live, issued_at=now(),
    )  # fmt: skip
    await audit.record(
        conn, "certificate.issued", actor=actor, organisation_id=event.organisation_id, event_id=event.id,
        registration_id=verdict.id, details={"number": number},
    )  # fmt: skip
    await webhooks.announce(
        conn, "certificate.issued", event.organisation_id, event.id, verdict.id, {"certificate": number}
    )


def issuable(event: Event, at: dt.datetime) -> Refusal | None:
    """Why the event issues no certificates now (off, or not over yet); None when it does."""
    if not event.certificates:
        return Refusal.OFF
    return Refusal.NOT_OVER if at < event.ends_at else None


async def issue_missing(db: DB, event: Event, actor: str) -> int:
    """Issue the certificates of everyone who qualifies and has none yet (the organiser's ZIP); how many were new."""
    if issuable(event, now()) is not None:
        return 0
    issued = 0
    async with db.transaction() as conn:
        await _lock(conn, event)
        held = await queries.issued_to(conn, event.id)
        async for verdict in attendance.all_verdicts(conn, event):
            if verdict.qualifies and verdict.id not in held:
                await _insert(conn, event, verdict, actor)
                issued += 1
    return issued


@dataclass(frozen=True)
class Revoker:
    """The staff member revoking a certificate, for the register and the audit log."""

    email: str
    staff_id: int
    ip: str | None


async def revoke(db: DB, event: Event, certificate_id: int, by: Revoker, reason: str) -> bool | None:
    """Revoke one of the event's certificates (audited): True when done, False when revoked before, None if unknown."""
    async with db.transaction() as conn:
        certificate = await queries.by_id(conn, event.id, certificate_id)
        if certificate is None:
            return None
        if not await queries.revoke(conn, certificate_id, now(), by.email, reason):
            return False
        await audit.record(
            conn, "certificate.revoked", actor=by.email, actor_staff_id=by.staff_id,
            organisation_id=event.organisation_id, event_id=event.id, registration_id=certificate.registration_id,
            ip=by.ip, details={"number": certificate.number, "reason": reason},
        )  # fmt: skip
    return True
