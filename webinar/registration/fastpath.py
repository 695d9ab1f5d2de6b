"""The registration hot path: the common case in as few trips to the database as each engine allows.

Used for the common case only (no capacity, registration open, consent current, new address). The event, its
current consent text and its `updated_at` are kept per process for a short while (`Contexts`), so the form is
checked against them without a query; the write then proves they are still current, which makes the copy safe
to keep: an edited, purged or deleted event, or a new consent text, inserts nothing. The write, with the
per-address rate limit counted in the same transaction:

- PostgreSQL: one statement (a chain of data-modifying CTEs) on a raw asyncpg connection: the count, the
  check, the registration, its consents and its e-mail, atomically. One round trip per registration.
- SQLite: holding the process's write lock, one hand-off to the connection's thread: BEGIN, the count, the
  check, the registration, its consents, its e-mail and COMMIT.

The e-mail is queued unwritten: the sender writes it (registration/notifications.py).

Anything else (a duplicate address, the event or its consent text changed) inserts nothing but the count, and
the caller falls back to `services.register`, which handles every case in one transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.accounts.passwords import hash_password
from webinar.clock import now
from webinar.db import DB, dialect_name, sqlite_connection
from webinar.dbbackends import Prepared
from webinar.events.queries import ConsentText, Event, to_dataclass
from webinar.mail.outbox import new_message_id
from webinar.registration import notifications
from webinar.registration.forms import RegistrationData
from webinar.registration.notifications import Mailer
from webinar.registration.services import RequestMeta, consent_values, registration_values
from webinar.tables import UTCDateTime, consent_records, consent_texts, events, registrations
from webinar.tables import outbox as outbox_table
from webinar.web.ratelimit import Limit, pg_hit

# What `register` found: the registration is in; or nothing is (but the rate limit's count), because the address
# is already registered, or because the event or its consent text is no longer the one the form was checked
# against (STALE). Either way the caller goes on with the general path, on the event read afresh.
REGISTERED, NOT_NEW, STALE = "registered", "not_new", "stale"

EVENT_SQL = """
SELECT e.*, c.id AS consent_id, c.version AS consent_version, c.text AS consent_text, c.sha256 AS consent_sha256,
       c.created_at AS consent_created_at
FROM events e
LEFT JOIN LATERAL (
    SELECT * FROM consent_texts ct WHERE ct.event_id = e.id ORDER BY ct.version DESC LIMIT 1
) c ON true
WHERE e.slug = $1
"""

# One statement, so one implicit transaction: the rate limit's count always; the registration, its consents and
# its e-mail all or none, only while the event is as it was read ($22: updated_at, not purged) with the same
# current consent text ($15), and the count is within the limit ($25).
INSERT_SQL = f"""
WITH hit AS ({pg_hit("$23", "$24")}), fresh AS (
    SELECT max(ct.version) = $15 AS consent_current
    FROM events e LEFT JOIN consent_texts ct ON ct.event_id = e.id
    WHERE e.id = $1 AND e.updated_at = $22 AND e.purged_at IS NULL
    GROUP BY e.id
), reg AS (
    INSERT INTO registrations (event_id, email, email_normalised, first_name, last_name, job_title, member_id,
                               organisation, phone, password_hash, search_text, status, marketing_opt_in,
                               token_version, language, created_at, updated_at)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $16, $16
    FROM fresh, hit
    WHERE fresh.consent_current AND hit.hits <= $25
    ON CONFLICT (event_id, email_normalised) DO NOTHING
    RETURNING id
), consents AS (
    INSERT INTO consent_records (registration_id, event_id, purpose, action, consent_text_id, text_version,
                                 text_sha256, recorded_at, ip, user_agent)
    SELECT reg.id, $1, p.purpose, 'given',
           CASE WHEN p.purpose = 'processing' THEN $17::bigint END,
           CASE WHEN p.purpose = 'processing' THEN $15::int END,
           CASE WHEN p.purpose = 'processing' THEN $18::varchar END,
           $16, $19, $20
    FROM reg, unnest($21::varchar[]) WITH ORDINALITY AS p(purpose, n)
    ORDER BY p.n
), mail AS (
    INSERT INTO outbox (event_id, registration_id, kind, to_address, subject, body_text, body_html, ics,
                        headers_json, message_id, status, attempts, created_at, next_attempt_at)
    SELECT $1, reg.id, $26, $2, '', '', '', NULL, '{{}}', $27, 'queued', 0, $16, $16
    FROM reg
)
SELECT (SELECT hits FROM hit) AS hits, (SELECT consent_current FROM fresh) AS fresh, (SELECT id FROM reg) AS id
"""  # noqa: S608  # nosec B608 - only the rate limit's constant statement is put in; values are bound


_CT = consent_texts.alias("ct")
_LATEST_CONSENT = (
    sa.select(_CT.c.id).where(_CT.c.event_id == events.c.id).order_by(_CT.c.version.desc()).limit(1).scalar_subquery()
)
_SQLITE_EVENT = sa.select(
    events, *(consent_texts.c[f].label(f"consent_{f}") for f in ("id", "version", "text", "sha256", "created_at"))
).select_from(events.outerjoin(consent_texts, consent_texts.c.id == _LATEST_CONSENT))
_SQLITE_FRESH = Prepared(
    sa.select(
        sa.select(sa.func.max(consent_texts.c.version)).where(consent_texts.c.event_id == events.c.id).scalar_subquery()
    ).where(
        events.c.id == sa.bindparam("event_id"),
        events.c.updated_at == sa.bindparam("updated_at", type_=UTCDateTime),
        events.c.purged_at.is_(None),
    )
)
_SQLITE_REGISTRATION = Prepared(
    sqlite_insert(registrations)
    .on_conflict_do_nothing(index_elements=[registrations.c.event_id, registrations.c.email_normalised])
    .returning(registrations.c.id)
)
_SQLITE_CONSENT = Prepared(consent_records.insert())
_SQLITE_OUTBOX = Prepared(outbox_table.insert())


@dataclass(frozen=True)
class EventContext:
    """What the hot path needs of an event: the event and its current consent text."""

    event: Event
    consent: ConsentText | None


class Contexts:
    """Each process's recent copies of event contexts by slug. A copy is only ever used by `register`, which
    writes nothing if it is out of date, so a short life here bounds memory, not correctness."""

    SECONDS = 30.0
    MOST = 1000

    def __init__(self) -> None:
        self._kept: dict[str, tuple[float, EventContext]] = {}

    async def get(self, db: DB, slug: str, fresh: bool = False) -> EventContext | None:
        """The event context for `slug` (None when there is no such event): the copy while it is young, unless
        `fresh` (read now, and kept)."""
        kept = self._kept.get(slug)
        if not fresh and kept is not None and time.monotonic() - kept[0] < self.SECONDS:
            return kept[1]
        async with db.connection() as conn:
            ctx = await load(conn, slug)
        if len(self._kept) >= self.MOST:
            self._kept.clear()
        if ctx is None:
            self._kept.pop(slug, None)
        else:
            self._kept[slug] = (time.monotonic(), ctx)
        return ctx


async def load(conn: Connection, slug: str) -> EventContext | None:
    """The event by slug with its current consent text, in one query."""
    if dialect_name(conn) == "sqlite":
        record = await conn.fetch_one(_SQLITE_EVENT.where(events.c.slug == slug))
        return _context(record._mapping) if record else None
    row = await conn.raw_connection.fetchrow(EVENT_SQL, slug)
    return _context(_utc(dict(row))) if row else None


def _context(row: Mapping[str, Any]) -> EventContext:
    consent = None
    if row["consent_id"] is not None:
        fields = ("id", "event_id", "version", "text", "sha256", "created_at")
        consent = to_dataclass(ConsentText, {f: row["consent_" + f] if f != "event_id" else row["id"] for f in fields})
    return EventContext(to_dataclass(Event, row), consent)


def _utc(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.astimezone(dt.UTC) if isinstance(v, dt.datetime) else v for k, v in values.items()}


def applies(event: Event, consent: ConsentText | None) -> bool:
    """Whether the hot path may try this event (capacity needs the locking path)."""
    return event.capacity is None and consent is not None and event.purged_at is None


async def register(
    db: DB,
    mailer: Mailer,
    ctx: EventContext,
    data: RegistrationData,
    meta: RequestMeta,
    limit: Limit,
    language: str | None = None,
) -> str:
    """Count one attempt against `limit` (RateLimited past it) and, in the same transaction, insert the
    registration, its consents and its first e-mail: REGISTERED, NOT_NEW or STALE (see above)."""
    event, consent = ctx.event, ctx.consent
    assert consent is not None
    at = now()
    password_hash = await hash_password(data.password) if data.password else None
    values = registration_values(event, data, password_hash, language or event.language, at)
    consents = consent_values(0, event.id, consent, data, meta, at)  # the id is filled in by the insert
    kind = notifications.first_kind(values["status"])
    if db.is_sqlite:
        mail = notifications.queued_row(mailer.settings, kind, event.id, 0, data.email)
        work = partial(_register_in_thread, event, data.consent_version, values, consents, mail, limit, at)
        async with db.connection() as conn:
            hits, outcome = await sqlite_connection(conn).run_sync(work, writes=True)
    else:
        v, processing = values, consents[0]
        row = await db.fetchrow(
            INSERT_SQL,
            event.id, v["email"], v["email_normalised"], v["first_name"], v["last_name"], v["job_title"],
            v["member_id"], v["organisation"], v["phone"], password_hash, v["search_text"], v["status"],
            v["marketing_opt_in"], v["language"], data.consent_version, at, consent.id, consent.sha256,
            processing["ip"], processing["user_agent"], [c["purpose"] for c in consents], event.updated_at,
            limit.stored_key, limit.window_start(at), limit.most, kind, new_message_id(mailer.settings.mail_from),
        )  # fmt: skip
        assert row is not None
        hits = row["hits"]
        outcome = REGISTERED if row["id"] is not None else STALE if not row["fresh"] else NOT_NEW
    limit.check(hits, at)
    return outcome


def _register_in_thread(
    event: Event,
    consent_version: int,
    values: dict[str, Any],
    consents: list[dict[str, Any]],
    mail: dict[str, Any],
    limit: Limit,
    at: dt.datetime,
    raw: sqlite3.Connection,
) -> tuple[int, str]:
    """In the connection's thread, one transaction: the rate limit's count, then, within the limit and if the
    event and its consent text are still the ones the form was checked against, the registration, its consents
    and its e-mail. (the count, outcome)"""
    raw.execute("BEGIN IMMEDIATE")
    try:
        (hits,) = raw.execute(*limit.sqlite_hit(at)).fetchone()
        outcome = NOT_NEW
        if hits <= limit.most:
            fresh = raw.execute(*_SQLITE_FRESH.bind({"event_id": event.id, "updated_at": event.updated_at})).fetchone()
            if fresh is None or fresh[0] != consent_version:
                outcome = STALE
            elif inserted := raw.execute(*_SQLITE_REGISTRATION.bind(values)).fetchall():
                reg_id: int = inserted[0][0]
                for consent in consents:
                    raw.execute(*_SQLITE_CONSENT.bind(consent | {"registration_id": reg_id}))
                raw.execute(*_SQLITE_OUTBOX.bind(mail | {"registration_id": reg_id}))
                outcome = REGISTERED
        raw.execute("COMMIT")  # the count stands whatever else happened
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    return hits, outcome
