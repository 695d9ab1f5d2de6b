"""Registrations written in one trip: on PostgreSQL many in one statement (group commit), on SQLite one per hand-off.

`services.Registrar` sends here the registrations that may be written without a lock: those of an event without
a capacity, open, whose form was checked against a short-lived per-process copy of the event, its consent texts and
its questions (`Contexts`). The write proves the copy is still current — the same `updated_at` (which every change
of its questions bumps too: registration/questionnaire.py), not purged, the consent text ticked still current in its
language — so an edited, purged or deleted event, changed questions, or a new text in the language ticked, inserts
nothing. With it, in the same
transaction, the per-address rate limit is counted. Every row written is one of `rows.NewRegistration`'s, and each
rule (the rate limit's count, an address registered once, the consent text's currency) is the one the locking
path uses, so the two paths store the same rows (tests/webinar/test_registration_paths.py).

- PostgreSQL: the registrations that arrive while one statement runs go together in the next (`GroupWriter`):
  one statement of data-modifying CTEs over the group's rows as JSON, so PostgreSQL's per-statement and
  per-transaction work, and its lock on the event row for each foreign-key check, are paid once per group.
- SQLite: one hand-off to the connection's thread holding the process's write lock (`DB.in_one_trip`).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar import changes
from webinar.branding import queries as branding_queries
from webinar.branding.queries import Brand
from webinar.db import DB, DatabaseUnavailable, to_dataclass
from webinar.dbbackends import Prepared
from webinar.events.queries import (
    Consents,
    ConsentText,
    Event,
    Organisation,
    is_current_consent,
    is_current_consent_version,
)
from webinar.groupwrite import GroupWriter
from webinar.i18n import LANGUAGES
from webinar.registration.queries import questions_query
from webinar.registration.questions import Question
from webinar.registration.rows import NewRegistration, insert_new
from webinar.tables import (
    UTCDateTime,
    answers,
    consent_records,
    consent_texts,
    events,
    organisation_branding,
    organisations,
    rate_limits,
    registrations,
)
from webinar.tables import outbox as outbox_table
from webinar.web.ratelimit import HIT, Limit, counted
from webinar.webhooks import queue as webhooks

# What a write found: the registration is in; or nothing is (but the rate limit's count), because the address is
# already registered, or because the event or its consent text is no longer the copy the form was checked against
# (STALE). Either way the caller goes on with the locking path, on the event read afresh.
REGISTERED, NOT_NEW, STALE = "registered", "not_new", "stale"

_CONSENT_FIELDS = ("id", "version", "language", "text", "sha256", "created_at")
_TEXTS = {lang: consent_texts.alias(f"consent_{lang}") for lang in LANGUAGES}  # the current text in each language


def _with_current_texts() -> sa.FromClause:
    """Events joined with their current consent text in each language (none where there is none)."""
    joined: sa.FromClause = events
    for lang, ct in _TEXTS.items():
        on = sa.and_(ct.c.event_id == events.c.id, ct.c.language == lang, is_current_consent(ct))
        joined = joined.outerjoin(ct, on)
    return joined


_ORGANISATION_FIELDS = tuple(f.name for f in fields(Organisation))
# The event, its current consent texts, its organisation and that organisation's branding: one statement.
_CONTEXT = Prepared(
    sa.select(
        events,
        *(ct.c[f].label(f"consent_{lang}_{f}") for lang, ct in _TEXTS.items() for f in _CONSENT_FIELDS),
        *(organisations.c[f].label(f"org_{f}") for f in _ORGANISATION_FIELDS),
        *(c.label(f"brand_{c.name}") for c in branding_queries.COLUMNS),
    )
    .select_from(
        _with_current_texts()
        .join(organisations, organisations.c.id == events.c.organisation_id)
        .outerjoin(organisation_branding, organisation_branding.c.organisation_id == events.c.organisation_id)
    )
    .where(events.c.slug == sa.bindparam("slug"))
)
_QUESTIONS = Prepared(questions_query(sa.bindparam("event_id")))


@dataclass(frozen=True)
class EventContext:
    """What registering needs of an event: the event, its current consent texts and the questions it asks; and
    what its public pages show besides: its organisation, and that organisation's branding (None: none)."""

    event: Event
    consents: Consents
    questions: tuple[Question, ...] = ()
    organisation: Organisation | None = None
    brand: Brand | None = None


class Contexts:
    """Each process's recent copies of event contexts by slug. A copy is only ever written on by `Writer`, which
    writes nothing if it is out of date, so a short life here bounds memory, not correctness. The public pages show
    a copy at most PAGE_SECONDS old: what another process changed shows within that, and what this process changed
    at once (a change here drops every copy: webinar/changes.py)."""

    SECONDS = 30.0
    PAGE_SECONDS = 1.0
    MOST = 1000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # seconds, monotonic; tests move it
        self._kept: dict[str, tuple[float, int, EventContext]] = {}

    async def get(self, db: DB, slug: str, fresh: bool = False, within: float | None = None) -> EventContext | None:
        """The event context for `slug` (None when there is no such event): the copy while it is younger than
        `within` seconds (SECONDS by default), unless `fresh` (read now, and kept: one statement while the event is
        unchanged, its questions being the copy's)."""
        kept = self._kept.get(slug)
        if kept is not None and kept[1] != changes.generation():
            kept = None  # this process changed an event, an organisation or a branding since
        young = self.SECONDS if within is None else within
        if not fresh and kept is not None and self.clock() - kept[0] < young:
            return kept[2]
        generation = changes.generation()  # as of before the read: a change during it drops the copy next time
        ctx = await load(db, slug, kept[2] if kept is not None else None)
        if len(self._kept) >= self.MOST:
            self._kept.clear()
        if ctx is None:
            self._kept.pop(slug, None)
        else:
            self._kept[slug] = (self.clock(), generation, ctx)
        return ctx


async def load(db: DB, slug: str, earlier: EventContext | None = None) -> EventContext | None:
    """The event by slug with its current consent texts, organisation and branding (one statement), then its
    questions (another), unless `earlier` is a copy of the same event with the same `updated_at`: its questions are
    still current, since every change of them bumps it. In that order: questions changed in between come with the
    older `updated_at`, so the copy is stale for the write, never current with questions older than it."""
    row = await db.one(_CONTEXT, {"slug": slug})
    if row is None:
        return None
    texts = tuple(
        to_dataclass(ConsentText, {f: row[f"consent_{lang}_{f}"] for f in _CONSENT_FIELDS} | {"event_id": row["id"]})
        for lang in LANGUAGES
        if row[f"consent_{lang}_id"] is not None
    )
    event = to_dataclass(Event, row)
    if earlier is not None and earlier.event.id == event.id and earlier.event.updated_at == event.updated_at:
        asked = earlier.questions
    else:
        asked = tuple(to_dataclass(Question, q) for q in await db.all(_QUESTIONS, {"event_id": row["id"]}))
    organisation = Organisation(**{f: row[f"org_{f}"] for f in _ORGANISATION_FIELDS})
    brand = None
    if row["brand_organisation_id"] is not None:
        brand = branding_queries.brand_of(row, organisation.name, prefix="brand_")
    return EventContext(event, Consents(texts), asked, organisation, brand)


def may_write(event: Event, consents: Consents) -> bool:
    """Whether a registration for this event may be written here: seats need the locking path's count."""
    return event.capacity is None and bool(consents) and event.purged_at is None and not event.cancelled


def as_read(event_id: Any, updated_at: Any, consent_version: Any) -> sa.Exists:
    """Whether the event is still the copy a form was checked against (values or columns): the same `updated_at`,
    not purged, and `consent_version` still one of its current consent texts (in either language)."""
    return sa.exists().where(
        events.c.id == event_id,
        events.c.updated_at == updated_at,
        events.c.purged_at.is_(None),
        events.c.status == "scheduled",
        is_current_consent_version(events.c.id, consent_version),
    )


class Written(NamedTuple):
    """One registration's outcome: its rate-limit count, whether its event was as read, its registration's id."""

    hits: int
    fresh: bool
    id: int | None


@dataclass(frozen=True)
class Submission:
    """One registration to write, with what the write must check first."""

    rows: NewRegistration
    event_updated_at: dt.datetime
    consent_version: int
    limit: Limit

    def outcome(self, written: Written) -> str:
        """REGISTERED, NOT_NEW or STALE; RateLimited (429) when the count passed the limit."""
        self.limit.check(written.hits, self.rows.registration["created_at"])
        return REGISTERED if written.id is not None else STALE if not written.fresh else NOT_NEW


class Writer:
    """Writes registrations: on PostgreSQL in groups (`GroupWriter`), on SQLite one per hand-off."""

    def __init__(self, db: DB) -> None:
        self.db = db
        self.groups: GroupWriter[Submission, Written] = GroupWriter(
            self._write_group, _clashes, whole_group=(DatabaseUnavailable,)
        )
        self._statements: dict[tuple[tuple[str, ...], ...], Prepared] = {}
        self.writes = 0  # registrations written through here so far, for tests and the curious

    async def write(self, submission: Submission) -> str:
        """Count the attempt and, in the same transaction, write the registration if its address is new and its
        event as read: REGISTERED, NOT_NEW or STALE (see above); RateLimited past the limit."""
        if self.db.is_sqlite:
            written = await self.db.in_one_trip(partial(_write_one, submission))
        else:
            written = await self.groups.submit(submission)
        self.writes += written.id is not None
        return submission.outcome(written)

    async def _write_group(self, group: list[Submission]) -> list[Written]:
        first = group[0].rows
        shape = (tuple(first.registration), tuple(first.consents[0]), tuple(first.mail))
        statement = self._statements.get(shape) or self._statements.setdefault(shape, Prepared(_group(*shape)))
        found = await self.db.all(statement, {"rows": json.dumps([_json(n, s) for n, s in enumerate(group)])})
        by_n = {r["n"]: Written(r["hits"], r["fresh"], r["id"]) for r in found}
        return [by_n[n] for n in range(len(group))]


def _clashes(submission: Submission) -> tuple[Hashable, ...]:
    """What two registrations of one group may not share: the rate limit's key (one count each), the address at the
    event (one of them is not new)."""
    reg = submission.rows.registration
    return ("rate", submission.limit.stored_key), ("address", reg["event_id"], reg["email_normalised"])


# SQLite, one registration at a time: the same rules as the group statement below, as statements of their own.
_SQLITE_FRESH = Prepared(
    sa.select(
        as_read(
            sa.bindparam("event_id"),
            sa.bindparam("updated_at", type_=UTCDateTime),
            sa.bindparam("consent_version"),
        )
    )
)
_SQLITE_REGISTRATION = Prepared(insert_new(sqlite_insert(registrations)))
_SQLITE_CONSENT = Prepared(consent_records.insert())
_SQLITE_ANSWER = Prepared(answers.insert())
_SQLITE_OUTBOX = Prepared(outbox_table.insert())
_SQLITE_ANNOUNCE = Prepared(
    webhooks.insert_for_registrations("registration.created", registrations.c.id == sa.bindparam("registration_id"))
)


def _write_one(submission: Submission, raw: sqlite3.Connection) -> Written:
    """In the connection's thread and one transaction: the rate limit's count, then, within the limit and with the
    event as read, the registration, its consents, its answers and its e-mail."""
    rows, at = submission.rows, submission.rows.registration["created_at"]
    (hits, _key) = raw.execute(*HIT["sqlite"].bind(submission.limit.hit_values(at))).fetchone()
    if hits > submission.limit.most:
        return Written(hits, True, None)
    values = {"event_id": rows.registration["event_id"], "updated_at": submission.event_updated_at}
    (fresh,) = raw.execute(*_SQLITE_FRESH.bind(values | {"consent_version": submission.consent_version})).fetchone()
    if not fresh:
        return Written(hits, False, None)
    inserted = raw.execute(*_SQLITE_REGISTRATION.bind(rows.registration)).fetchall()
    if not inserted:
        return Written(hits, True, None)
    reg_id: int = inserted[0][0]
    for consent in rows.consents:
        raw.execute(*_SQLITE_CONSENT.bind(consent | {"registration_id": reg_id}))
    for answer in rows.answers:  # in this thread, in this transaction: no round trip of its own
        raw.execute(*_SQLITE_ANSWER.bind(answer | {"registration_id": reg_id}))
    raw.execute(*_SQLITE_OUTBOX.bind(rows.mail | {"registration_id": reg_id}))
    raw.execute(*_SQLITE_ANNOUNCE.bind({"registration_id": reg_id, "announced_at": at}))
    return Written(hits, True, reg_id)


def _json(n: int, submission: Submission) -> dict[str, Any]:
    """One registration of a group as the group statement's JSON row."""
    at = submission.rows.registration["created_at"]
    limit = submission.limit
    return {
        "n": n, "event_id": submission.rows.registration["event_id"],
        "event_updated_at": submission.event_updated_at.isoformat(), "consent_version": submission.consent_version,
        "rate_key": limit.stored_key, "window_start": limit.window_start(at).isoformat(), "most": limit.most,
        "registration": _plain(submission.rows.registration),
        "consents": [_plain(c) | {"k": k} for k, c in enumerate(submission.rows.consents)],
        "answers": [a | {"k": k} for k, a in enumerate(submission.rows.answers)],
        "mail": _plain(submission.rows.mail),
    }  # fmt: skip


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}


def _record(source: Any, table: sa.Table, names: tuple[str, ...], name: str, *extra: Any) -> Any:
    """`json_to_record(set)(source) AS name(…)`: the JSON of one table's row(s), typed by the table's columns."""
    function = sa.func.json_to_recordset if extra else sa.func.json_to_record
    columns = [sa.column(n, table.c[n].type) for n in names]
    return function(source).table_valued(*columns, *extra).render_derived(name=name, with_types=True).lateral()


def _group(registration: tuple[str, ...], consent: tuple[str, ...], mail: tuple[str, ...]) -> Any:
    """PostgreSQL: the statement writing one group (JSON rows: `_json`), built from the columns of the rows it
    writes. For each row, in one transaction: its rate-limit count always (keys in order, so two groups never wait
    on each other's keys crosswise); its registration, consents, answers and e-mail all or none, only while its
    count is within its limit and its event is as read. One row back per registration: its `n`, count, freshness and
    new id (NULL: not written). Two processes' groups holding the same two new addresses in opposite orders would
    deadlock; PostgreSQL ends one, whose rows are then written one by one (GroupWriter): time lost, never a row."""
    when = sa.DateTime(timezone=True)
    i = (
        sa.func.json_to_recordset(sa.cast(sa.bindparam("rows", type_=sa.String), postgresql.JSON))
        .table_valued(
            sa.column("n", sa.Integer), sa.column("event_id", sa.BigInteger), sa.column("event_updated_at", when),
            sa.column("consent_version", sa.Integer), sa.column("rate_key", sa.String),
            sa.column("window_start", when), sa.column("most", sa.Integer), sa.column("registration", postgresql.JSON),
            sa.column("consents", postgresql.JSON), sa.column("answers", postgresql.JSON),
            sa.column("mail", postgresql.JSON),
        )
        .render_derived(name="i", with_types=True)
    )  # fmt: skip
    rows = sa.select(i).cte("input")
    keys = sa.select(rows.c.rate_key, rows.c.window_start, sa.literal(1)).order_by(rows.c.rate_key)
    hit = counted(pg_insert(rate_limits).from_select(["key", "window_start", "hits"], keys)).cte("hit")
    r = _record(rows.c.registration, registrations, registration, "r")  # each registration's JSON, read once
    checked = (
        sa.select(
            rows.c.n, rows.c.consents, rows.c.answers, rows.c.mail, hit.c.hits,
            (hit.c.hits <= rows.c.most).label("within"),
            as_read(rows.c.event_id, rows.c.event_updated_at, rows.c.consent_version).label("fresh"),
            *(r.c[name].label(f"r_{name}") for name in registration),
        )
        .select_from(rows.join(hit, hit.c.key == rows.c.rate_key).join(r, sa.true()))
        .cte("checked")
    )  # fmt: skip
    new = (
        sa.select(*(checked.c[f"r_{name}"] for name in registration))
        .where(checked.c.within, checked.c.fresh)
        .order_by(checked.c.n)
    )
    reg = insert_new(pg_insert(registrations).from_select(registration, new))
    reg = reg.returning(registrations.c.event_id, registrations.c.email_normalised).cte("reg")
    same = sa.and_(reg.c.event_id == checked.c.r_event_id, reg.c.email_normalised == checked.c.r_email_normalised)
    landed = (
        sa.select(reg.c.id, checked.c.n, checked.c.consents, checked.c.answers, checked.c.mail)
        .join_from(checked, reg, same)
        .cte("landed")
    )
    given = tuple(name for name in consent if name != "registration_id")
    c = _record(landed.c.consents, consent_records, given, "c", sa.column("k", sa.Integer))
    consents = consent_records.insert().from_select(
        ["registration_id", *given],
        sa.select(landed.c.id, *(c.c[name] for name in given)).select_from(landed.join(c, sa.true()))
        .order_by(landed.c.n, c.c.k),
    ).cte("consents")  # fmt: skip
    answered = _answers(landed)
    queued = tuple(name for name in mail if name != "registration_id")
    m = _record(landed.c.mail, outbox_table, queued, "m")
    mails = (
        outbox_table.insert()
        .from_select(
            ["registration_id", *queued],
            sa.select(landed.c.id, *(m.c[name] for name in queued)).select_from(landed.join(m, sa.true())),
        )
        .cte("mails")
    )
    announced = _announced(landed, checked)
    return (
        sa.select(checked.c.n, checked.c.hits, checked.c.fresh, landed.c.id)
        .select_from(checked.outerjoin(landed, landed.c.n == checked.c.n))
        .add_cte(consents, answered, mails, announced)
    )


def _announced(landed: Any, checked: Any) -> Any:
    """The CTE announcing `registration.created` about the registrations that landed, by the one rule of who hears
    it (webhooks.queue), at each one's `created_at`."""
    source = (
        sa.select(
            landed.c.id.label("registration_id"), checked.c.r_event_id.label("event_id"), events.c.organisation_id,
            checked.c.r_status.label("status"), checked.c.r_created_at.label("created_at"),
        )
        .join_from(landed, checked, checked.c.n == landed.c.n)
        .join(events, events.c.id == checked.c.r_event_id)
        .subquery("landed_events")
    )  # fmt: skip
    details = webhooks.status_details(source.c.status)
    return webhooks.insert_from("registration.created", source, details, at=source.c.created_at).cte("announced")


def _answers(landed: Any) -> Any:
    """The CTE inserting the answers of the registrations that landed, as the consents are (their columns fixed)."""
    given = ("question_id", "value")
    a = _record(landed.c.answers, answers, given, "a", sa.column("k", sa.Integer))
    return answers.insert().from_select(
        ["registration_id", *given],
        sa.select(landed.c.id, *(a.c[name] for name in given)).select_from(landed.join(a, sa.true()))
        .order_by(landed.c.n, a.c.k),
    ).cte("answered")  # fmt: skip
