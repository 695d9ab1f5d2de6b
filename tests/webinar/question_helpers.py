"""Helpers shared by the custom-question tests: questions of every kind for an event, and reading the answers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webinar.clock import now
from webinar.db import DB
from webinar.tables import answers, events, questions

# One question of each kind, as the organiser would set them (labels in both languages).
EVERY_KIND: list[dict[str, Any]] = [
    {"kind": "text", "label_ro": "Specialitatea", "label_en": "Specialty", "required": True,
     "help_ro": "Ca în legitimație", "help_en": "As on your badge"},
    {"kind": "textarea", "label_ro": "Întrebări pentru lector", "label_en": "Questions for the speaker"},
    {"kind": "choice", "label_ro": "Secția", "label_en": "Section", "required": True,
     "options": "Cardiologie\nPediatrie\nMedicină de familie"},
    {"kind": "multichoice", "label_ro": "Subiecte de interes", "label_en": "Topics",
     "options": "Diagnostic\nTratament\nPrevenție"},
    {"kind": "checkbox", "label_ro": "Doresc certificat", "label_en": "I want a certificate"},
    {"kind": "number", "label_ro": "Ani de experiență", "label_en": "Years of experience"},
    {"kind": "date", "label_ro": "Data nașterii", "label_en": "Date of birth"},
]  # fmt: skip


async def add_questions(db: DB, event_id: int, *specs: dict[str, Any]) -> list[int]:
    """Store questions for an event after its others (as the back office does, bumping the event's updated_at);
    their ids in order."""
    ids = []
    async with db.transaction() as conn:
        last = await conn.fetch_val(
            sa.select(sa.func.max(questions.c.position)).where(questions.c.event_id == event_id)
        )
        for n, spec in enumerate(specs, start=(last or 0) + 1):
            at = now()
            values = {"label_ro": "", "label_en": "", "help_ro": "", "help_en": "", "options": "", "required": False}
            ids.append(
                await conn.fetch_val(
                    questions.insert()
                    .values(**(values | spec), event_id=event_id, position=n, created_at=at, updated_at=at)
                    .returning(questions.c.id)
                )
            )
        await conn.execute(events.update().where(events.c.id == event_id).values(updated_at=now()))
    return ids


def answered(ids: list[int], **by_kind: Any) -> dict[str, Any]:
    """Form fields answering the EVERY_KIND questions `ids` (in that order), by kind."""
    kinds = [spec["kind"] for spec in EVERY_KIND]
    return {f"q_{ids[kinds.index(kind)]}": value for kind, value in by_kind.items()}


GOOD_ANSWERS = {
    "text": "Cardiologie intervențională",
    "textarea": "Prima întrebare\r\nA doua întrebare",
    "choice": "Pediatrie",
    "multichoice": ["Prevenție", "Diagnostic"],
    "checkbox": "on",
    "number": "12,5",
    "date": "1980-02-29",
}
# How GOOD_ANSWERS are stored: the lines of a textarea with LF, a multichoice's options one per line in their order,
# a number with a decimal point.
STORED = {
    "text": "Cardiologie intervențională",
    "textarea": "Prima întrebare\nA doua întrebare",
    "choice": "Pediatrie",
    "multichoice": "Diagnostic\nPrevenție",
    "checkbox": "yes",
    "number": "12.5",
    "date": "1980-02-29",
}


async def answers_of(db: DB, registration_id: int | None = None) -> dict[int, str]:
    """Stored answers by question id (of one registration, or of every one when there is a single one)."""
    query = sa.select(answers.c.question_id, answers.c.value)
    if registration_id is not None:
        query = query.where(answers.c.registration_id == registration_id)
    async with db.connection() as conn:
        return {row["question_id"]: row["value"] for row in await conn.fetch_all(query)}


async def answer_count(db: DB) -> int:
    async with db.connection() as conn:
        return int(await conn.fetch_val(sa.select(sa.func.count()).select_from(answers)))
