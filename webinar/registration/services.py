"""Registering and deciding on registrants: each change one transaction, with its consents and e-mail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.accounts.passwords import hash_password
from webinar.clock import now
from webinar.db import DB, dialect_name, insert_for
from webinar.events import queries as event_queries
from webinar.events.queries import ConsentText, Event
from webinar.mail import outbox
from webinar.registration import notifications, queries
from webinar.registration.forms import RegistrationData
from webinar.registration.notifications import Mailer
from webinar.registration.queries import Registration
from webinar.tables import consent_records, events, registrations
from webinar.text import normalise_email, search_key

# A double-click must not become a pile of "you are already registered" e-mails.
DUPLICATE_NOTICE_EVERY = dt.timedelta(minutes=10)

REGISTERED, DUPLICATE, FULL, CLOSED, STALE_CONSENT = "registered", "duplicate", "full", "closed", "stale_consent"


@dataclass(frozen=True)
class RequestMeta:
    """Where a submission came from, kept as proof with each consent."""

    ip: str
    user_agent: str


def window_state(event: Event, at: dt.datetime) -> str:
    """'open', 'not_yet' (before registration opens), 'closed' (after it closes) or 'over' (event ended)."""
    if event.ends_at <= at:
        return "over"
    if event.registration_opens_at and at < event.registration_opens_at:
        return "not_yet"
    if event.registration_closes_at and at >= event.registration_closes_at:
        return "closed"
    return "open"


async def lock_event(conn: Connection, event_id: int) -> None:
    """Hold the event row until the transaction ends, so seat counts cannot race (SQLite: already serialised)."""
    if dialect_name(conn) == "postgresql":
        await conn.fetch_one(sa.select(events.c.id).where(events.c.id == event_id).with_for_update())


def registration_values(
    event: Event, data: RegistrationData, password_hash: str | None, language: str, at: dt.datetime
) -> dict[str, Any]:
    """The `registrations` row of a new registration (without its id)."""
    return {
        "event_id": event.id,
        "email": data.email,
        "email_normalised": normalise_email(data.email),
        "first_name": data.first_name,
        "last_name": data.last_name,
        "job_title": data.job_title,
        "member_id": data.member_id,
        "organisation": data.organisation,
        "phone": data.phone,
        "password_hash": password_hash,
        "search_text": search_key(data.first_name, data.last_name, data.email),
        "status": "approved" if event.approval == "auto" else "pending",
        "marketing_opt_in": data.marketing,
        "token_version": 1,  # the join links' version counter, not a secret  # nosec B105
        "language": language,
        "created_at": at,
        "updated_at": at,
    }


def consent_values(
    reg_id: int, event_id: int, consent: ConsentText, data: RegistrationData, meta: RequestMeta, at: dt.datetime
) -> list[dict[str, Any]]:
    """The `consent_records` rows a registration gives: processing (with the text's version), marketing, age."""
    base = {"registration_id": reg_id, "event_id": event_id, "action": "given", "recorded_at": at}
    base |= {"ip": meta.ip[:45] or None, "user_agent": meta.user_agent[:500] or None}
    no_text = {"consent_text_id": None, "text_version": None, "text_sha256": None}
    rows = [
        base
        | {
            "purpose": "processing",
            "consent_text_id": consent.id,
            "text_version": consent.version,
            "text_sha256": consent.sha256,
        }
    ]
    if data.marketing:
        rows.append(base | no_text | {"purpose": "marketing"})
    if data.age_confirmed:
        rows.append(base | no_text | {"purpose": "age"})
    return rows


async def _insert(
    conn: Connection, event: Event, data: RegistrationData, password_hash: str | None, language: str
) -> int | None:
    stmt = insert_for(conn, registrations).values(**registration_values(event, data, password_hash, language, now()))
    stmt = stmt.on_conflict_do_nothing(index_elements=[registrations.c.event_id, registrations.c.email_normalised])
    new_id: int | None = await conn.fetch_val(stmt.returning(registrations.c.id))
    return new_id


async def _record_consents(
    conn: Connection, reg_id: int, event_id: int, consent: ConsentText, data: RegistrationData, meta: RequestMeta
) -> None:
    for row in consent_values(reg_id, event_id, consent, data, meta, now()):
        await conn.execute(consent_records.insert().values(**row))


async def _already_registered(conn: Connection, mailer: Mailer, event: Event, email_normalised: str) -> str:
    # Locking the row makes simultaneous duplicates take turns, so only the first one queues a notice.
    existing = await queries.by_email(conn, event.id, email_normalised, lock=True)
    if existing is None or existing.email is None:
        return DUPLICATE
    if not await outbox.sent_recently(conn, existing.id, "already_registered", DUPLICATE_NOTICE_EVERY):
        await notifications.queue(conn, mailer, "already_registered", event, existing)
    return DUPLICATE


async def register(
    db: DB, mailer: Mailer, event: Event, data: RegistrationData, meta: RequestMeta, language: str | None = None
) -> str:
    """Register one person with their consents and first e-mail, atomically; returns the outcome.

    `language` is the one the person read the form in (default: the event's); their e-mails are written in it.
    """
    password_hash = await hash_password(data.password) if data.password else None
    async with db.transaction() as conn:
        if window_state(event, now()) != "open":
            return CLOSED
        consent = await event_queries.current_consent(conn, event.id)
        if consent is None or consent.version != data.consent_version:
            return STALE_CONSENT
        email_normalised = normalise_email(data.email)
        if event.capacity is not None:
            await lock_event(conn, event.id)
        if await queries.by_email(conn, event.id, email_normalised) is not None:
            return await _already_registered(conn, mailer, event, email_normalised)
        if event.capacity is not None and await queries.seats_taken(conn, event.id) >= event.capacity:
            return FULL
        reg_id = await _insert(conn, event, data, password_hash, language or event.language)
        if reg_id is None:  # a simultaneous identical submission won the race
            return await _already_registered(conn, mailer, event, email_normalised)
        await _record_consents(conn, reg_id, event.id, consent, data, meta)
        reg = await queries.by_id(conn, event.id, reg_id)
        assert reg is not None
        await notifications.queue(conn, mailer, notifications.first_kind(reg.status), event, reg)
    return REGISTERED


@dataclass(frozen=True)
class Actor:
    """The staff member deciding, for the audit log."""

    staff_id: int
    email: str
    ip: str


def _next_status(reg: Registration, decision: str) -> str | None:
    if decision == "approve" and reg.status in ("pending", "rejected"):
        return "approved"
    if decision == "reject" and reg.status in ("pending", "approved"):
        return "rejected"
    return None


async def _decide_one(conn: Connection, mailer: Mailer, event: Event, reg_id: int, decision: str, actor: Actor) -> bool:
    await lock_event(conn, event.id)
    row = await conn.fetch_one(
        sa.select(registrations.c.id)
        .where(registrations.c.id == reg_id, registrations.c.event_id == event.id)
        .with_for_update()
    )
    reg = await queries.by_id(conn, event.id, reg_id) if row else None
    if reg is None or reg.email is None or reg.erased_at is not None:
        return False
    status = _next_status(reg, decision)
    if status is None:
        return False
    if reg.status == "rejected" and event.capacity is not None:
        if await queries.seats_taken(conn, event.id) >= event.capacity:
            return False
    # Rejecting someone already approved revokes the join links they were sent.
    version = reg.token_version + (1 if reg.status == "approved" else 0)
    at = now()
    await conn.execute(
        registrations.update()
        .where(registrations.c.id == reg.id)
        .values(status=status, decided_at=at, decided_by=actor.staff_id, updated_at=at, token_version=version)
    )
    updated = await queries.by_id(conn, event.id, reg.id)
    assert updated is not None
    await notifications.queue(conn, mailer, status, event, updated)
    await audit.record(
        conn,
        f"registration.{status}",
        actor=actor.email,
        actor_staff_id=actor.staff_id,
        organisation_id=event.organisation_id,
        event_id=event.id,
        registration_id=reg.id,
        ip=actor.ip,
        details={"from": reg.status, "to": status},
    )
    return True


async def decide(db: DB, mailer: Mailer, event: Event, ids: list[int], decision: str, actor: Actor) -> int:
    """Approve or reject registrants of one event, each in its own transaction with its e-mail; returns how many."""
    assert decision in ("approve", "reject")
    changed = 0
    for reg_id in dict.fromkeys(ids):
        async with db.transaction() as conn:
            changed += await _decide_one(conn, mailer, event, reg_id, decision, actor)
    return changed
