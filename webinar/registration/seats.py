"""Seats and the waiting list: which status a new registration gets, and the one rule that gives a freed seat to the
first in line — called, in its own transaction, by every path that frees a seat or adds one (a cancellation, a
rejection, an erasure, a larger capacity)."""

from __future__ import annotations

from databases.core import Connection

from webinar import audit
from webinar.clock import now
from webinar.mail import outbox
from webinar.registration import notifications, queries
from webinar.registration.queries import Seats
from webinar.settings import Settings
from webinar.tables import REGISTERED, UNCONFIRMED, WAITLISTED, registrations
from webinar.webhooks import queue as webhooks

# The audit log's actor of a promotion: nobody decided it, the waiting list moved.
WAITING_LIST = "waiting list"


def seat_status(approval: str) -> str:
    """The status of a registration that takes a seat: approved (automatic approval) or pending (manual)."""
    return "approved" if approval == "auto" else "pending"


def from_form(event_confirms: bool, status: str) -> str:
    """The status a registration from the public form gets: `unconfirmed` instead of a seat's when its event asks
    registrants to confirm their address (double opt-in, SPEC §15); a waiting list place stays one."""
    return UNCONFIRMED if event_confirms and status in REGISTERED else status


def status_at(seats: Seats, taken: int) -> str | None:
    """The status a new registration gets while `taken` seats are held: a seat's while one is free, `waitlisted`
    once the event is full and has a waiting list; None when it is full without one. The rule, for one registration
    (`new_status`) and for each row of an import in turn (registration/importplan.py)."""
    if not queries.full_at(seats.capacity, taken):
        return seat_status(seats.approval)
    return WAITLISTED if seats.waitlist else None


async def new_status(conn: Connection, seats: Seats) -> str | None:
    """The status a new registration gets now (the caller holds the event's lock): `status_at` the seats taken."""
    return status_at(seats, await queries.seats_taken(conn, seats.id))


async def fill(conn: Connection, settings: Settings, event_id: int) -> list[int]:
    """Give the event's free seats to the earliest of its waiting list, each with the "promoted" e-mail of its new
    status and an audit entry, inside the caller's transaction; the ids promoted. It takes the event's lock first (a
    caller that freed the seat holds it already), so approved + pending never pass the capacity. Nobody is promoted
    once the event is over."""
    seats = await queries.lock_seats(conn, event_id)
    if seats is None or now() >= seats.ends_at or seats.status == "cancelled":
        return []
    free = None if seats.capacity is None else seats.capacity - await queries.seats_taken(conn, event_id)
    if free is not None and free <= 0:
        return []
    promoted = await queries.first_in_line(conn, event_id, free)
    status, at = seat_status(seats.approval), now()
    for reg in promoted:
        await conn.execute(
            registrations.update().where(registrations.c.id == reg.id).values(status=status, updated_at=at)
        )
        if reg.email:
            await outbox.enqueue_row(conn, notifications.queued_row(settings, "promoted", event_id, reg.id, reg.email))
        await audit.record(
            conn,
            "registration.promoted",
            actor=WAITING_LIST,
            organisation_id=seats.organisation_id,
            event_id=event_id,
            registration_id=reg.id,
            details={"from": WAITLISTED, "to": status},
        )
    ids = [reg.id for reg in promoted]
    await webhooks.announce_registrations(conn, "registration.status_changed", ids, {"from": WAITLISTED})
    return ids
