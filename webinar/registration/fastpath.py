"""The registration hot path: the common case in as few trips to the database as each engine allows.

Used for the common case only (no capacity, registration open, consent current, new address). The event, its
current consent text and its `updated_at` are kept per process for a short while (`Contexts`), so the form is
checked against them without a query; the write then proves they are still current, which makes the copy safe
to keep: an edited, purged or deleted event, or a new consent text, inserts nothing. The write, with the
per-address rate limit counted in the same transaction:

- PostgreSQL: one statement (a chain of data-modifying CTEs) on a raw asyncpg connection: the count, the
  check, the registration, its consents and its e-mail, atomically. The registrations that arrive while one
  statement runs go together in the next (`Writer`, group commit): one round trip for many registrations, and
  PostgreSQL's per-statement and per-transaction work (and its lock on the event row for each foreign key check)
  paid once for the group.
- SQLite: holding the process's write lock, one hand-off to the connection's thread: BEGIN, the count, the
  check, the registration, its consents, its e-mail and COMMIT.

The e-mail is queued unwritten: the sender writes it (registration/notifications.py).

Anything else (a duplicate address, the event or its consent text changed) inserts nothing but the count, and
the caller falls back to `services.register`, which handles every case in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.accounts.passwords import hash_password
from webinar.clock import now
from webinar.db import DB, DatabaseUnavailable, dialect_name, sqlite_connection
from webinar.dbbackends import Prepared
from webinar.events.queries import ConsentText, Event, to_dataclass
from webinar.groupwrite import GroupWriter
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

# The registrations of one group, as JSON rows (`Writer._write_group`), in one statement and so one transaction:
# each row's rate-limit count always (keys in order, so two groups never wait on each other's keys crosswise); its
# registration, consents and e-mail all or none, only while its count is within its limit and its event is as it
# was read (updated_at, not purged) with the consent text the form showed. Returns, per row: its count, whether its
# event was as read (fresh), and its new registration's id (NULL: an address already registered). Two processes'
# groups holding the same two new addresses in opposite orders would deadlock; PostgreSQL ends one of them, and its
# rows are then written one by one (GroupWriter), so it costs time, never a registration.
GROUP_SQL = f"""
WITH input AS (
    SELECT * FROM json_to_recordset($1::json) AS i(
        n int, event_id bigint, event_updated_at timestamptz, consent_version int, consent_id bigint,
        consent_sha256 varchar, email varchar, email_normalised varchar, first_name varchar, last_name varchar,
        job_title varchar, member_id varchar, organisation varchar, phone varchar, password_hash varchar,
        search_text varchar, status varchar, marketing_opt_in boolean, token_version int, language varchar,
        created_at timestamptz, updated_at timestamptz, ip varchar, user_agent varchar, purposes varchar[],
        rate_key varchar, window_start timestamptz, most int, kind varchar, message_id varchar
    )
), hit AS ({pg_hit("SELECT rate_key, window_start, 1 FROM input ORDER BY rate_key")}), fresh AS (
    SELECT e.id, e.updated_at, max(ct.version) AS consent_version
    FROM events e LEFT JOIN consent_texts ct ON ct.event_id = e.id
    WHERE e.id IN (SELECT event_id FROM input) AND e.purged_at IS NULL
    GROUP BY e.id
), checked AS (
    SELECT i.n, hit.hits, hit.hits <= i.most AS within, f.id IS NOT NULL AS fresh
    FROM input i JOIN hit ON hit.key = i.rate_key
    LEFT JOIN fresh f ON f.id = i.event_id AND f.updated_at = i.event_updated_at
                     AND f.consent_version = i.consent_version
), reg AS (
    INSERT INTO registrations (event_id, email, email_normalised, first_name, last_name, job_title, member_id,
                               organisation, phone, password_hash, search_text, status, marketing_opt_in,
                               token_version, language, created_at, updated_at)
    SELECT i.event_id, i.email, i.email_normalised, i.first_name, i.last_name, i.job_title, i.member_id,
           i.organisation, i.phone, i.password_hash, i.search_text, i.status, i.marketing_opt_in, i.token_version,
           i.language, i.created_at, i.updated_at
    FROM input i JOIN checked c ON c.n = i.n
    WHERE c.within AND c.fresh
    ORDER BY i.n
    ON CONFLICT (event_id, email_normalised) DO NOTHING
    RETURNING id, event_id, email_normalised
), landed AS (
    SELECT reg.id, i.* FROM reg JOIN input i USING (event_id, email_normalised)
), consents AS (
    INSERT INTO consent_records (registration_id, event_id, purpose, action, consent_text_id, text_version,
                                 text_sha256, recorded_at, ip, user_agent)
    SELECT l.id, l.event_id, p.purpose, 'given',
           CASE WHEN p.purpose = 'processing' THEN l.consent_id END,
           CASE WHEN p.purpose = 'processing' THEN l.consent_version END,
           CASE WHEN p.purpose = 'processing' THEN l.consent_sha256 END,
           l.created_at, l.ip, l.user_agent
    FROM landed l, unnest(l.purposes) WITH ORDINALITY AS p(purpose, k)
    ORDER BY l.n, p.k
), mail AS (
    INSERT INTO outbox (event_id, registration_id, kind, to_address, subject, body_text, body_html, ics,
                        headers_json, message_id, status, attempts, created_at, next_attempt_at)
    SELECT l.event_id, l.id, l.kind, l.email, '', '', '', NULL, '{{}}', l.message_id, 'queued', 0, l.created_at,
           l.created_at
    FROM landed l
)
SELECT c.n, c.hits, c.fresh, l.id FROM checked c LEFT JOIN landed l ON l.n = c.n
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


class Written(NamedTuple):
    """One row's outcome in its group: its rate-limit count, whether its event was as read, its registration's id."""

    hits: int
    fresh: bool
    id: int | None


class Writer:
    """Writes the hot path's registrations: on PostgreSQL in groups (`GroupWriter`), so a rush costs one statement
    per round trip, not one per registration; on SQLite one at a time, each in its one hand-off to the connection's
    thread (the process's writes take turns there anyway)."""

    def __init__(self, db: DB) -> None:
        self.db = db
        self.groups: GroupWriter[dict[str, Any], Written] = GroupWriter(
            self._write_group, _clashes, whole_group=(DatabaseUnavailable,)
        )

    async def _write_group(self, rows: list[dict[str, Any]]) -> list[Written]:
        records = await self.db.fetch(GROUP_SQL, json.dumps([row | {"n": n} for n, row in enumerate(rows)]))
        by_n = {r["n"]: Written(r["hits"], r["fresh"], r["id"]) for r in records}
        return [by_n[n] for n in range(len(rows))]


def _clashes(row: dict[str, Any]) -> tuple[Hashable, ...]:
    """What two rows of one group may not share: the rate limit's key (one count each), the address at the event."""
    return ("rate", row["rate_key"]), ("address", row["event_id"], row["email_normalised"])


async def register(
    writer: Writer,
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
    if writer.db.is_sqlite:
        mail = notifications.queued_row(mailer.settings, kind, event.id, 0, data.email)
        work = partial(_register_in_thread, event, data.consent_version, values, consents, mail, limit, at)
        async with writer.db.connection() as conn:
            hits, outcome = await sqlite_connection(conn).run_sync(work, writes=True)
    else:
        processing = consents[0]
        row = values | {
            "created_at": at.isoformat(), "updated_at": at.isoformat(),
            "event_updated_at": event.updated_at.isoformat(), "consent_version": data.consent_version,
            "consent_id": consent.id, "consent_sha256": consent.sha256, "ip": processing["ip"],
            "user_agent": processing["user_agent"], "purposes": [c["purpose"] for c in consents],
            "rate_key": limit.stored_key, "window_start": limit.window_start(at).isoformat(), "most": limit.most,
            "kind": kind, "message_id": new_message_id(mailer.settings.mail_from),
        }  # fmt: skip
        written = await writer.groups.submit(row)
        hits = written.hits
        outcome = REGISTERED if written.id is not None else STALE if not written.fresh else NOT_NEW
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
