"""The API's reads: pages by keyset on indexed columns (never OFFSET: the millionth row costs what the first does),
each fenced to the token's organisation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.db import DB, to_dataclass
from webinar.dbbackends import Prepared
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.tables import answers, events, registrations, viewing_sessions


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


# The columns a registration of the API carries (views.registration_json): not the password hash nor the search text.
REGISTRATION_COLUMNS = (
    "id", "event_id", "email", "first_name", "last_name", "job_title", "member_id", "organisation", "phone", "status",
    "marketing_opt_in", "language", "created_at", "updated_at", "decided_at", "erased_at",
)  # fmt: skip


def _page_of(*columns: Any, with_status: bool) -> sa.Select[Any]:
    """The page's registrations after the cursor, by id (with the status filter): a range scan of
    ix_registrations_event_id from the cursor, however far the page is."""
    r = registrations.c
    query = sa.select(*columns).where(r.event_id == sa.bindparam("event_id"), r.id > sa.bindparam("after"))
    if with_status:
        query = query.where(r.status == sa.bindparam("status"))
    return query.order_by(r.id).limit(sa.bindparam("size"))


def _answers_of_page(with_status: bool) -> Prepared:
    page = _page_of(registrations.c.id, with_status=with_status).scalar_subquery()
    a = answers.c
    return Prepared(sa.select(a.registration_id, a.question_id, a.value).where(a.registration_id.in_(page)))


# Prepared once: each is then one round trip on the driver (PostgreSQL: the statement pool, asyncpg's own rows).
_REGISTRATIONS_PAGE = {
    with_status: Prepared(_page_of(*(registrations.c[name] for name in REGISTRATION_COLUMNS), with_status=with_status))
    for with_status in (False, True)
}
_ANSWERS_OF_PAGE = {with_status: _answers_of_page(with_status) for with_status in (False, True)}


def _page_values(event_id: int, status: str | None, after: int, size: int) -> dict[str, Any]:
    values: dict[str, Any] = {"event_id": event_id, "after": after, "size": size}
    return values if status is None else values | {"status": status}


async def registrations_after(db: DB, event_id: int, status: str | None, after: int, size: int) -> list[Any]:
    """The next `size` registrations of the event (with `status`) with an id above `after`, by id: the API's
    columns (REGISTRATION_COLUMNS), rows read by column name."""
    return await db.all(_REGISTRATIONS_PAGE[status is not None], _page_values(event_id, status, after, size))


async def answers_after(db: DB, event_id: int, status: str | None, after: int, size: int) -> dict[int, dict[int, str]]:
    """The stored answers of the same page as `registrations_after` (same arguments), by registration id, then
    question id: the page is named by its conditions, not by its rows, so both can be asked for at once."""
    found: dict[int, dict[int, str]] = {}
    for row in await db.all(_ANSWERS_OF_PAGE[status is not None], _page_values(event_id, status, after, size)):
        found.setdefault(int(row["registration_id"]), {})[int(row["question_id"])] = row["value"]
    return found


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
