"""The two write paths of a registration store the same rows: the same submissions, through the real app, to an
event that takes the lock-free path (`registration/batch.py`) and to one that takes the locking path (a capacity),
compared column by column on both engines — the registration, its consents, its answers to the event's custom
questions and its e-mail."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import sqlalchemy as sa

from tests.webinar.question_helpers import EVERY_KIND, GOOD_ANSWERS, add_questions
from tests.webinar.regutil import open_form, person
from webinar.db import DB
from webinar.tables import answers, consent_records, outbox, questions, registrations

SUBMISSIONS = [
    person(email="ana.ionescu@example.org", first_name="Ana", last_name="Ionescu"),
    person(email="Stefan.Țurcanu@Example.org", first_name="Ștefan", last_name="Țurcanu", consent_marketing="on"),
    person(email="ion@example.org", first_name="Ion", last_name="Popa", job_title=None, organisation=None),
    person(
        email="maria@example.org", first_name="Maria", last_name="Pop", password="o parolă lungă", phone="0722 000 111"
    ),
    person(email="dan@example.org", first_name="Dan", last_name="Ene", consent_marketing="on", member_id="CMR-123"),
]
# What each submission answers, by the kind of question (EVERY_KIND): all of them, some, none.
ANSWERS: list[dict[str, Any]] = [
    GOOD_ANSWERS,
    {"text": "Pediatrie", "multichoice": ["Tratament"], "choice": "Cardiologie"},
    {"text": "Ion", "choice": "Medicină de familie", "checkbox": "on", "date": "2001-01-01"},
    {"text": "Maria", "choice": "Pediatrie", "number": "-3", "textarea": "o singură linie"},
    {"text": "Dan", "choice": "Pediatrie", "multichoice": ["Diagnostic", "Tratament", "Prevenție"]},
]
# The columns that name the row, its event (and its consent text) or the moment it was written differ by
# construction; the test checks their shape instead. Every other column must be equal.
IDENTITY = {"id", "event_id", "registration_id", "message_id", "consent_text_id"}  # each event has its own text
# An answer's question is compared by its place in the event's form (each event has its own questions).
MOMENTS = {"created_at", "updated_at", "recorded_at", "next_attempt_at"}
SALTED = {"password_hash"}
MESSAGE_ID = re.compile(r"^<[0-9a-f]{32}@[^>]+>$")


async def _stored(db: DB, event_id: int) -> list[dict[str, Any]]:
    """Each registration of the event with its consents and e-mails, by address."""
    async with db.connection() as conn:
        regs = await conn.fetch_all(
            registrations.select().where(registrations.c.event_id == event_id).order_by(registrations.c.email)
        )
        stored = []
        for reg in regs:
            consents = await conn.fetch_all(
                consent_records.select()
                .where(consent_records.c.registration_id == reg["id"])
                .order_by(consent_records.c.id)
            )
            mails = await conn.fetch_all(outbox.select().where(outbox.c.registration_id == reg["id"]))
            given = await conn.fetch_all(
                sa.select(answers, questions.c.position.label("question_position"))
                .join(questions, questions.c.id == answers.c.question_id)
                .where(answers.c.registration_id == reg["id"])
                .order_by(questions.c.position)
            )
            stored.append({"registration": dict(reg._mapping), "consents": [dict(c._mapping) for c in consents],
                           "answers": [dict(a._mapping) for a in given],
                           "mails": [dict(m._mapping) for m in mails]})  # fmt: skip
    return stored


def _compare(table: str, locked: dict[str, Any], batched: dict[str, Any], started: dt.datetime) -> None:
    assert locked.keys() == batched.keys()
    for column in locked:
        a, b = locked[column], batched[column]
        where = f"{table}.{column}"
        if column in IDENTITY or column == "question_id":
            assert (a is None) == (b is None), where
            if column == "message_id":
                assert MESSAGE_ID.match(a) and MESSAGE_ID.match(b) and a != b, where
        elif column in MOMENTS:
            for moment in (a, b):
                assert started <= moment <= started + dt.timedelta(minutes=5), where
        elif column not in SALTED:
            assert a == b, f"{where}: {a!r} (locking path) != {b!r} (lock-free path)"


async def test_both_write_paths_store_the_same_rows(client: httpx.AsyncClient, create_event, db: DB, app) -> None:
    common = {"login": "link_and_password", "field_member_id": "optional", "field_phone": "optional"}
    batched_id = await create_event(slug="no-seats", **common)
    locked_id = await create_event(slug="seats", capacity=1000, **common)
    asked = {event_id: await add_questions(db, event_id, *EVERY_KIND) for event_id in (batched_id, locked_id)}
    writer = app.state.registrar.writer
    from webinar.clock import now

    started = now() - dt.timedelta(seconds=1)
    for slug, event_id in (("no-seats", batched_id), ("seats", locked_id)):
        hidden = await open_form(client, slug)
        before = writer.writes
        for submission, answered in zip(SUBMISSIONS, ANSWERS, strict=True):
            replies = {f"q_{asked[event_id][[q['kind'] for q in EVERY_KIND].index(k)]}": v for k, v in answered.items()}
            response = await client.post(f"/events/{slug}/register", data={**submission, **replies, **hidden})
            assert response.status_code == 303, response.text[:500]
        # Only the event without seats goes through the lock-free writer, once per registration.
        assert writer.writes - before == (len(SUBMISSIONS) if slug == "no-seats" else 0)

    batched, locked = await _stored(db, batched_id), await _stored(db, locked_id)
    assert len(batched) == len(locked) == len(SUBMISSIONS)
    assert sum(len(row["answers"]) for row in batched) == 7 + 4 + 4 + 5 + 4  # every answer given, checkboxes' no too
    for one, other in zip(locked, batched, strict=True):
        _compare("registrations", one["registration"], other["registration"], started)
        assert [c["purpose"] for c in one["consents"]] == [c["purpose"] for c in other["consents"]]
        for a, b in zip(one["consents"], other["consents"], strict=True):
            _compare("consent_records", a, b, started)
            assert a["recorded_at"] == one["registration"]["created_at"]  # one moment per registration
            assert b["recorded_at"] == other["registration"]["created_at"]
        assert [a["question_position"] for a in one["answers"]] == [a["question_position"] for a in other["answers"]]
        for a, b in zip(one["answers"], other["answers"], strict=True):
            _compare("answers", a, b, started)
        assert len(one["mails"]) == len(other["mails"]) == 1
        _compare("outbox", one["mails"][0], other["mails"][0], started)
        for row in (one, other):
            assert row["registration"]["password_hash"] is None  # a password sent anyway is ignored by both
