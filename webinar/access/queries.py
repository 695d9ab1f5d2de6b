"""SQL for attendees: their registration and the attendee session a browser presents."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects import postgresql

from webinar.accounts import sessions
from webinar.clock import now
from webinar.db import DB, DatabaseUnavailable, to_dataclass
from webinar.dbbackends import Prepared
from webinar.events.queries import Event, join_links_expire
from webinar.groupwrite import GroupWriter
from webinar.tables import BigId, UTCDateTime, events, registrations, web_sessions
from webinar.text import normalise_email


@dataclass(frozen=True)
class Attendee:
    """The parts of a registration that decide access."""

    id: int
    event_id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    status: str
    marketing_opt_in: bool
    token_version: int
    password_hash: str | None
    language: str
    erased_at: dt.datetime | None


@dataclass(frozen=True)
class AttendeeSession:
    """A live attendee web session and whom it belongs to."""

    id_hash: str
    attendee: Attendee


async def registration_by_email(conn: Connection, event_id: int, email: str) -> Attendee | None:
    """The event's (not erased) registration for an address, compared case-insensitively."""
    row = await conn.fetch_one(
        registrations.select().where(
            registrations.c.event_id == event_id,
            registrations.c.email_normalised == normalise_email(email),
            registrations.c.erased_at.is_(None),
        )
    )
    return to_dataclass(Attendee, row) if row else None


# The join link and the stream page each read their event and their attendee in one prepared statement; an
# attendee's own pages (logout, /me) read the session and its registration in one query by the same rules.
_ATTENDEE = [registrations.c[f.name].label(f"attendee_{f.name}") for f in fields(Attendee)]


def _join_refusal(token_version: Any) -> sa.ColumnElement[str | None]:
    """Why a join link naming the joined registration may not log anyone in to the event: 'event_cancelled' (by its
    organiser), 'invalid' (no such registration, another event's, erased, or revoked by a newer token version) or
    'refused' (neither approved nor pending); NULL when it may. The rule, once, for every way the join link is
    served."""
    r = registrations.c
    return sa.case(
        (events.c.status == "cancelled", sa.literal("event_cancelled")),
        (sa.or_(r.id.is_(None), r.event_id != events.c.id, r.erased_at.is_not(None), r.token_version != token_version),
         sa.literal("invalid")),
        (sa.and_(r.status != "approved", r.status != "pending"), sa.literal("refused")),
        else_=sa.null(),
    )  # fmt: skip


_NAMED_REGISTRATION = registrations.c.id == sa.bindparam("registration_id", type_=BigId)
_EVENT_AND_REGISTRATION_SELECT = (
    sa.select(events, *_ATTENDEE, _join_refusal(sa.bindparam("token_version")).label("refusal"))
    .select_from(events.outerjoin(registrations, _NAMED_REGISTRATION))
    .where(events.c.slug == sa.bindparam("slug"))
)
_EVENT_AND_REGISTRATION = Prepared(_EVENT_AND_REGISTRATION_SELECT)


def _join_and_start() -> Any:
    """PostgreSQL: the reads of a group of join links (JSON rows: `JoinStarts`) and, for each that may log in, its new
    attendee session, in one statement. A session ends at its `expires_at` or when the event's join links expire,
    whichever is first. One row per join link whose event exists, with its `n` and whether its session started."""
    when = sa.DateTime(timezone=True)
    rows = (
        sa.func.json_to_recordset(sa.cast(sa.bindparam("rows", type_=sa.String), postgresql.JSON))
        .table_valued(
            sa.column("n", sa.Integer), sa.column("slug", sa.String), sa.column("registration_id", sa.BigInteger),
            sa.column("token_version", sa.Integer), sa.column("id_hash", sa.String), sa.column("at", when),
            sa.column("expires_at", when), sa.column("ip", sa.String), sa.column("user_agent", sa.String),
        )
        .render_derived(name="i", with_types=True)
    )  # fmt: skip
    new = (rows.c.id_hash, rows.c.at, rows.c.expires_at, rows.c.ip, rows.c.user_agent)
    found = (
        sa.select(rows.c.n, *(c.label(f"new_{c.name}") for c in new), events, *_ATTENDEE,
                  _join_refusal(rows.c.token_version).label("refusal"))
        .select_from(
            rows.join(events, events.c.slug == rows.c.slug)
            .outerjoin(registrations, registrations.c.id == rows.c.registration_id)
        )
        .cte("found")
    )  # fmt: skip
    columns = ("id_hash", "kind", "registration_id", "event_id", "created_at", "last_seen_at", "expires_at", "ip",
               "user_agent")  # fmt: skip
    session = sa.select(
        found.c.new_id_hash, sa.literal("attendee"), found.c.attendee_id, found.c.id, found.c.new_at, found.c.new_at,
        sa.func.least(
            found.c.new_expires_at, join_links_expire(found.c.ends_at, found.c.replay_url, found.c.replay_until)
        ),
        found.c.new_ip, found.c.new_user_agent,
    ).where(found.c.refusal.is_(None), found.c.purged_at.is_(None))  # fmt: skip
    started = web_sessions.insert().from_select(columns, session).returning(web_sessions.c.id_hash).cte("started")
    return sa.select(found, started.c.id_hash.is_not(None).label("started")).select_from(
        found.outerjoin(started, started.c.id_hash == found.c.new_id_hash)
    )


_JOIN_AND_START = Prepared(_join_and_start())


def _their_session(event_id: Any, session_id: Any, at: Any, idle_since: Any) -> sa.ColumnElement[bool]:
    """The web session with this id, if it is a live attendee session of this event (values or parameters)."""
    return sa.and_(
        web_sessions.c.id_hash == session_id,
        web_sessions.c.kind == "attendee",
        web_sessions.c.event_id == event_id,
        sessions.live(at, idle_since),
    )


def _its_registration(event_id: Any) -> sa.ColumnElement[bool]:
    """The session's registration, if it is of this event and not erased."""
    return sa.and_(
        registrations.c.id == web_sessions.c.registration_id,
        registrations.c.event_id == event_id,
        registrations.c.erased_at.is_(None),
    )


_SESSION_COLUMNS = (web_sessions.c.id_hash.label("session_id"), web_sessions.c.last_seen_at)
_EVENT_AND_VIEWER = Prepared(
    sa.select(events, *_SESSION_COLUMNS, *_ATTENDEE)
    .select_from(
        events.outerjoin(
            web_sessions,
            _their_session(
                events.c.id,
                sa.bindparam("session_id"),
                sa.bindparam("at", type_=UTCDateTime),
                sa.bindparam("idle_since", type_=UTCDateTime),
            ),
        ).outerjoin(registrations, _its_registration(events.c.id))
    )
    .where(events.c.slug == sa.bindparam("slug"))
)


def _attendee(row: Any) -> Attendee | None:
    if row["attendee_id"] is None:
        return None
    return Attendee(**{f.name: row[f"attendee_{f.name}"] for f in fields(Attendee)})


async def attendee_session(
    conn: Connection, raw_sid: str | None, event_id: int, idle: dt.timedelta
) -> AttendeeSession | None:
    """The live attendee session of this browser for this event (None for staff, other events, erased people)."""
    if not raw_sid:
        return None
    at = now()
    row = await conn.fetch_one(
        sa.select(*_SESSION_COLUMNS, *_ATTENDEE)
        .select_from(web_sessions.join(registrations, _its_registration(event_id)))
        .where(_their_session(event_id, sessions.id_hash(raw_sid), at, at - idle))
    )
    if row is None:
        return None
    if sessions.touch_due(row["last_seen_at"], at):
        await sessions.touch(conn, row["session_id"], at)
    attendee = _attendee(row)
    assert attendee is not None  # an inner join
    return AttendeeSession(row["session_id"], attendee)


@dataclass(frozen=True)
class JoinRead:
    """What a join link found: its event, the registration it names (any event's), why it may not log in (None
    when it may), and whether its new session was started already."""

    event: Event
    attendee: Attendee | None
    refusal: str | None
    started: bool = False


def _join_read(row: Any, started: bool = False) -> JoinRead:
    return JoinRead(to_dataclass(Event, row), _attendee(row), row["refusal"], started)


async def event_and_registration(db: DB, slug: str, registration_id: int | None, token_version: int) -> JoinRead | None:
    """The event with this slug and the registration with this id, if any, judged for a join link of this token
    version."""
    values = {"slug": slug, "registration_id": registration_id, "token_version": token_version}
    row = await db.one(_EVENT_AND_REGISTRATION, values)
    return _join_read(row) if row else None


class JoinStarts:
    """PostgreSQL: join links served in groups (`GroupWriter`): the join links that arrive while one group's statement
    runs are read, and their sessions started, by the next one, so a join rush costs one statement per round trip."""

    def __init__(self, db: DB) -> None:
        self.db = db
        self.groups: GroupWriter[dict[str, Any], JoinRead | None] = GroupWriter(
            self._write_group, lambda _row: (), whole_group=(DatabaseUnavailable,)
        )

    async def join_and_start(
        self, slug: str, registration_id: int, token_version: int, session: sessions.NewSession
    ) -> JoinRead | None:
        """`event_and_registration`, and `session` stored for the registration when the link may log in and the
        event is not purged, atomically."""
        new = session.row
        return await self.groups.submit(
            {"slug": slug, "registration_id": registration_id, "token_version": token_version,
             "id_hash": new["id_hash"], "at": new["created_at"].isoformat(),
             "expires_at": new["expires_at"].isoformat(), "ip": new["ip"], "user_agent": new["user_agent"]}
        )  # fmt: skip

    async def _write_group(self, rows: list[dict[str, Any]]) -> list[JoinRead | None]:
        found = await self.db.all(_JOIN_AND_START, {"rows": json.dumps([row | {"n": n} for n, row in enumerate(rows)])})
        by_n = {row["n"]: _join_read(row, row["started"]) for row in found}
        return [by_n.get(n) for n in range(len(rows))]


async def event_and_viewer(
    db: DB, slug: str, raw_sid: str | None, idle: dt.timedelta
) -> tuple[Event, AttendeeSession | None] | None:
    """The event with this slug and the live attendee session (with its registration) this browser has for it."""
    at = now()
    session_id = sessions.id_hash(raw_sid) if raw_sid else ""  # "" is no session's: they are SHA-256 hex
    row = await db.one(_EVENT_AND_VIEWER, {"slug": slug, "session_id": session_id, "at": at, "idle_since": at - idle})
    if row is None:
        return None
    attendee = _attendee(row)
    if attendee is None:
        return to_dataclass(Event, row), None
    if sessions.touch_due(row["last_seen_at"], at):
        async with db.connection() as conn:
            await sessions.touch(conn, row["session_id"], at)
    return to_dataclass(Event, row), AttendeeSession(row["session_id"], attendee)
