"""The registration hot path on PostgreSQL: three statements on the raw asyncpg connection instead of ~13.

Used for the common case only (PostgreSQL, no capacity, registration open, consent current, new address):
the event, its consent text, its organiser's name and a pre-allocated registration id come in one query;
the registration, its consents and its e-mail go in with one atomic statement (a chain of data-modifying
CTEs). Anything else — a duplicate address, consent changed meanwhile — inserts nothing and the caller
falls back to `services.register`, which handles every case (and SQLite) in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from databases.core import Connection

from webinar.accounts.passwords import hash_password
from webinar.clock import now
from webinar.events.queries import ConsentText, Event, to_dataclass
from webinar.mail.outbox import new_message_id
from webinar.registration import notifications
from webinar.registration.forms import RegistrationData
from webinar.registration.notifications import Mailer
from webinar.registration.queries import Registration
from webinar.registration.services import RequestMeta
from webinar.text import normalise_email, search_key

EVENT_SQL = """
SELECT e.*, o.name AS organisation_name, nextval('registrations_id_seq') AS next_registration_id,
       c.id AS consent_id, c.version AS consent_version, c.text AS consent_text, c.sha256 AS consent_sha256,
       c.created_at AS consent_created_at
FROM events e
JOIN organisations o ON o.id = e.organisation_id
LEFT JOIN LATERAL (
    SELECT * FROM consent_texts ct WHERE ct.event_id = e.id ORDER BY ct.version DESC LIMIT 1
) c ON true
WHERE e.slug = $1
"""

# One statement, so one implicit transaction: all three inserts happen, or none does.
INSERT_SQL = """
WITH reg AS (
    INSERT INTO registrations (id, event_id, email, email_normalised, first_name, last_name, job_title, member_id,
                               organisation, phone, password_hash, search_text, status, marketing_opt_in,
                               token_version, language, created_at, updated_at)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $16, $16
    WHERE (SELECT max(version) FROM consent_texts WHERE event_id = $2) = $17
    ON CONFLICT (event_id, email_normalised) DO NOTHING
    RETURNING id
), consents AS (
    INSERT INTO consent_records (registration_id, event_id, purpose, action, consent_text_id, text_version,
                                 text_sha256, recorded_at, ip, user_agent)
    SELECT reg.id, $2, p.purpose, 'given',
           CASE WHEN p.purpose = 'processing' THEN $18::bigint END,
           CASE WHEN p.purpose = 'processing' THEN $17::int END,
           CASE WHEN p.purpose = 'processing' THEN $19::varchar END,
           $16, $20, $21
    FROM reg, unnest($22::varchar[]) WITH ORDINALITY AS p(purpose, n)
    ORDER BY p.n
)
INSERT INTO outbox (event_id, registration_id, kind, to_address, subject, body_text, body_html, ics, headers_json,
                    message_id, status, attempts, created_at, next_attempt_at)
SELECT $2, reg.id, $23, $3, $24, $25, $26, $27, $29, $28, 'queued', 0, $16, $16
FROM reg
RETURNING registration_id
"""


@dataclass(frozen=True)
class EventContext:
    """What the hot path reads in its first query."""

    event: Event
    consent: ConsentText | None
    organiser: str
    next_registration_id: int


async def load(conn: Connection, slug: str) -> EventContext | None:
    """The event by slug with its current consent text, organiser and a fresh registration id (one query)."""
    row = await conn.raw_connection.fetchrow(EVENT_SQL, slug)
    if row is None:
        return None
    consent = None
    if row["consent_id"] is not None:
        fields = ("id", "event_id", "version", "text", "sha256", "created_at")
        consent = to_dataclass(ConsentText, {f: row["consent_" + f] if f != "event_id" else row["id"] for f in fields})
    event = to_dataclass(Event, _utc(dict(row)))
    return EventContext(event, consent, row["organisation_name"], int(row["next_registration_id"]))


def _utc(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.astimezone(dt.UTC) if isinstance(v, dt.datetime) else v for k, v in values.items()}


def applies(event: Event, consent: ConsentText | None) -> bool:
    """Whether the hot path may try this event (capacity needs the locking path)."""
    return event.capacity is None and consent is not None


async def register(
    conn: Connection,
    mailer: Mailer,
    ctx: EventContext,
    data: RegistrationData,
    meta: RequestMeta,
    language: str | None = None,
) -> bool:
    """Insert the registration, its consents and its first e-mail in one statement; False when nothing was."""
    event, consent = ctx.event, ctx.consent
    assert consent is not None
    at = now()
    password_hash = await hash_password(data.password) if data.password else None
    reg = Registration(
        id=ctx.next_registration_id, event_id=event.id, email=data.email, email_normalised=normalise_email(data.email),
        first_name=data.first_name, last_name=data.last_name, job_title=data.job_title, member_id=data.member_id,
        organisation=data.organisation, phone=data.phone, status="approved" if event.approval == "auto" else "pending",
        marketing_opt_in=data.marketing, token_version=1, language=language or event.language, created_at=at,
        updated_at=at,
        decided_at=None, erased_at=None,
    )  # fmt: skip
    kind = "confirmation" if reg.status == "approved" else "received"
    mail = notifications.compose(mailer, kind, event, reg, ctx.organiser)
    purposes = ["processing"] + (["marketing"] if data.marketing else []) + (["age"] if data.age_confirmed else [])
    inserted = await conn.raw_connection.fetchval(
        INSERT_SQL,
        reg.id, event.id, reg.email, reg.email_normalised, reg.first_name, reg.last_name, reg.job_title,
        reg.member_id, reg.organisation, reg.phone, password_hash,
        search_key(data.first_name, data.last_name, data.email), reg.status, reg.marketing_opt_in, reg.language, at,
        data.consent_version, consent.id, consent.sha256, meta.ip[:45] or None, meta.user_agent[:500] or None,
        purposes, kind, mail.subject, mail.text, mail.html, mail.ics, new_message_id(mailer.settings.mail_from),
        json.dumps(mail.headers),
    )  # fmt: skip
    return inserted is not None
