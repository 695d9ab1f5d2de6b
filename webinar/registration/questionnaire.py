"""Changing an event's custom questions (add, edit, move, remove) and a registration's answers.

Each change of the questions is one transaction that also bumps the event's `updated_at`, so a registration form
checked against a kept copy of the old questions (registration/batch.py) is never written as if it were current;
on PostgreSQL that update also holds the event's row, so two organisers' changes take turns. Each one leaves an
audit entry. A question is never deleted here: a removed one keeps its answers until the people who gave them are
erased (by themselves, by staff or by retention).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit, changes
from webinar.clock import now
from webinar.db import DB
from webinar.events.queries import Event
from webinar.registration import queries
from webinar.registration.questions import CHOICE_KINDS, PER_EVENT_MOST, Question, QuestionInput
from webinar.registration.services import Actor
from webinar.tables import answers, events, questions

UP, DOWN = "up", "down"


class Refused(Exception):
    """A change the question's state does not allow: `field` names the form field, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field, self.reason = field, reason


KIND_LOCKED, TOO_MANY = "kind_locked", "too_many"


def _values(data: QuestionInput) -> dict[str, Any]:
    options = "\n".join(data.options) if data.kind in CHOICE_KINDS else ""
    return {
        "label_ro": data.label_ro, "label_en": data.label_en, "help_ro": data.help_ro, "help_en": data.help_en,
        "kind": data.kind, "options": options, "required": data.required,
    }  # fmt: skip


async def _changed(conn: Connection, event: Event, actor: Actor, action: str, question_id: int, **details: Any) -> None:
    """Bump the event's `updated_at` (kept copies of its questions go stale) and record who changed what."""
    changes.shown_changed()
    await conn.execute(events.update().where(events.c.id == event.id).values(updated_at=now()))
    await audit.record(
        conn, f"question.{action}", actor=actor.email, actor_staff_id=actor.staff_id,
        organisation_id=event.organisation_id, event_id=event.id, ip=actor.ip,
        details={"question_id": question_id, **details},
    )  # fmt: skip


async def _asked(conn: Connection, event: Event, question_id: int) -> Question | None:
    """One question the event asks now (not removed); None for any other id, another event's too."""
    found = await queries.questions_of(conn, event.id)
    return next((q for q in found if q.id == question_id), None)


async def add(db: DB, event: Event, data: QuestionInput, actor: Actor) -> int:
    """Add a question after the others; Refused(TOO_MANY) past the most an event may ask. Returns its id."""
    async with db.transaction() as conn:
        changes.shown_changed()
        await conn.execute(events.update().where(events.c.id == event.id).values(updated_at=now()))  # the turn
        if len(await queries.questions_of(conn, event.id)) >= PER_EVENT_MOST:
            raise Refused("label_" + event.language, TOO_MANY)
        last = await conn.fetch_val(
            sa.select(sa.func.max(questions.c.position)).where(questions.c.event_id == event.id)
        )
        at = now()
        question_id: int = await conn.fetch_val(
            questions.insert()
            .values(event_id=event.id, position=(last or 0) + 1, created_at=at, updated_at=at, **_values(data))
            .returning(questions.c.id)
        )
        await _changed(conn, event, actor, "added", question_id, kind=data.kind)
    return question_id


async def update(db: DB, event: Event, question_id: int, data: QuestionInput, actor: Actor) -> bool:
    """Change a question's wording, options or rule; its stored answers stay as they were given. Refused
    (KIND_LOCKED) when its kind would change once someone answered it. False when the event has no such question."""
    async with db.transaction() as conn:
        old = await _asked(conn, event, question_id)
        if old is None:
            return False
        if data.kind != old.kind and await queries.has_answers(conn, question_id):
            raise Refused("kind", KIND_LOCKED)
        values = _values(data)
        await conn.execute(questions.update().where(questions.c.id == question_id).values(**values, updated_at=now()))
        changed = sorted(name for name, value in values.items() if getattr(old, name) != value)
        await _changed(conn, event, actor, "updated", question_id, changed=changed)
    return True


async def move(db: DB, event: Event, question_id: int, direction: str, actor: Actor) -> bool:
    """Move a question one place up or down among those asked (removed ones keep their places in the reports);
    False when the event has no such question."""
    assert direction in (UP, DOWN)
    async with db.transaction() as conn:
        every = await queries.questions_of(conn, event.id, queries.EVERY)
        asked = [q for q in every if q.removed_at is None]
        at = next((n for n, q in enumerate(asked) if q.id == question_id), None)
        if at is None:
            return False
        other = at - 1 if direction == UP else at + 1
        if 0 <= other < len(asked):
            slots = [n for n, q in enumerate(every) if q.removed_at is None]  # where the asked ones stand
            order = list(every)
            order[slots[at]], order[slots[other]] = order[slots[other]], order[slots[at]]
            await _renumber(conn, order)
            await _changed(conn, event, actor, "moved", question_id, direction=direction)
    return True


async def _renumber(conn: Connection, order: Sequence[Question]) -> None:
    for position, question in enumerate(order, start=1):
        if question.position != position:
            await conn.execute(questions.update().where(questions.c.id == question.id).values(position=position))


async def remove(db: DB, event: Event, question_id: int, actor: Actor) -> bool:
    """Stop asking a question; its answers are kept (and exported) until the people are erased. False when the
    event asks no such question."""
    async with db.transaction() as conn:
        if await _asked(conn, event, question_id) is None:
            return False
        at = now()
        await conn.execute(questions.update().where(questions.c.id == question_id).values(removed_at=at, updated_at=at))
        await _changed(conn, event, actor, "removed", question_id)
    return True


async def save_answers(
    conn: Connection, registration_id: int, asked: Sequence[Question], given: Mapping[int, str]
) -> list[str]:
    """Replace a registration's answers to the questions asked now by `given` (inside the caller's transaction);
    answers to removed questions stay. Returns the names (`q_{id}`) of the answers that changed."""
    stored = await queries.answers_of(conn, registration_id)
    changed = [q for q in asked if stored.get(q.id) != given.get(q.id)]
    if not changed:
        return []
    ids = [q.id for q in changed]
    await conn.execute(
        answers.delete().where(answers.c.registration_id == registration_id, answers.c.question_id.in_(ids))
    )
    rows = [{"registration_id": registration_id, "question_id": i, "value": given[i]} for i in ids if i in given]
    if rows:
        await conn.execute(answers.insert().values(rows))
    return [q.name for q in changed]
