"""Importing a list of people into an event (SPEC §11): preview it, keep it until the organiser confirms, then
register exactly what the preview showed, in one transaction, through the rows every registration writes.

Between the preview and the confirmation the parsed cells wait in `import_uploads` — in the database, so the
confirmation may reach any web process — found by the SHA-256 of a random token that only the uploader's page
holds, bound to that staff member and that event, for an hour at most. The browser sends back the token and the
choice of e-mails, never the data. The confirmation plans the same cells again under the event's lock and writes
only if that plan's digest is the preview's; otherwise nothing is written and the organiser sees the new preview.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.clock import now
from webinar.db import DB, to_dataclass
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.registration import queries, rows
from webinar.registration.importfile import Table
from webinar.registration.importplan import Plan, plan
from webinar.registration.queries import Seats
from webinar.registration.questions import Question
from webinar.registration.services import Actor
from webinar.settings import Settings
from webinar.tables import import_uploads, registrations

KEPT_FOR = dt.timedelta(hours=1)
AUDIT_ACTION = "registrations.imported"


@dataclass(frozen=True)
class Upload:
    """A list kept between its preview and its confirmation."""

    id: int
    event_id: int
    staff_user_id: int
    file_sha256: str
    plan_sha256: str
    row_count: int
    cells: bytes
    created_at: dt.datetime
    expires_at: dt.datetime

    def table(self) -> Table:
        """The cells as they were read from the file."""
        kind, delimiter, header, body = json.loads(zlib.decompress(self.cells))
        return Table(kind, delimiter, tuple(header), tuple((n, tuple(cells)) for n, cells in body))


def _packed(table: Table) -> bytes:
    body = [table.kind, table.delimiter, table.header, table.rows]
    return zlib.compress(json.dumps(body, ensure_ascii=False).encode(), 6)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def seats_of(event: Event) -> Seats:
    """The event's seats as read with it (the preview's; the confirmation holds the event's lock instead)."""
    return Seats(
        event.id, event.organisation_id, event.capacity, event.approval, event.waitlist, event.ends_at, event.status
    )


async def _registered(conn: Connection, event_id: int) -> set[str]:
    """The addresses registered at the event (erased registrations hold none)."""
    rows_ = await conn.fetch_all(
        sa.select(registrations.c.email_normalised).where(
            registrations.c.event_id == event_id, registrations.c.email_normalised.is_not(None)
        )
    )
    return {row["email_normalised"] for row in rows_}


async def _plan(conn: Connection, table: Table, event: Event, held: Seats) -> Plan:
    """The plan of `table` at `event` as the database is now (planned off the event loop: thousands of rows)."""
    asked: Sequence[Question] = await queries.questions_of(conn, event.id)
    taken = await queries.seats_taken(conn, event.id)
    registered = await _registered(conn, event.id)
    return await asyncio.to_thread(plan, table, event, asked, held, taken, registered)


async def preview(db: DB, event: Event, table: Table) -> Plan:
    """What importing `table` into `event` would do now; FileRefused when its columns cannot be used."""
    async with db.connection() as conn:
        return await _plan(conn, table, event, seats_of(event))


async def keep(db: DB, event: Event, staff_id: int, table: Table, file_sha256: str, planned: Plan) -> str:
    """Keep a previewed list for its confirmation (replacing this staff member's earlier one for the event, and
    dropping every expired one); the token its confirmation must send."""
    token = secrets.token_urlsafe(32)
    at = now()
    async with db.transaction() as conn:
        await delete_expired(conn)
        await conn.execute(
            import_uploads.delete().where(
                import_uploads.c.event_id == event.id, import_uploads.c.staff_user_id == staff_id
            )
        )
        await conn.execute(
            import_uploads.insert().values(
                token_hash=_hash(token), event_id=event.id, staff_user_id=staff_id, file_sha256=file_sha256,
                plan_sha256=planned.digest, row_count=len(table.rows), cells=_packed(table), created_at=at,
                expires_at=at + KEPT_FOR,
            )
        )  # fmt: skip
    return token


async def _kept(conn: Connection, event_id: int, staff_id: int | None, token: str, lock: bool = False) -> Upload | None:
    query = import_uploads.select().where(
        import_uploads.c.token_hash == _hash(token),
        import_uploads.c.event_id == event_id,
        import_uploads.c.staff_user_id == staff_id,
        import_uploads.c.expires_at > now(),
    )
    row = await conn.fetch_one(query.with_for_update() if lock else query)
    return to_dataclass(Upload, row) if row else None


async def kept(db: DB, event: Event, staff_id: int, token: str) -> Upload | None:
    """The list this staff member previewed for this event under `token`, while it is kept."""
    async with db.connection() as conn:
        return await _kept(conn, event.id, staff_id, token)


async def discard(db: DB, event: Event, staff_id: int, token: str) -> None:
    """Forget a previewed list (the organiser chose not to import it)."""
    async with db.transaction() as conn:
        await conn.execute(
            import_uploads.delete().where(
                import_uploads.c.token_hash == _hash(token),
                import_uploads.c.event_id == event.id,
                import_uploads.c.staff_user_id == staff_id,
            )
        )


async def delete_expired(conn: Connection) -> None:
    """Drop the lists whose hour is over (inside the caller's transaction; retention's daily pass calls it too)."""
    await conn.execute(import_uploads.delete().where(import_uploads.c.expires_at <= now()))


async def discard_all(conn: Connection, event_id: int) -> None:
    """Drop every list waiting to be imported into the event (its personal data purged, inside that transaction)."""
    await conn.execute(import_uploads.delete().where(import_uploads.c.event_id == event_id))


GONE, CHANGED, IMPORTED, CLOSED = "gone", "changed", "imported", "closed"


@dataclass(frozen=True)
class Outcome:
    """What a confirmation did: IMPORTED (`counts` by status), CHANGED (nothing written; `plan` is the new
    preview, now the one to confirm), GONE (no such list kept: expired, confirmed or discarded) or CLOSED (the
    event is over or purged)."""

    kind: str
    counts: dict[str, int] | None = None
    plan: Plan | None = None


class _Changed(Exception):
    """The plan is not the previewed one: roll the transaction back."""


def takes_imports(event: Event) -> bool:
    """Whether people can still be imported into the event: not once it is over, cancelled or its data purged."""
    return event.purged_at is None and not event.cancelled and now() < event.ends_at


async def confirm(db: DB, settings: Settings, event: Event, actor: Actor, token: str, send: bool) -> Outcome:
    """Register the previewed list, exactly as previewed, in one transaction: each row's registration, its consent
    basis `imported` (by `actor`, now), its answers and — when `send` — its first e-mail; one audit entry."""
    try:
        async with db.transaction() as conn:
            # Held until the end: a second click waits for the first, then finds nothing left to import.
            upload = await _kept(conn, event.id, actor.staff_id, token, lock=True)
            if upload is None:
                return Outcome(GONE)
            held = await queries.lock_seats(conn, event.id)
            current = await event_queries.by_id(conn, event.id)
            if held is None or current is None or not takes_imports(current):
                return Outcome(CLOSED)
            current = replace(current, approval=held.approval)
            planned = await _plan(conn, upload.table(), current, held)
            if planned.digest != upload.plan_sha256:
                raise _Changed
            counts = await _write(conn, settings, current, actor, upload, planned, send)
    except _Changed:
        return await _changed(db, event, actor, token)
    return Outcome(IMPORTED, counts=counts)


async def _write(
    conn: Connection, settings: Settings, event: Event, actor: Actor, upload: Upload, planned: Plan, send: bool
) -> dict[str, int]:
    at = now()
    news = [
        rows.new_imported(settings, event, row.data, actor.staff_id, at, row.status)
        for row in planned.to_import
        if row.data is not None and row.status is not None
    ]
    ids = await rows.write(conn, news, send=send)
    if None in ids:  # registered meanwhile by the form's lock-free path (an event without seats): plan again
        raise _Changed
    await conn.execute(import_uploads.delete().where(import_uploads.c.id == upload.id))
    counts = planned.counts()
    await audit.record(
        conn, AUDIT_ACTION, actor=actor.email, actor_staff_id=actor.staff_id, organisation_id=event.organisation_id,
        event_id=event.id, ip=actor.ip,
        details={"rows": len(news), **counts, "refused": len(planned.refused), "emails": send,
                 "file_sha256": upload.file_sha256},
    )  # fmt: skip
    return counts


async def _changed(db: DB, event: Event, actor: Actor, token: str) -> Outcome:
    """The list as it would import now, kept as the one to confirm (nothing was written)."""
    async with db.transaction() as conn:
        upload = await _kept(conn, event.id, actor.staff_id, token, lock=True)
        current = await event_queries.by_id(conn, event.id)
        if upload is None or current is None or not takes_imports(current):
            return Outcome(GONE if upload is None else CLOSED)
        planned = await _plan(conn, upload.table(), current, seats_of(current))
        await conn.execute(
            import_uploads.update().where(import_uploads.c.id == upload.id).values(plan_sha256=planned.digest)
        )
    return Outcome(CHANGED, plan=planned)
