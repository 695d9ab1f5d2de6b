"""The API's reads: pages by keyset on indexed columns (never OFFSET: the millionth row costs what the first does),
each fenced to the token's organisation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.db import to_dataclass
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.tables import events, registrations, viewing_sessions


def _fence(scope: int | None) -> list[sa.ColumnElement[bool]]:
    """The events a token with this scope may see (None: a platform token, every one)."""
    return [] if scope is None else [events.c.organisation_id == scope]


async def events_after(conn: Connection, scope: int | None, after: int, size: int) -> list[Event]:
    """The next `size` events the scope sees with an id above `after`, by id."""
    rows = await conn.fetch_all(
        events.select().where(events.c.id > after, *_fence(scope)).order_by(events.c.id).limit(size)
    )
    return [to_dataclass(Event, row) for row in rows]


async def event(conn: Connection, scope: int | None, event_id: int) -> Event | None:
    """The event if the scope sees it."""
    return await event_queries.by_id(conn, event_id, scope)


async def registrations_after(conn: Connection, event_id: int, status: str | None, after: int, size: int) -> list[Any]:
    """The next `size` registrations of the event (with `status`) with an id above `after`, by id."""
    query = registrations.select().where(registrations.c.event_id == event_id, registrations.c.id > after)
    if status is not None:
        query = query.where(registrations.c.status == status)
    return list(await conn.fetch_all(query.order_by(registrations.c.id).limit(size)))


async def registration(conn: Connection, scope: int | None, registration_id: int) -> tuple[Any, Event] | None:
    """A registration and its event, if the scope sees the event."""
    row = await conn.fetch_one(sa.select(registrations.c.event_id).where(registrations.c.id == registration_id))
    found = await event(conn, scope, row["event_id"]) if row else None
    if found is None:
        return None
    reg = await conn.fetch_one(registrations.select().where(registrations.c.id == registration_id))
    return reg, found


_SESSION_COLUMNS = [
    viewing_sessions.c[name]
    for name in ("id", "registration_id", "kind", "started_at", "last_seen_at", "ended_at", "end_reason")
]


async def sessions_after(
    conn: Connection,
    event_id: int,
    start: dt.datetime | None,
    end: dt.datetime | None,
    after: tuple[dt.datetime, int] | None,
    size: int,
) -> list[Any]:
    """The next `size` viewing sessions of the event started in [start, end), after `after` (started_at, id), in
    that order: a range scan of ix_viewing_sessions_event_started however far the page is."""
    vs = viewing_sessions
    query = sa.select(*_SESSION_COLUMNS).where(vs.c.event_id == event_id)
    if start is not None:
        query = query.where(vs.c.started_at >= start)
    if end is not None:
        query = query.where(vs.c.started_at < end)
    if after is not None:
        at, last_id = after
        query = query.where(sa.or_(vs.c.started_at > at, sa.and_(vs.c.started_at == at, vs.c.id > last_id)))
    return list(await conn.fetch_all(query.order_by(vs.c.started_at, vs.c.id).limit(size)))
