"""The evaluation's state changes, each one transaction: the organiser saving the test (not once anyone has taken
it), and an attendee's submission, scored here on the server from the stored correct options, taken once."""

from __future__ import annotations

import datetime as dt
import enum
import sqlite3
from collections.abc import Mapping

import asyncpg

from webinar import audit
from webinar.clock import now
from webinar.db import DB
from webinar.evaluation import queries
from webinar.evaluation.forms import TestInput
from webinar.evaluation.queries import Question, Result
from webinar.events.queries import Event
from webinar.i18n import N_
from webinar.registration.services import Actor


class Refusal(enum.Enum):
    """Why the evaluation cannot be taken (the page says which); nothing is stored."""

    OFF = N_("This event has no final evaluation.")
    NOT_OVER = N_("The final evaluation opens when the event ends.")
    NOT_APPROVED = N_("Only approved participants take the final evaluation.")
    TAKEN = N_("You have already taken the final evaluation; it can be taken only once.")
    CHANGED = N_("The evaluation was changed while you answered; reload the page and answer again.")


def refusal(event: Event, status: str, test: list[Question], taken: bool, at: dt.datetime) -> Refusal | None:
    """Why this person may not take the test now; None when they may (the one rule, for the page and the POST)."""
    if not event.evaluation or not test:
        return Refusal.OFF
    if status != "approved":
        return Refusal.NOT_APPROVED
    if taken:
        return Refusal.TAKEN
    return Refusal.NOT_OVER if at < event.ends_at else None


def score(test: list[Question], chosen: Mapping[int, frozenset[int]], pass_mark: int, at: dt.datetime) -> Result:
    """The result: a question counts when exactly its correct options were chosen; the score is the percentage of
    questions right, rounded down, and passing means at least the pass mark (compared without rounding)."""
    right = sum(chosen.get(q.id) == q.right for q in test)
    return Result(score=right * 100 // len(test), passed=right * 100 >= pass_mark * len(test), submitted_at=at)


def _matches(test: list[Question], chosen: Mapping[int, frozenset[int]]) -> bool:
    """Whether the answers are to exactly this test's questions, each with options of its own."""
    by_id = {q.id: q for q in test}
    return set(chosen) == set(by_id) and all(ids <= {o.id for o in by_id[q].options} for q, ids in chosen.items())


async def submit(
    db: DB, event: Event, registration_id: int, status: str, chosen: Mapping[int, frozenset[int]]
) -> Result | Refusal:
    """Score and store one person's answers (audited), or why not: checked again with the event locked, against the
    test as stored at that moment."""
    try:
        async with db.transaction() as conn:
            await queries.lock_event(conn, event.id)
            test = await queries.test_of(conn, event.id)
            taken = await queries.result_of(conn, registration_id) is not None
            if (refused := refusal(event, status, test, taken, now())) is not None:
                return refused
            if not _matches(test, chosen):
                return Refusal.CHANGED
            result = score(test, chosen, event.evaluation_pass_mark, now())
            every = frozenset().union(*chosen.values())
            await queries.insert_result(conn, event.id, registration_id, result, every)
            await audit.record(
                conn, "evaluation.submitted", actor="attendee", organisation_id=event.organisation_id,
                event_id=event.id, registration_id=registration_id,
                details={"score": result.score, "passed": result.passed},
            )  # fmt: skip
    except (asyncpg.exceptions.UniqueViolationError, sqlite3.IntegrityError):
        return Refusal.TAKEN  # a second tab's submission at the same moment
    return result


class Locked(Exception):
    """The test cannot change: people have taken it."""


async def save(db: DB, event: Event, data: TestInput, actor: Actor) -> None:
    """Set the event's evaluation (on or off, pass mark, questions), audited; Locked once anyone has taken it."""
    async with db.transaction() as conn:
        await queries.lock_event(conn, event.id)
        if await queries.answered_count(conn, event.id):
            raise Locked
        await queries.replace_test(conn, event.id, data.questions)
        await queries.set_evaluation(conn, event.id, data.on, data.pass_mark)
        await audit.record(
            conn, "evaluation.saved", actor=actor.email, actor_staff_id=actor.staff_id,
            organisation_id=event.organisation_id, event_id=event.id, ip=actor.ip or None,
            details={"evaluation": data.on, "pass_mark": data.pass_mark, "questions": len(data.questions)},
        )  # fmt: skip
