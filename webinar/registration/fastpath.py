"""The registration hot path: the common case in as few trips to the database as each engine allows.

Used for the common case only (no capacity, registration open, consent current, new address). The event, its
consent text and its organiser's name come in one query. Then:

- PostgreSQL (the first query also pre-allocates the registration id): the registration, its consents and its
  e-mail go in with one atomic statement (a chain of data-modifying CTEs) on the raw asyncpg connection.
- SQLite: holding the process's write lock, one hand-off to the connection's thread instead of one per
  statement: BEGIN, the consent check, the registration, its consents, its e-mail and COMMIT.

The e-mail is queued unwritten: the sender writes it (registration/notifications.py).

Anything else — a duplicate address, consent changed meanwhile — inserts nothing and the caller falls back to
`services.register`, which handles every case in one transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.accounts.passwords import hash_password
from webinar.clock import now
from webinar.db import dialect_name, sqlite_connection
from webinar.dbbackends import Prepared
from webinar.events.queries import ConsentText, Event, to_dataclass
from webinar.mail.outbox import new_message_id
from webinar.registration import notifications
from webinar.registration.forms import RegistrationData
from webinar.registration.notifications import Mailer
from webinar.registration.services import RequestMeta, consent_values, registration_values
from webinar.tables import consent_records, consent_texts, events, organisations, registrations
from webinar.tables import outbox as outbox_table

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
SELECT $2, reg.id, $23, $3, '', '', '', NULL, '{}', $24, 'queued', 0, $16, $16
FROM reg
RETURNING registration_id
"""


_CT = consent_texts.alias("ct")
_LATEST_CONSENT = (
    sa.select(_CT.c.id).where(_CT.c.event_id == events.c.id).order_by(_CT.c.version.desc()).limit(1).scalar_subquery()
)
_SQLITE_EVENT = sa.select(
    events,
    organisations.c.name.label("organisation_name"),
    *(consent_texts.c[f].label(f"consent_{f}") for f in ("id", "version", "text", "sha256", "created_at")),
).select_from(
    events.join(organisations, organisations.c.id == events.c.organisation_id).outerjoin(
        consent_texts, consent_texts.c.id == _LATEST_CONSENT
    )
)
_SQLITE_CONSENT_VERSION = "SELECT max(version) FROM consent_texts WHERE event_id = ?"
_SQLITE_REGISTRATION = Prepared(
    sqlite_insert(registrations)
    .on_conflict_do_nothing(index_elements=[registrations.c.event_id, registrations.c.email_normalised])
    .returning(registrations.c.id)
)
_SQLITE_CONSENT = Prepared(consent_records.insert())
_SQLITE_OUTBOX = Prepared(outbox_table.insert())


@dataclass(frozen=True)
class EventContext:
    """What the hot path reads in its first query."""

    event: Event
    consent: ConsentText | None
    organiser: str
    next_registration_id: int | None  # PostgreSQL only: SQLite learns the id when it inserts


async def load(conn: Connection, slug: str) -> EventContext | None:
    """The event by slug with its current consent text and organiser (and, on PostgreSQL, a fresh registration
    id), in one query."""
    if dialect_name(conn) == "sqlite":
        record = await conn.fetch_one(_SQLITE_EVENT.where(events.c.slug == slug))
        return _context(record._mapping, None) if record else None
    row = await conn.raw_connection.fetchrow(EVENT_SQL, slug)
    return _context(_utc(dict(row)), int(row["next_registration_id"])) if row else None


def _context(row: Mapping[str, Any], next_registration_id: int | None) -> EventContext:
    consent = None
    if row["consent_id"] is not None:
        fields = ("id", "event_id", "version", "text", "sha256", "created_at")
        consent = to_dataclass(ConsentText, {f: row["consent_" + f] if f != "event_id" else row["id"] for f in fields})
    return EventContext(to_dataclass(Event, row), consent, row["organisation_name"], next_registration_id)


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
    """Insert the registration, its consents and its first e-mail atomically; False when nothing was."""
    event, consent = ctx.event, ctx.consent
    assert consent is not None
    at = now()
    password_hash = await hash_password(data.password) if data.password else None
    values = registration_values(event, data, password_hash, language or event.language, at)
    consents = consent_values(0, event.id, consent, data, meta, at)  # the id is filled in by the insert
    kind = notifications.first_kind(values["status"])
    if dialect_name(conn) == "sqlite":
        mail = notifications.queued_row(mailer.settings, kind, event.id, 0, data.email)
        work = partial(_register_in_thread, event.id, data.consent_version, values, consents, mail)
        return await sqlite_connection(conn).run_sync(work, writes=True)
    assert ctx.next_registration_id is not None
    v, processing = values, consents[0]
    inserted = await conn.raw_connection.fetchval(
        INSERT_SQL,
        ctx.next_registration_id, event.id, v["email"], v["email_normalised"], v["first_name"], v["last_name"],
        v["job_title"], v["member_id"], v["organisation"], v["phone"], password_hash, v["search_text"], v["status"],
        v["marketing_opt_in"], v["language"], at,
        data.consent_version, consent.id, consent.sha256, processing["ip"], processing["user_agent"],
        [c["purpose"] for c in consents], kind, new_message_id(mailer.settings.mail_from),
    )  # fmt: skip
    return inserted is not None


def _register_in_thread(
    event_id: int,
    consent_version: int,
    values: dict[str, Any],
    consents: list[dict[str, Any]],
    mail: dict[str, Any],
    raw: sqlite3.Connection,
) -> bool:
    """In the connection's thread, one transaction: the registration, its consents and its e-mail if the consent
    text is still the one the person read and the address is new; else nothing (False)."""
    raw.execute("BEGIN IMMEDIATE")
    try:
        (version,) = raw.execute(_SQLITE_CONSENT_VERSION, (event_id,)).fetchone()
        inserted = []
        if version == consent_version:
            inserted = raw.execute(*_SQLITE_REGISTRATION.bind(values)).fetchall()
        if not inserted:
            raw.execute("ROLLBACK")
            return False
        reg_id: int = inserted[0][0]
        for consent in consents:
            raw.execute(*_SQLITE_CONSENT.bind(consent | {"registration_id": reg_id}))
        raw.execute(*_SQLITE_OUTBOX.bind(mail | {"registration_id": reg_id}))
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    return True
