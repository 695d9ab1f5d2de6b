"""The organisers' own e-mail texts (`email_templates`): read, saved, reset to our default, each change audited."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.clock import now
from webinar.db import DB, to_dataclass
from webinar.tables import email_templates, outbox

SUBJECT_MAX = 300
BODY_MAX = 20_000


@dataclass(frozen=True)
class EmailText:
    """An organiser's subject and body for one kind of an event's e-mails, in one language."""

    event_id: int
    kind: str
    language: str
    subject: str
    body: str
    updated_by: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class Editor:
    """Who changes a text, for the row and the audit log."""

    email: str
    staff_id: int
    organisation_id: int
    ip: str | None


_COLUMNS = [email_templates.c[name] for name in EmailText.__dataclass_fields__]


def _one(event_id: int, kind: str, language: str) -> tuple[Any, ...]:
    c = email_templates.c
    return c.event_id == event_id, c.kind == kind, c.language == language


async def current(conn: Connection, event_id: int, kind: str, language: str) -> EmailText | None:
    """The organiser's text for this e-mail of the event in this language; None: our default."""
    row = await conn.fetch_one(sa.select(*_COLUMNS).where(*_one(event_id, kind, language)))
    return to_dataclass(EmailText, row) if row else None


async def of_event(conn: Connection, event_id: int) -> dict[tuple[str, str], EmailText]:
    """Every text the organiser wrote for the event, by (kind, language)."""
    rows = await conn.fetch_all(sa.select(*_COLUMNS).where(email_templates.c.event_id == event_id))
    found = [to_dataclass(EmailText, row) for row in rows]
    return {(t.kind, t.language): t for t in found}


async def _record(conn: Connection, editor: Editor, action: str, event_id: int, kind: str, language: str) -> None:
    await audit.record(
        conn, action, actor=editor.email, actor_staff_id=editor.staff_id, organisation_id=editor.organisation_id,
        event_id=event_id, ip=editor.ip, details={"kind": kind, "language": language},
    )  # fmt: skip


async def save(db: DB, editor: Editor, event_id: int, kind: str, language: str, subject: str, body: str) -> None:
    """Store the organiser's text (a checked one: see webinar/mail/placeholders.py), replacing the one before."""
    values = {"subject": subject, "body": body, "updated_by": editor.email, "updated_at": now()}
    where = _one(event_id, kind, language)
    for attempt in (1, 2):
        try:
            async with db.transaction() as conn:
                update = email_templates.update().where(*where).values(values).returning(email_templates.c.id)
                if await conn.fetch_val(update) is None:
                    insert = email_templates.insert().values(event_id=event_id, kind=kind, language=language)
                    await conn.execute(insert.values(values))
                await _record(conn, editor, "email_text.saved", event_id, kind, language)
            return
        except (asyncpg.exceptions.UniqueViolationError, sqlite3.IntegrityError):
            if attempt == 2:  # two editors saved the first text at once: the second save becomes an update
                raise


async def reset(db: DB, editor: Editor, event_id: int, kind: str, language: str) -> bool:
    """Go back to our default text; False when there was no text of the organiser's."""
    async with db.transaction() as conn:
        gone = await conn.fetch_val(
            email_templates.delete().where(*_one(event_id, kind, language)).returning(email_templates.c.id)
        )
        if gone is not None:
            await _record(conn, editor, "email_text.reset", event_id, kind, language)
    return gone is not None


async def remove_all(conn: Connection, event_id: int) -> None:
    """Delete every text of an event (when its data is purged), inside the caller's transaction."""
    await conn.execute(email_templates.delete().where(email_templates.c.event_id == event_id))


async def queue_test(db: DB, editor: Editor, event_id: int, kind: str, language: str, row: dict[str, object]) -> int:
    """Queue a test e-mail (its outbox row, written) to the staff member who asked for it; returns its id."""
    async with db.transaction() as conn:
        message_id: int = await conn.fetch_val(outbox.insert().values(**row).returning(outbox.c.id))
        await audit.record(
            conn, "email_text.test_sent", actor=editor.email, actor_staff_id=editor.staff_id,
            organisation_id=editor.organisation_id, event_id=event_id, ip=editor.ip,
            details={"kind": kind, "language": language, "to": editor.email},
        )  # fmt: skip
    return message_id
