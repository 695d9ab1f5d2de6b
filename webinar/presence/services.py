"""Viewing sessions: open or resume on connect, heartbeat, close (left, logout, timeout), and the sweep."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from webinar import clock
from webinar.access import queries as access_queries
from webinar.accounts import sessions
from webinar.clock import now
from webinar.db import DB, among
from webinar.dbbackends import Prepared
from webinar.events.queries import Event
from webinar.tables import UTCDateTime, registrations, viewing_sessions, web_sessions

vs = viewing_sessions


@dataclass(frozen=True)
class Viewer:
    """Who is on the stream page: an approved registration, through one attendee web session."""

    event_id: int
    registration_id: int
    web_session_hash: str
    event: Event | None = None
    kind: str = "live"  # what a new viewing session is of: the live stream, or the replay after the end


async def authenticate(db: DB, slug: str, raw_sid: str | None, idle: dt.timedelta) -> Viewer | None:
    """The viewer behind a presence channel: a live attendee session of this event, approved; else None."""
    found = await access_queries.event_and_viewer(db, slug, raw_sid, idle)
    if found is None:
        return None
    event, session = found
    if event.purged_at is not None or event.cancelled or session is None or session.attendee.status != "approved":
        return None
    kind = "replay" if event.replay_on(clock.now()) else "live"
    return Viewer(event.id, session.attendee.id, session.id_hash, event, kind)


def _recent(web_session_hash: Any, registration_id: Any, kind: Any, horizon: Any) -> sa.Select[tuple[int]]:
    """The viewing session a new connection goes on with (values or parameters): this web session's open one seen
    within the timeout, or one it closed as `left` within it, of the same kind."""
    return (
        sa.select(vs.c.id)
        .where(
            vs.c.web_session_hash == web_session_hash,
            vs.c.registration_id == registration_id,
            vs.c.kind == kind,  # the replay after the end never continues a session of the live stream
            sa.or_(
                sa.and_(vs.c.ended_at.is_(None), vs.c.last_seen_at >= horizon),
                sa.and_(vs.c.end_reason == "left", vs.c.ended_at >= horizon),
            ),
        )
        .order_by(vs.c.started_at.desc())
        .limit(1)
    )


_NEW = ("event_id", "registration_id", "web_session_hash", "started_at", "last_seen_at", "ip", "user_agent", "kind")


def _open_or_resume() -> sa.CompoundSelect[tuple[int]]:
    """PostgreSQL's one statement for `open_or_resume`: the recent session reopened, or else a new one; its id.
    Parameters `new_<column>` (the new row's values) and `horizon`."""
    new = {name: sa.bindparam(f"new_{name}", type_=vs.c[name].type) for name in _NEW}
    kept = _recent(
        new["web_session_hash"], new["registration_id"], new["kind"], sa.bindparam("horizon", type_=UTCDateTime)
    )
    recent = kept.cte("recent")
    resumed = (
        vs.update()
        .where(vs.c.id.in_(sa.select(recent.c.id)))
        .values(last_seen_at=new["last_seen_at"], ended_at=None, end_reason=None)
        .returning(vs.c.id)
        .cte("resumed")
    )
    created = (
        vs.insert()
        .from_select(list(new), sa.select(*new.values()).where(~sa.exists(sa.select(recent.c.id))))
        .returning(vs.c.id)
        .cte("created")
    )
    return sa.select(resumed.c.id).union_all(sa.select(created.c.id))


# Compiled once: building and keying this statement anew was a sixth of a worker's CPU while viewers connected.
_OPEN_OR_RESUME = Prepared(_open_or_resume())


async def open_or_resume(db: DB, viewer: Viewer, ip: str, user_agent: str, timeout_seconds: int) -> int:
    """The viewing session to use for a new connection: this web session's recent one, reopened, or a new one.

    A break shorter than the timeout (reload, blip, restart) never splits a session: an open session seen
    within it, or one closed as `left` within it, goes on. PostgreSQL does it in one statement; SQLite, which
    has no INSERT or UPDATE inside WITH, in one transaction of two.
    """
    at = now()
    horizon = at - dt.timedelta(seconds=timeout_seconds)
    new = {
        "event_id": viewer.event_id,
        "registration_id": viewer.registration_id,
        "web_session_hash": viewer.web_session_hash,
        "started_at": at,
        "last_seen_at": at,
        "ip": ip[:45] or None,
        "user_agent": user_agent[:500],
        "kind": viewer.kind,
    }
    if not db.is_sqlite:
        row = await db.one(
            _OPEN_OR_RESUME, {f"new_{name}": value for name, value in new.items()} | {"horizon": horizon}
        )
        return int(row["id"])
    async with db.transaction() as conn:
        found = await conn.fetch_val(_recent(viewer.web_session_hash, viewer.registration_id, viewer.kind, horizon))
        if found is not None:
            await conn.execute(
                vs.update().where(vs.c.id == found).values(last_seen_at=at, ended_at=None, end_reason=None)
            )
            return int(found)
        return int(await conn.fetch_val(vs.insert().values(**new).returning(vs.c.id)))


# A page that is open keeps its attendee's web session from idling out; once a minute is enough for that.
TOUCH_WEB_SESSION_EVERY = dt.timedelta(minutes=1)


async def heartbeats(db: DB, session_ids: list[int], idle: dt.timedelta) -> set[int]:
    """Record a heartbeat on each session (one UPDATE), and keep their web sessions from idling out (one more, for
    those not touched within a minute); returns the sessions still open, the others were closed or their web
    session ended. A session another tab of the same browser closed as `left` is taken up again: the page is
    still there."""
    at = now()
    web_session_live = (
        sa.select(web_sessions.c.id_hash)
        .where(web_sessions.c.id_hash == vs.c.web_session_hash, sessions.live(at, at - idle))
        .exists()
    )
    # Each UPDATE is atomic by itself: on PostgreSQL no BEGIN/COMMIT round trips (SQLite keeps its writer lock).
    async with db.transaction() if db.is_sqlite else db.connection() as conn:
        updated = await conn.fetch_all(
            vs.update()
            .where(
                among(conn, vs.c.id, session_ids),
                sa.or_(vs.c.ended_at.is_(None), vs.c.end_reason == "left"),
                web_session_live,
            )
            .values(last_seen_at=at, ended_at=None, end_reason=None)
            .returning(vs.c.id, vs.c.web_session_hash)
        )
        if updated:
            await conn.execute(
                web_sessions.update()
                .where(
                    among(conn, web_sessions.c.id_hash, {row[1] for row in updated}),
                    web_sessions.c.revoked_at.is_(None),
                    web_sessions.c.last_seen_at < at - TOUCH_WEB_SESSION_EVERY,
                )
                .values(last_seen_at=at)
            )
    return {int(row[0]) for row in updated}


TAKEN_OVER = "taken_over"


async def take_over(db: DB, viewer: Viewer, session_id: int, devices: int, timeout_seconds: int) -> list[int] | None:
    """One live session per device allowed (SPEC §15, `events.devices`): the viewing sessions of this registrant's
    other devices (web sessions) beyond the `devices - 1` most recently opened, closed now as `taken_over`; their
    ids. None when this session was itself taken over meanwhile: of two devices opening the page at the same moment
    exactly one wins. The registrant's row is held while it decides, so takeovers take turns (SQLite: one writer)."""
    at = now()
    horizon = at - dt.timedelta(seconds=timeout_seconds)
    async with db.transaction() as conn:
        await conn.fetch_one(
            sa.select(registrations.c.id).where(registrations.c.id == viewer.registration_id).with_for_update()
        )
        live = await conn.fetch_all(
            sa.select(vs.c.id, vs.c.web_session_hash)
            .where(
                vs.c.registration_id == viewer.registration_id, vs.c.ended_at.is_(None), vs.c.last_seen_at >= horizon
            )
            .order_by(vs.c.started_at.desc(), vs.c.id.desc())
        )
        if session_id not in {row["id"] for row in live}:
            return None
        others = list(
            dict.fromkeys(row["web_session_hash"] for row in live if row["web_session_hash"] != viewer.web_session_hash)
        )
        ended = [row["id"] for row in live if row["web_session_hash"] in set(others[max(0, devices - 1) :])]
        if ended:
            await conn.execute(
                vs.update()
                .where(vs.c.id.in_(ended), vs.c.ended_at.is_(None))
                .values(ended_at=at, end_reason=TAKEN_OVER)
            )
    return ended


async def end_reason(db: DB, session_id: int) -> str | None:
    """How a viewing session ended (None while it is open)."""
    async with db.connection() as conn:
        reason = await conn.fetch_val(sa.select(vs.c.end_reason).where(vs.c.id == session_id))
    return str(reason) if reason is not None else None


async def close(db: DB, session_id: int, reason: str) -> None:
    """Close one open session: `left`/`logout` now, `timeout` at its last heartbeat."""
    ended_at = vs.c.last_seen_at if reason == "timeout" else now()
    async with db.transaction() as conn:
        await conn.execute(
            vs.update()
            .where(vs.c.id == session_id, vs.c.ended_at.is_(None))
            .values(ended_at=ended_at, end_reason=reason)
        )


async def sweep(db: DB, timeout_seconds: int) -> int:
    """Close, at their last heartbeat, open sessions not seen within the timeout; returns how many."""
    horizon = now() - dt.timedelta(seconds=timeout_seconds)
    async with db.transaction() as conn:
        closed = await conn.fetch_all(
            vs.update()
            .where(vs.c.ended_at.is_(None), vs.c.last_seen_at < horizon)
            .values(ended_at=vs.c.last_seen_at, end_reason="timeout")
            .returning(vs.c.id)
        )
    return len(closed)
