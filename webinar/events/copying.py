"""What a copy of an event takes from its original: its settings beyond the form, questions, e-mail texts, evaluation.

Never its people: no registration, consent record, viewing session, certificate or e-mail is copied, and the copy's
counters (certificate numbers, the calendar entry's SEQUENCE) start again; its dates are the ones the form was given.
"""

from __future__ import annotations

import sqlalchemy as sa
from databases.core import Connection

from webinar import changes
from webinar.clock import now
from webinar.tables import email_templates, evaluation_options, evaluation_questions, events, questions

# The event's own columns set on other pages than the event form (the evaluation page), copied as they are.
EVENT_COLUMNS = ("evaluation", "evaluation_pass_mark")


async def copy_setup(conn: Connection, source_id: int, target_id: int, editor: str) -> None:
    """Give the new event `target_id` the setup of `source_id` (inside the caller's transaction); `editor` is the
    staff member's address, recorded as the one who wrote the copied e-mail texts."""
    changes.shown_changed()
    source = await conn.fetch_one(sa.select(*(events.c[n] for n in EVENT_COLUMNS)).where(events.c.id == source_id))
    assert source is not None
    await conn.execute(events.update().where(events.c.id == target_id).values({n: source[n] for n in EVENT_COLUMNS}))
    await _copy_questions(conn, source_id, target_id)
    await _copy_texts(conn, source_id, target_id, editor)
    await _copy_evaluation(conn, source_id, target_id)


async def _copy_questions(conn: Connection, source_id: int, target_id: int) -> None:
    """The custom questions still asked (not the removed ones), in their order."""
    at = now()
    kept = ("label_ro", "label_en", "help_ro", "help_en", "kind", "options", "required", "position")
    when = sa.literal(at, questions.c.created_at.type)
    picked = sa.select(
        sa.literal(target_id, sa.BigInteger), *(questions.c[n] for n in kept), when, when,
    ).where(questions.c.event_id == source_id, questions.c.removed_at.is_(None))  # fmt: skip
    await conn.execute(questions.insert().from_select(["event_id", *kept, "created_at", "updated_at"], picked))


async def _copy_texts(conn: Connection, source_id: int, target_id: int, editor: str) -> None:
    kept = ("kind", "language", "subject", "body")
    picked = sa.select(
        sa.literal(target_id, sa.BigInteger), *(email_templates.c[n] for n in kept), sa.literal(editor),
        sa.literal(now(), email_templates.c.updated_at.type),
    ).where(email_templates.c.event_id == source_id)  # fmt: skip
    await conn.execute(email_templates.insert().from_select(["event_id", *kept, "updated_by", "updated_at"], picked))


async def _copy_evaluation(conn: Connection, source_id: int, target_id: int) -> None:
    """The final evaluation's questions and their options (a question at a time: each option needs its new id)."""
    query = evaluation_questions.select().where(evaluation_questions.c.event_id == source_id)
    for question in await conn.fetch_all(query.order_by(evaluation_questions.c.position)):
        new_id = await conn.fetch_val(
            evaluation_questions.insert()
            .values(event_id=target_id, position=question["position"], text=question["text"])
            .returning(evaluation_questions.c.id)
        )
        o = evaluation_options.c
        picked = sa.select(sa.literal(new_id, sa.BigInteger), o.position, o.text, o.correct).where(
            o.question_id == question["id"]
        )
        await conn.execute(
            evaluation_options.insert().from_select(["question_id", "position", "text", "correct"], picked)
        )
