"""Presence checks: when each registrant's prompts fall due (secret, per person), showing one, answering it."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
from dataclasses import dataclass

import sqlalchemy as sa

from webinar import clock
from webinar.db import DB, insert_for
from webinar.events.queries import Event
from webinar.tables import presence_checks

pc = presence_checks

# The live window is cut into one slot per check; a check falls at a random moment of its slot, away from the slot's
# edges, so two checks are never close together. A slot of five minutes is the least the event form accepts.
MINUTES_PER_CHECK = 5
EDGE = 0.1  # of a slot, kept free at each end


@dataclass(frozen=True)
class Moment:
    """One check of one registrant's series: its number (1…n), when it falls due and the deadline to answer."""

    number: int
    due_at: dt.datetime
    answer_by: dt.datetime


def _fraction(secret: str, event_id: int, registration_id: int, number: int) -> float:
    """A number in [0, 1) that only the server can compute (HMAC of the secret key): the pages never see it."""
    message = f"presence-check:{event_id}:{registration_id}:{number}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def schedule(secret: str, event: Event, registration_id: int, answer_seconds: int) -> list[Moment]:
    """The moments of this registrant's presence checks: random within the live window, different for each person,
    the same in every worker and after a restart (derived, never stored until shown)."""
    n = event.presence_checks
    if n <= 0:
        return []
    window = dt.timedelta(seconds=answer_seconds)
    slot = (event.ends_at - event.starts_at) / n
    moments = []
    for number in range(1, n + 1):
        earliest = event.starts_at + slot * (number - 1) + slot * EDGE
        latest = max(earliest, event.starts_at + slot * number - slot * EDGE - window)
        due = earliest + (latest - earliest) * _fraction(secret, event.id, registration_id, number)
        due = due.replace(microsecond=0)
        moments.append(Moment(number, due, due + window))
    return moments


def open_at(moments: list[Moment], at: dt.datetime) -> Moment | None:
    """The check waiting for its answer at this moment, if any."""
    return next((m for m in moments if m.due_at <= at < m.answer_by), None)


def next_due(moments: list[Moment], at: dt.datetime) -> Moment | None:
    """The next check to fall due after this moment, if any."""
    return next((m for m in moments if m.due_at > at), None)


async def show(db: DB, event_id: int, registration_id: int, moment: Moment) -> tuple[int, bool]:
    """Record that a check is shown (the first page to show it sets `shown_at`; the person's other devices show the
    same check); its id, and whether it was answered already."""
    at = clock.now()
    async with db.transaction() as conn:
        insert = insert_for(conn, pc).values(
            event_id=event_id, registration_id=registration_id, number=moment.number,
            due_at=moment.due_at, answer_by=moment.answer_by, shown_at=at,
        )  # fmt: skip
        await conn.execute(insert.on_conflict_do_nothing(index_elements=[pc.c.registration_id, pc.c.number]))
        found = await conn.fetch_one(
            sa.select(pc.c.id, pc.c.answered_at).where(
                pc.c.registration_id == registration_id, pc.c.number == moment.number
            )
        )
    assert found is not None  # inserted just now or before
    return int(found["id"]), found["answered_at"] is not None


class Answer(enum.Enum):
    IN_TIME = "answered"
    LATE = "late"  # recorded, and counts as missed
    REFUSED = "refused"  # not this person's check, no such check, or answered already


async def answer(db: DB, registration_id: int, check_id: int) -> Answer:
    """Record this person's answer to one of their checks, once; the time decides whether it counts."""
    at = clock.now()
    async with db.transaction() as conn:
        row = await conn.fetch_one(
            pc.update()
            .where(pc.c.id == check_id, pc.c.registration_id == registration_id, pc.c.answered_at.is_(None))
            .values(answered_at=at)
            .returning(pc.c.answer_by)
        )
    if row is None:
        return Answer.REFUSED
    return Answer.IN_TIME if at <= row["answer_by"] else Answer.LATE
