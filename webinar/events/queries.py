"""SQL for events and their consent texts, returning frozen dataclasses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from databases.core import Connection

from webinar.db import to_dataclass
from webinar.tables import (
    DEFAULT_FOLLOWUP_MINUTES,
    DEFAULT_PASS_MARK,
    DEFAULT_REMINDERS,
    REGISTERED,
    consent_texts,
    events,
    organisations,
    registrations,
)

# How long after an event's end its join links (and the sessions they start) still work.
JOIN_LINKS_LAST = dt.timedelta(days=7)


@dataclass(frozen=True)
class EventFields:
    """The editable columns of an event (what the event form sets), times in UTC."""

    organisation_id: int
    title: str
    slug: str
    description: str
    language: str
    timezone: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    registration_opens_at: dt.datetime | None
    registration_closes_at: dt.datetime | None
    doors_open_minutes: int
    stream_url: str
    embed_url: str
    capacity: int | None
    approval: str
    login: str
    field_job_title: str
    field_member_id: str
    field_organisation: str
    field_phone: str
    min_age: int | None
    retention_days: int
    listed: bool
    waitlist: bool
    attendance_minutes: int | None
    presence_checks: int
    replay_url: str
    replay_until: dt.datetime | None
    credits: str
    certificates: bool
    certificate_series: str
    # SPEC §12, webinar/registration/reminders.py. Keyword-only with the columns' defaults, so code that makes an
    # event without thinking of e-mails gets what a new event gets.
    reminders: str = field(default=DEFAULT_REMINDERS, kw_only=True)  # minutes before the start, "1440,60"; '' none
    followup_after_minutes: int | None = field(default=DEFAULT_FOLLOWUP_MINUTES, kw_only=True)
    # SPEC §15 (docs/crowds.md): double opt-in, and how many devices may have the stream page open at once.
    confirm_email: bool = field(default=False, kw_only=True)
    devices: int = field(default=1, kw_only=True)
    # SPEC §14 (webinar/events/embed.py): the origins allowed to frame /events/{slug}/embed, one per line.
    embed_origins: str = field(default="", kw_only=True)

    @property
    def reminder_offsets(self) -> tuple[int, ...]:
        """The reminders' offsets in minutes before the start, largest (earliest reminder) first."""
        return parse_offsets(self.reminders)


def parse_offsets(value: str) -> tuple[int, ...]:
    """The offsets of a stored `reminders` value (validated by the event form), largest first."""
    return tuple(sorted({int(part) for part in value.split(",") if part.strip()}, reverse=True))


ATTENDANCE, COMPLETION, PARTICIPATION = "attendance", "completion", "participation"  # Event.certificate_kind


@dataclass(frozen=True)
class Event(EventFields):
    """A stored event."""

    id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    purged_at: dt.datetime | None
    status: str  # scheduled or cancelled (tables.EVENT_STATUSES)
    cancelled_at: dt.datetime | None
    ics_sequence: int  # the SEQUENCE its calendar entries carry now
    # The final evaluation (SPEC §13, webinar/evaluation/), set on its own page rather than by the event form.
    evaluation: bool = field(default=False, kw_only=True)
    evaluation_pass_mark: int = field(default=DEFAULT_PASS_MARK, kw_only=True)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    def certificate_kind(self, passed: bool) -> str:
        """What an attendee's certificate certifies (SPEC §13): without a final evaluation, attendance; with one,
        completion for those who passed it (`passed`), participation for those who failed or did not take it."""
        if not self.evaluation:
            return ATTENDANCE
        return COMPLETION if passed else PARTICIPATION

    @property
    def doors_open_at(self) -> dt.datetime:
        return self.starts_at - dt.timedelta(minutes=self.doors_open_minutes)

    @property
    def join_link_expires_at(self) -> dt.datetime:
        """A week after the end, or the end of the replay when that is later (the replay needs the join link)."""
        week_after = self.ends_at + JOIN_LINKS_LAST
        return max(week_after, self.replay_until) if self.has_replay and self.replay_until else week_after

    @property
    def has_replay(self) -> bool:
        """Whether a replay is offered after the end (SPEC §13)."""
        return bool(self.replay_url) and self.replay_until is not None

    def replay_on(self, at: dt.datetime) -> bool:
        """Whether the stream page plays the replay at this moment: after the end, until `replay_until`."""
        return self.has_replay and self.ends_at < at <= self.replay_until  # type: ignore[operator]

    @property
    def replay_last_day(self) -> dt.datetime | None:
        """A moment of the replay's last day (`replay_until` is the midnight that ends it), to show that date."""
        return self.replay_until - dt.timedelta(seconds=1) if self.replay_until else None

    @property
    def replay_is_hls(self) -> bool:
        """Whether the replay is an HLS playlist (played in a <video>) rather than an address to embed."""
        return urlsplit(self.replay_url).path.endswith(".m3u8")

    def field_mode(self, name: str) -> str:
        """'required', 'optional' or 'hidden' for one of the per-event registration fields."""
        mode: str = getattr(self, f"field_{name}")
        return mode


def join_links_expire(ends_at: Any, replay_url: Any, replay_until: Any) -> sa.ColumnElement[dt.datetime]:
    """`Event.join_link_expires_at` in SQL (PostgreSQL: `greatest`), over an event's columns."""
    replay_end = sa.case((sa.and_(replay_url != "", replay_until.is_not(None)), replay_until), else_=ends_at)
    return sa.func.greatest(ends_at + sa.literal(JOIN_LINKS_LAST), replay_end)


@dataclass(frozen=True)
class ConsentText:
    id: int
    event_id: int
    version: int
    language: str
    text: str
    sha256: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Consents:
    """An event's current processing-consent texts, one per language the organiser wrote it in (ro, en)."""

    texts: tuple[ConsentText, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.texts)

    def of(self, language: str) -> ConsentText | None:
        """The current text in this language, if the organiser wrote one."""
        return next((t for t in self.texts if t.language == language), None)

    def shown(self, language: str) -> ConsentText | None:
        """The text a page in `language` shows (and records when ticked): its own, else the other language's."""
        return self.of(language) or next(iter(self.texts), None)

    def by_version(self, version: int) -> ConsentText | None:
        """The current text of this version, whichever its language (None: an old, removed or made-up version)."""
        return next((t for t in self.texts if t.version == version), None)


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    slug: str
    contact_email: str
    created_at: dt.datetime
    organisers_edit_events: bool = False  # its organisers may create, edit, duplicate and cancel its events


def _event(row: object) -> Event:
    return Event(**{f.name: row[f.name] for f in fields(Event)})  # type: ignore[index]


async def by_slug(conn: Connection, slug: str) -> Event | None:
    """The event with this slug."""
    row = await conn.fetch_one(events.select().where(events.c.slug == slug))
    return _event(row) if row else None


async def by_id(conn: Connection, event_id: int, organisation_id: int | None = None) -> Event | None:
    """The event with this id; when `organisation_id` is given, only if it belongs to that organisation."""
    query = events.select().where(events.c.id == event_id)
    if organisation_id is not None:
        query = query.where(events.c.organisation_id == organisation_id)
    row = await conn.fetch_one(query)
    return _event(row) if row else None


async def slug_taken(conn: Connection, slug: str, except_id: int | None = None) -> bool:
    """Whether another event already uses this slug."""
    query = sa.select(events.c.id).where(events.c.slug == slug)
    if except_id is not None:
        query = query.where(events.c.id != except_id)
    return await conn.fetch_one(query) is not None


async def upcoming_listed(conn: Connection, at: dt.datetime, limit: int = 50) -> list[Event]:
    """Listed events that have not ended yet, soonest first."""
    rows = await conn.fetch_all(
        events.select()
        .where(events.c.listed.is_(True), events.c.ends_at > at, events.c.purged_at.is_(None))
        .order_by(events.c.starts_at)
        .limit(limit)
    )
    return [_event(r) for r in rows]


def is_current_consent(ct: sa.FromClause = consent_texts) -> sa.ColumnElement[bool]:
    """Whether a `consent_texts` row (of `ct`, the table or an alias) is a current text of its event: the newest
    version in its language, and not emptied. The rule, once, for every reader (the event page, both registration
    paths, the API, the back office)."""
    newer = consent_texts.alias("newer_ct")
    return sa.and_(
        ct.c.text != "",
        ~sa.exists().where(
            newer.c.event_id == ct.c.event_id, newer.c.language == ct.c.language, newer.c.version > ct.c.version
        ),
    )


def is_current_consent_version(event_id: Any, version: Any) -> sa.Exists:
    """Whether `version` (a value or a column) is one of the event's current consent texts, in either language."""
    ct = consent_texts.alias("posted_ct")
    return sa.exists().where(ct.c.event_id == event_id, ct.c.version == version, is_current_consent(ct))


async def current_consents(conn: Connection, event_id: int) -> Consents:
    """The event's current processing-consent texts, one per language it has one in (Romanian first)."""
    rows = await conn.fetch_all(
        consent_texts.select()
        .where(consent_texts.c.event_id == event_id, is_current_consent())
        .order_by(consent_texts.c.language.desc())  # 'ro' before 'en'
    )
    return Consents(tuple(to_dataclass(ConsentText, r) for r in rows))


async def consent_versions(conn: Connection, event_id: int) -> list[ConsentText]:
    """Every version of the event's consent texts (both languages), newest first."""
    rows = await conn.fetch_all(
        consent_texts.select().where(consent_texts.c.event_id == event_id).order_by(consent_texts.c.version.desc())
    )
    return [to_dataclass(ConsentText, r) for r in rows]


async def organisation(conn: Connection, organisation_id: int) -> Organisation | None:
    """One organisation."""
    row = await conn.fetch_one(organisations.select().where(organisations.c.id == organisation_id))
    return to_dataclass(Organisation, row) if row else None


async def organisers_edit_events(conn: Connection, organisation_id: int) -> bool:
    """Whether the organisation's organisers may create, edit, duplicate and cancel its events."""
    query = sa.select(organisations.c.organisers_edit_events).where(organisations.c.id == organisation_id)
    return bool(await conn.fetch_val(query))


@dataclass(frozen=True)
class EventCounts:
    event: Event
    organisation_name: str
    registered: int
    approved: int
    pending: int


def status_counts() -> list[sa.Label[int]]:
    """The `registered` (approved or pending), `approved` and `pending` counts of a query over registrations."""
    status = registrations.c.status
    return [
        sa.func.count().filter(status.in_(REGISTERED)).label("registered"),
        sa.func.count().filter(status == "approved").label("approved"),
        sa.func.count().filter(status == "pending").label("pending"),
    ]


async def with_counts(conn: Connection, organisation_id: int | None = None) -> list[EventCounts]:
    """Every event (of one organisation, when given) with its registration counts, newest first."""
    r = registrations
    counts = sa.select(r.c.event_id, *status_counts()).group_by(r.c.event_id).subquery()
    query = (
        sa.select(
            events,
            organisations.c.name.label("organisation_name"),
            counts.c.registered,
            counts.c.approved,
            counts.c.pending,
        )
        .join(organisations, organisations.c.id == events.c.organisation_id)
        .outerjoin(counts, counts.c.event_id == events.c.id)
        .order_by(events.c.starts_at.desc())
    )
    if organisation_id is not None:
        query = query.where(events.c.organisation_id == organisation_id)
    rows = await conn.fetch_all(query)
    return [
        EventCounts(
            _event(row), row["organisation_name"], row["registered"] or 0, row["approved"] or 0, row["pending"] or 0
        )
        for row in rows
    ]


@dataclass(frozen=True)
class RegistrationCounts:
    registered: int
    approved: int
    pending: int
    waitlisted: int
    rejected: int
    cancelled: int
    unconfirmed: int = 0  # holding a seat until they confirm (SPEC §15), not yet registered


async def registration_counts(conn: Connection, event_id: int) -> RegistrationCounts:
    """How many people of one event are registered (approved or pending), and in each status."""
    status = registrations.c.status
    others = [
        sa.func.count().filter(status == s).label(s) for s in ("waitlisted", "rejected", "cancelled", "unconfirmed")
    ]
    row = await conn.fetch_one(sa.select(*status_counts(), *others).where(registrations.c.event_id == event_id))
    assert row is not None  # an aggregate always returns one row
    return RegistrationCounts(**{f.name: row[f.name] or 0 for f in fields(RegistrationCounts)})
