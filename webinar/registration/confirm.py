"""Double opt-in (SPEC §15): confirming a registration's address from the link in its e-mail, and the lapse of those
never confirmed (their seats go to the waiting list)."""

from __future__ import annotations

import datetime as dt
import enum
import logging

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.clock import now
from webinar.db import DB
from webinar.events.queries import Event
from webinar.jobs import Context, Job, Lease
from webinar.links.confirm import CONFIRM_WITHIN
from webinar.links.tokens import CONFIRM, read_token
from webinar.mail.render import Mailer
from webinar.registration import notifications, queries, seats
from webinar.registration.queries import Registration
from webinar.settings import Settings
from webinar.tables import CANCELLED, UNCONFIRMED, registrations

log = logging.getLogger(__name__)


class Confirm(enum.Enum):
    """What a confirmation link shows: its button, the confirmation done, already done, or why it cannot be."""

    ASK = "ask"
    DONE = "done"
    ALREADY = "already"
    INVALID = "invalid"  # forged, expired (lapsed), for another event, or the registration is gone


async def _named(conn: Connection, secret: str, event: Event, token: str, lock: bool = False) -> Registration | None:
    claims = read_token(secret, CONFIRM, token, now())
    if claims is None:
        return None
    if lock:
        held = sa.select(registrations.c.id).where(registrations.c.id == claims.registration_id).with_for_update()
        await conn.fetch_one(held)
    reg = await queries.by_id(conn, event.id, claims.registration_id)
    if reg is None or reg.token_version != claims.token_version or reg.erased_at is not None:
        return None
    return reg


def _judge(reg: Registration | None) -> Confirm:
    if reg is None or reg.status == CANCELLED:
        return Confirm.INVALID
    return Confirm.ASK if reg.status == UNCONFIRMED else Confirm.ALREADY


async def link_state(db: DB, secret: str, event: Event, token: str) -> Confirm:
    """What the link's page shows (a GET changes nothing: mail scanners open links)."""
    async with db.connection() as conn:
        return _judge(await _named(conn, secret, event, token))


async def confirm(db: DB, mailer: Mailer, event: Event, token: str, ip: str) -> Confirm:
    """Confirm the registration a genuine link names: it takes the status its seat gives (approved, or pending under
    manual approval) and the e-mail of that status (the join link, or the receipt), in one transaction."""
    async with db.transaction() as conn:
        held = await queries.lock_seats(conn, event.id)  # the event first, then the registration: every path's order
        reg = await _named(conn, str(mailer.settings.secret_key), event, token, lock=True)
        verdict = _judge(reg)
        if verdict is not Confirm.ASK or reg is None or held is None:
            return verdict
        status, at = seats.seat_status(held.approval), now()
        await conn.execute(
            registrations.update().where(registrations.c.id == reg.id).values(status=status, updated_at=at)
        )
        updated = await queries.by_id(conn, event.id, reg.id)
        assert updated is not None
        await notifications.queue(conn, mailer, notifications.first_kind(status), event, updated)
        await audit.record(
            conn, "registration.confirmed", actor="attendee", organisation_id=event.organisation_id,
            event_id=event.id, registration_id=reg.id, ip=ip or None, details={"to": status},
        )  # fmt: skip
    return Confirm.DONE


async def lapse_due(db: DB, settings: Settings, at: dt.datetime | None = None) -> int:
    """Cancel the registrations left unconfirmed past CONFIRM_WITHIN, event by event (each in one transaction, with
    an audit entry per registration), and give their seats to the waiting lists; how many lapsed."""
    deadline = (at or now()) - CONFIRM_WITHIN
    due = sa.select(registrations.c.event_id).where(
        registrations.c.status == UNCONFIRMED, registrations.c.created_at <= deadline
    )
    async with db.connection() as conn:
        event_ids = [row[0] for row in await conn.fetch_all(due.distinct())]
    lapsed = 0
    for event_id in event_ids:
        async with db.transaction() as conn:
            lapsed += await _lapse_event(conn, settings, event_id, deadline)
    return lapsed


async def _lapse_event(conn: Connection, settings: Settings, event_id: int, deadline: dt.datetime) -> int:
    held = await queries.lock_seats(conn, event_id)
    if held is None:
        return 0
    r = registrations
    ids = [
        row[0]
        for row in await conn.fetch_all(
            sa.select(r.c.id).where(r.c.event_id == event_id, r.c.status == UNCONFIRMED, r.c.created_at <= deadline)
        )
    ]
    if not ids:
        return 0
    at = now()
    await conn.execute(
        r.update().where(r.c.id.in_(ids)).values(status=CANCELLED, token_version=r.c.token_version + 1, updated_at=at)
    )
    for reg_id in ids:
        await audit.record(
            conn, "registration.lapsed", actor="system", organisation_id=held.organisation_id, event_id=event_id,
            registration_id=reg_id, details={"from": UNCONFIRMED, "to": CANCELLED},
        )  # fmt: skip
    await seats.fill(conn, settings, event_id)
    log.info("double opt-in: %d unconfirmed registration(s) of event #%d lapsed", len(ids), event_id)
    return len(ids)


async def lapse_pass(ctx: Context) -> bool:
    """One pass of the lapse job."""
    await lapse_due(ctx.db, ctx.settings)
    return False


# A minute late is nothing against 24 hours; the lease spares a second worker the same pass (lapsing twice is harmless).
JOB = Job("unconfirmed-lapse", lapse_pass, interval=60.0, lease=Lease(hold=dt.timedelta(minutes=2)))
