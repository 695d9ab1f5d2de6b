"""SQL for the final evaluation: an event's test (questions and options), a person's result and chosen options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from databases.core import Connection

from webinar import changes
from webinar.db import insert_many, to_dataclass
from webinar.tables import evaluation_answers, evaluation_options, evaluation_questions, evaluation_results, events

eq, eo, er, ea = evaluation_questions, evaluation_options, evaluation_results, evaluation_answers


@dataclass(frozen=True)
class Option:
    """One option of a question; `correct` never reaches the attendee's page."""

    id: int
    text: str
    correct: bool


@dataclass(frozen=True)
class Question:
    """One question of the test, its options in order."""

    id: int
    position: int
    text: str
    options: tuple[Option, ...]

    @property
    def multiple(self) -> bool:
        """Whether more than one option is correct (the page then asks to choose all that apply)."""
        return sum(option.correct for option in self.options) > 1

    @property
    def right(self) -> frozenset[int]:
        """The ids of the correct options: a question is answered right when exactly these are chosen."""
        return frozenset(option.id for option in self.options if option.correct)


async def test_of(conn: Connection, event_id: int) -> list[Question]:
    """The event's test, questions and options in order (empty when it has none)."""
    rows = await conn.fetch_all(
        sa.select(eq.c.id.label("question_id"), eq.c.position, eq.c.text.label("question"), eo.c.id, eo.c.text,
                  eo.c.correct)
        .select_from(eq.join(eo, eo.c.question_id == eq.c.id))
        .where(eq.c.event_id == event_id)
        .order_by(eq.c.position, eo.c.position)
    )  # fmt: skip
    found: dict[int, Question] = {}
    for row in rows:
        question = found.get(row["question_id"]) or Question(row["question_id"], row["position"], row["question"], ())
        found[question.id] = Question(
            question.id, question.position, question.text, (*question.options, to_dataclass(Option, row))
        )
    return list(found.values())


@dataclass(frozen=True)
class QuestionInput:
    """A question as the organiser wrote it: its text and its options, each (text, correct)."""

    text: str
    options: tuple[tuple[str, bool], ...]


async def replace_test(conn: Connection, event_id: int, test: Sequence[QuestionInput]) -> None:
    """Put `test` in place of the event's questions (inside the caller's transaction; nobody has answered yet)."""
    await conn.execute(eq.delete().where(eq.c.event_id == event_id))
    for position, question in enumerate(test, start=1):
        question_id = await conn.fetch_val(
            eq.insert().values(event_id=event_id, position=position, text=question.text).returning(eq.c.id)
        )
        rows = [
            {"question_id": question_id, "position": n, "text": text, "correct": correct}
            for n, (text, correct) in enumerate(question.options, start=1)
        ]
        await insert_many(conn, eo.insert(), rows)


async def set_evaluation(conn: Connection, event_id: int, on: bool, pass_mark: int) -> None:
    """The event's `evaluation` and `evaluation_pass_mark`."""
    changes.shown_changed()  # the event's row, as kept copies hold it
    await conn.execute(
        events.update().where(events.c.id == event_id).values(evaluation=on, evaluation_pass_mark=pass_mark)
    )


async def lock_event(conn: Connection, event_id: int) -> None:
    """Lock the event's row (PostgreSQL; SQLite's writers take turns): a change of the test and a submission, in
    turn, so that nobody answers a test that is being replaced."""
    await conn.execute(sa.select(events.c.id).where(events.c.id == event_id).with_for_update())


async def answered_count(conn: Connection, event_id: int) -> int:
    """How many people have taken the event's test."""
    return int(await conn.fetch_val(sa.select(sa.func.count()).select_from(er).where(er.c.event_id == event_id)))


@dataclass(frozen=True)
class Result:
    """A person's result: the score in percent (rounded down) and whether it reached the pass mark of the time."""

    score: int
    passed: bool
    submitted_at: dt.datetime


async def result_of(conn: Connection, registration_id: int) -> Result | None:
    """The person's result, once they have taken the test."""
    row = await conn.fetch_one(
        sa.select(er.c.score, er.c.passed, er.c.submitted_at).where(er.c.registration_id == registration_id)
    )
    return to_dataclass(Result, row) if row else None


async def chosen_of(conn: Connection, registration_id: int) -> frozenset[int]:
    """The ids of the options the person chose."""
    rows = await conn.fetch_all(sa.select(ea.c.option_id).where(ea.c.registration_id == registration_id))
    return frozenset(row["option_id"] for row in rows)


async def insert_result(
    conn: Connection, event_id: int, registration_id: int, result: Result, chosen: frozenset[int]
) -> None:
    """Store a person's result and chosen options (a second result for them raises IntegrityError)."""
    await conn.execute(
        er.insert().values(
            event_id=event_id, registration_id=registration_id, score=result.score, passed=result.passed,
            submitted_at=result.submitted_at,
        )
    )  # fmt: skip
    await insert_many(conn, ea.insert(), [{"registration_id": registration_id, "option_id": o} for o in sorted(chosen)])


async def erase(conn: Connection, registration_id: int) -> None:
    """Delete the person's result and answers (erasure)."""
    await conn.execute(ea.delete().where(ea.c.registration_id == registration_id))
    await conn.execute(er.delete().where(er.c.registration_id == registration_id))
