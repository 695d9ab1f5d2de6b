"""The shredder: erase one registration's personal data everywhere it lives, inside the caller's transaction.

One function used by the attendee (/me/erase), by staff (registrant page, event purge) and by retention.
What is removed and what is kept (and why) is written down in docs/privacy.md. Rate-limit counters are not touched:
their keys are HMACs that name nobody (web/ratelimit.py), and resetting them would hand out fresh guesses.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.accounts import sessions
from webinar.clock import now
from webinar.db import to_dataclass
from webinar.evaluation import queries as evaluation_queries
from webinar.registration.fields import erased_values
from webinar.tables import (
    CANCELLABLE,
    answers,
    audit_log,
    certificates,
    consent_records,
    outbox,
    presence_checks,
    registrations,
    viewing_sessions,
    web_sessions,
)

# What an erased e-mail's address, subject and bodies become (the columns are NOT NULL).
PLACEHOLDER = "erased"
REQUESTERS = ("attendee", "staff", "retention")


class Erased(enum.Enum):
    DONE = "done"
    ALREADY = "already"  # erased before: nothing left to remove
    MISSING = "missing"  # no such registration in this event


@dataclass(frozen=True)
class Requester:
    """Who asked for an erasure, for the audit entry (never the erased person's data)."""

    kind: str  # one of REQUESTERS
    actor: str  # "attendee", "retention" or the staff member's e-mail
    staff_id: int | None = None
    ip: str | None = None  # a staff member's address; None for the attendee and retention


@dataclass(frozen=True)
class _Target:
    id: int
    email_normalised: str | None
    status: str
    token_version: int
    erased_at: dt.datetime | None


async def _lock(conn: Connection, event_id: int, registration_id: int) -> _Target | None:
    query = sa.select(
        registrations.c.id,
        registrations.c.email_normalised,
        registrations.c.status,
        registrations.c.token_version,
        registrations.c.erased_at,
    ).where(registrations.c.id == registration_id, registrations.c.event_id == event_id)
    row = await conn.fetch_one(query.with_for_update())  # SQLite has no FOR UPDATE: its writers take turns anyway
    return to_dataclass(_Target, row) if row else None


async def _scrub_registration(conn: Connection, row: _Target, before_end: bool) -> None:
    # Withdrawing before the event ends frees the seat (or the place in line: the waiting list must not promote an
    # erased person); afterwards the status stays so the totals keep their count.
    status = "cancelled" if before_end and row.status in CANCELLABLE else row.status
    at = now()
    await conn.execute(
        registrations.update()
        .where(registrations.c.id == row.id)
        .values(
            **erased_values(),  # every declared personal field (registration/fields.py)
            email_normalised=None,
            password_hash=None,
            search_text="",
            marketing_opt_in=False,
            status=status,
            token_version=row.token_version + 1,  # every join and unsubscribe link issued so far stops working
            erased_at=at,
            updated_at=at,
        )
    )


async def _scrub_related(conn: Connection, registration_id: int) -> None:
    rid = registration_id
    # The answers to the event's custom questions are the person's own words: gone, not blanked. So are their
    # presence checks (when they were shown one and when they answered: a trace of the person's behaviour).
    await conn.execute(answers.delete().where(answers.c.registration_id == rid))
    await conn.execute(presence_checks.delete().where(presence_checks.c.registration_id == rid))
    await evaluation_queries.erase(conn, rid)  # their final evaluation: the result and every option they chose
    # A certificate keeps its number (numbers are never reused) but loses the name and member ID printed on it, and
    # is revoked: its verification page then says "revoked" and shows no initials. A staff reason may name the
    # person, so it goes too.
    cert = certificates.c
    await conn.execute(
        certificates.update()
        .where(cert.registration_id == rid)
        .values(
            full_name=None, member_id=None, reason=PLACEHOLDER, revoked_at=sa.func.coalesce(cert.revoked_at, now()),
            revoked_by=sa.func.coalesce(cert.revoked_by, "erasure"),
        )
    )  # fmt: skip
    await conn.execute(
        consent_records.update().where(consent_records.c.registration_id == rid).values(ip=None, user_agent=None)
    )
    at = now()
    # A page still open is closed now (`logout`: its channel, on whichever worker, closes within a poll); every
    # session keeps its times (the event's traffic), not who or where.
    await conn.execute(
        viewing_sessions.update()
        .where(viewing_sessions.c.registration_id == rid, viewing_sessions.c.ended_at.is_(None))
        .values(ended_at=at, last_seen_at=at, end_reason="logout")
    )
    await conn.execute(
        viewing_sessions.update()
        .where(viewing_sessions.c.registration_id == rid)
        .values(ip=None, user_agent=None, web_session_hash=None)
    )
    await sessions.revoke_all(conn, registration_id=rid)
    await conn.execute(
        web_sessions.update().where(web_sessions.c.registration_id == rid).values(ip=None, user_agent=None)
    )
    await conn.execute(
        outbox.update()
        .where(outbox.c.registration_id == rid, outbox.c.status.in_(("queued", "sending", "failed")))
        .values(status="cancelled", locked_until=None, lock_owner=None)
    )
    await conn.execute(
        outbox.update()
        .where(outbox.c.registration_id == rid)
        .values(
            to_address=PLACEHOLDER,
            subject=PLACEHOLDER,
            body_text=PLACEHOLDER,
            body_html=PLACEHOLDER,
            ics=None,
            headers_json="{}",
            last_error=None,  # an SMTP refusal often quotes the address
        )
    )
    # Audit entries keep what happened and when; their details and the attendee's own IP go.
    await conn.execute(audit_log.update().where(audit_log.c.registration_id == rid).values(details_json="{}"))
    await conn.execute(
        audit_log.update()
        .where(audit_log.c.registration_id == rid, audit_log.c.actor_staff_id.is_(None))
        .values(ip=None)
    )


async def erase(
    conn: Connection, event_id: int, organisation_id: int, registration_id: int, requester: Requester, before_end: bool
) -> Erased:
    """Erase one registration's personal data everywhere, with a `registration.erased` audit entry."""
    assert requester.kind in REQUESTERS
    row = await _lock(conn, event_id, registration_id)
    if row is None:
        return Erased.MISSING
    if row.erased_at is not None:
        return Erased.ALREADY
    await _scrub_registration(conn, row, before_end)
    await _scrub_related(conn, row.id)
    await audit.record(
        conn,
        "registration.erased",
        actor=requester.actor,
        actor_staff_id=requester.staff_id,
        organisation_id=organisation_id,
        event_id=event_id,
        registration_id=row.id,
        ip=requester.ip,
        details={"requested_by": requester.kind},
    )
    return Erased.DONE
