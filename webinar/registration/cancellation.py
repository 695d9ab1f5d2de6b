"""Cancellation by the attendee, from /me or from the signed link in their e-mails: one transaction that sets the
status, revokes the join links, ends the person's sessions, frees the seat for the next in line and acknowledges it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.accounts import sessions
from webinar.clock import now
from webinar.db import DB
from webinar.events.queries import Event
from webinar.links.tokens import CANCEL, read_token
from webinar.mail.render import Mailer
from webinar.registration import notifications, queries, seats
from webinar.registration.queries import Registration
from webinar.tables import CANCELLABLE, CANCELLED, HOLDS_SEAT, registrations
from webinar.webhooks import queue as webhooks

VIA = ("me", "link", "api")  # where the cancellation came from, for the audit entry (api: an organiser's system)


class Cancel(enum.Enum):
    ASK = "ask"  # a valid link, the registration still cancellable: show the confirm button
    DONE = "done"
    ALREADY = "already"  # cancelled before (a second click, a link used twice)
    OVER = "over"  # the event has ended: nothing to cancel any more
    INVALID = "invalid"  # tampered, expired, another event's, revoked, erased, or rejected


@dataclass(frozen=True)
class Canceller:
    """Who cancels and from where: the attendee (never staff), their address for the audit entry."""

    via: str  # one of VIA
    ip: str | None


def _judge(event: Event, reg: Registration | None, token_version: int | None) -> Cancel:
    """What may become of a cancellation of `reg` (`token_version`: the link's, None from /me)."""
    if reg is None or reg.erased_at is not None:
        return Cancel.INVALID
    if reg.status == CANCELLED:
        return Cancel.ALREADY
    if token_version is not None and token_version != reg.token_version:
        return Cancel.INVALID
    if reg.status not in CANCELLABLE:
        return Cancel.INVALID
    return Cancel.OVER if now() >= event.ends_at else Cancel.ASK


async def _named(conn: Connection, secret: str, event: Event, token: str) -> tuple[Registration | None, int | None]:
    """The registration a cancel link names at this event, and the link's token version."""
    claims = read_token(secret, CANCEL, token, now())
    if claims is None:
        return None, None
    return await queries.by_id(conn, event.id, claims.registration_id), claims.token_version


async def link_state(db: DB, secret: str, event: Event, token: str) -> Cancel:
    """What a cancel link shows (its GET changes nothing: mail scanners open links): the button, or why not."""
    async with db.connection() as conn:
        reg, version = await _named(conn, secret, event, token)
    return _judge(event, reg, version)


async def cancel_by_link(db: DB, mailer: Mailer, event: Event, token: str, who: Canceller) -> Cancel:
    """Cancel the registration a genuine, unspent cancel link names; DONE, or why nothing changed."""
    async with db.transaction() as conn:
        await queries.lock_seats(conn, event.id)  # the event first, then the registration: the order of every path
        reg, version = await _named(conn, str(mailer.settings.secret_key), event, token)
        if reg is None:
            return Cancel.INVALID
        return await _cancel(conn, mailer, event, reg.id, version, who)


async def cancel(db: DB, mailer: Mailer, event: Event, registration_id: int, who: Canceller) -> Cancel:
    """Cancel the signed-in attendee's own registration (/me); DONE, or why nothing changed."""
    async with db.transaction() as conn:
        await queries.lock_seats(conn, event.id)
        return await _cancel(conn, mailer, event, registration_id, None, who)


async def _cancel(
    conn: Connection, mailer: Mailer, event: Event, reg_id: int, version: int | None, who: Canceller
) -> Cancel:
    assert who.via in VIA
    await conn.fetch_one(sa.select(registrations.c.id).where(registrations.c.id == reg_id).with_for_update())
    reg = await queries.by_id(conn, event.id, reg_id)  # read again while held: a simultaneous click has finished
    verdict = _judge(event, reg, version)
    if verdict is not Cancel.ASK or reg is None:
        return verdict
    at = now()
    await conn.execute(
        registrations.update()
        .where(registrations.c.id == reg.id)
        .values(status=CANCELLED, token_version=reg.token_version + 1, updated_at=at)  # join and cancel links die
    )
    await sessions.end_all(conn, reg.id, "logout")
    cancelled = await queries.by_id(conn, event.id, reg.id)
    assert cancelled is not None
    await notifications.queue(conn, mailer, "cancelled", event, cancelled)
    await audit.record(
        conn,
        "registration.cancelled",
        actor="attendee",
        organisation_id=event.organisation_id,
        event_id=event.id,
        registration_id=reg.id,
        ip=who.ip,
        details={"from": reg.status, "via": who.via},
    )
    await webhooks.announce(
        conn, "registration.status_changed", event.organisation_id, event.id, reg.id,
        {"from": reg.status, "status": CANCELLED},
    )  # fmt: skip
    if reg.status in HOLDS_SEAT:
        await seats.fill(conn, mailer.settings, event.id)
    return Cancel.DONE
