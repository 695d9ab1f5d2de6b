"""Server-side sessions for staff and attendees; the cookie carries only an opaque random id."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.db import DB
from webinar.dbbackends import Prepared
from webinar.tables import viewing_sessions, web_sessions

# Writing last_seen_at on every request would turn every page view into a write.
TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class WebSession:
    id_hash: str
    kind: str
    staff_user_id: int | None
    registration_id: int | None
    event_id: int | None
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime


def new_id() -> str:
    """A fresh opaque session id (256 bits)."""
    return secrets.token_urlsafe(32)


def id_hash(raw_id: str) -> str:
    """The stored form of a session id."""
    return hashlib.sha256(raw_id.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A session about to be stored: its raw id (for the cookie) and its row."""

    raw_id: str
    row: dict[str, Any]


def new(
    *,
    kind: str,
    max_age: dt.timedelta,
    staff_user_id: int | None = None,
    registration_id: int | None = None,
    event_id: int | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    until: dt.datetime | None = None,
) -> NewSession:
    """A new session with a fresh id, to store with `create` or `create_alone`; it lasts `max_age`, or until
    `until` if that comes first."""
    raw, at = new_id(), now()
    row = {
        "id_hash": id_hash(raw),
        "kind": kind,
        "staff_user_id": staff_user_id,
        "registration_id": registration_id,
        "event_id": event_id,
        "created_at": at,
        "last_seen_at": at,
        "expires_at": min(at + max_age, until) if until is not None else at + max_age,
        "ip": ip,
        "user_agent": (user_agent or "")[:500],
    }
    return NewSession(raw, row)


_INSERT = Prepared(web_sessions.insert())


async def create(conn: Connection, session: NewSession) -> str:
    """Store a new session inside the caller's unit of work; its raw id (for the cookie)."""
    await conn.execute(web_sessions.insert().values(**session.row))
    return session.raw_id


async def create_alone(db: DB, session: NewSession) -> str:
    """Store a new session as a unit of work of its own: one prepared statement (the join link's hot path)."""
    await db.run(_INSERT, session.row)
    return session.raw_id


async def load(conn: Connection, raw_id: str, idle: dt.timedelta) -> WebSession | None:
    """The live session with this id, or None when unknown, revoked, expired or idle too long."""
    at = now()
    query = web_sessions.select().where(web_sessions.c.id_hash == id_hash(raw_id), live(at, at - idle))
    row = await conn.fetch_one(query)
    if row is None:
        return None
    session = WebSession(**{f: row[f] for f in WebSession.__dataclass_fields__})
    if touch_due(session.last_seen_at, at):
        await touch(conn, session.id_hash, at)
    return session


def touch_due(last_seen_at: dt.datetime, at: dt.datetime) -> bool:
    """Whether a session used `at` should have that recorded (at most once every TOUCH_EVERY)."""
    return at - last_seen_at > TOUCH_EVERY


async def touch(conn: Connection, hashed_id: str, at: dt.datetime) -> None:
    """Record that a session was used `at`."""
    await conn.execute(web_sessions.update().where(web_sessions.c.id_hash == hashed_id).values(last_seen_at=at))


def live(at: Any, idle_since: Any) -> sa.ColumnElement[bool]:
    """The condition a session row meets while it may be used: not revoked, not expired at `at`, and used since
    `idle_since` (values or bound parameters)."""
    return sa.and_(
        web_sessions.c.revoked_at.is_(None), web_sessions.c.expires_at > at, web_sessions.c.last_seen_at > idle_since
    )


async def end_viewing(conn: Connection, id_hash: str, reason: str) -> None:
    """Close every open viewing session of one web session (`left`, `logout`), inside the caller's transaction: a
    viewing session lives within the web session that opened it."""
    await conn.execute(
        viewing_sessions.update()
        .where(viewing_sessions.c.web_session_hash == id_hash, viewing_sessions.c.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason)
    )


async def revoke(conn: Connection, raw_id: str) -> None:
    """End one session (logout)."""
    await conn.execute(
        web_sessions.update()
        .where(web_sessions.c.id_hash == id_hash(raw_id), web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def revoke_all(
    conn: Connection,
    *,
    staff_user_id: int | None = None,
    registration_id: int | None = None,
    keep: str | None = None,
) -> None:
    """End every session of a staff user or of a registration, but for the one with the raw id `keep` if given
    ("log out everywhere else")."""
    cond = (
        web_sessions.c.staff_user_id == staff_user_id
        if staff_user_id is not None
        else web_sessions.c.registration_id == registration_id
    )
    if keep is not None:
        cond = sa.and_(cond, web_sessions.c.id_hash != id_hash(keep))
    await conn.execute(web_sessions.update().where(cond, web_sessions.c.revoked_at.is_(None)).values(revoked_at=now()))


async def end_all(conn: Connection, registration_id: int, reason: str) -> None:
    """End every session of a registration and the viewing sessions still open under them (`reason`), inside the
    caller's transaction: the person may no longer watch (a cancelled or rejected registration, an erasure). Each
    worker's `presence.revocations` closes their open channels within a poll."""
    await conn.execute(
        viewing_sessions.update()
        .where(viewing_sessions.c.registration_id == registration_id, viewing_sessions.c.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason)
    )
    await revoke_all(conn, registration_id=registration_id)


async def end_event(conn: Connection, event_id: int) -> None:
    """End every attendee session of an event and the viewing sessions still open under them (`logout`), inside the
    caller's transaction: nobody watches a cancelled event."""
    await conn.execute(
        viewing_sessions.update()
        .where(viewing_sessions.c.event_id == event_id, viewing_sessions.c.ended_at.is_(None))
        .values(ended_at=now(), end_reason="logout")
    )
    await conn.execute(
        web_sessions.update()
        .where(web_sessions.c.event_id == event_id, web_sessions.c.kind == "attendee")
        .where(web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def delete_expired(conn: Connection, older_than: dt.timedelta = dt.timedelta(days=30)) -> None:
    """Forget sessions that ended long ago."""
    limit = now() - older_than
    await conn.execute(
        web_sessions.delete().where(sa.or_(web_sessions.c.expires_at < limit, web_sessions.c.revoked_at < limit))
    )
