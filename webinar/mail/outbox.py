"""The transactional outbox: e-mails are rows written in the caller's transaction, sent later by the sender."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.db import to_dataclass
from webinar.tables import outbox

PAGE_SIZE = 50
RETRYABLE = ("queued", "dead")


@dataclass(frozen=True)
class Message:
    id: int
    event_id: int | None
    registration_id: int | None
    kind: str
    to_address: str
    subject: str
    body_text: str
    body_html: str
    ics: str | None
    headers_json: str
    message_id: str
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    locked_until: dt.datetime | None
    lock_owner: str | None
    sent_at: dt.datetime | None
    last_error: str | None
    expires_at: dt.datetime | None

    @property
    def composed(self) -> bool:
        """Whether the e-mail is written: a registrant's e-mail is queued with an empty subject and written by
        the sender when it goes (registration/notifications.py), so a request renders no e-mail."""
        return bool(self.subject)

    @property
    def headers(self) -> dict[str, str]:
        loaded = json.loads(self.headers_json or "{}")
        return {str(k): str(v) for k, v in loaded.items()}


def new_message_id(mail_from: str) -> str:
    """A globally unique Message-ID in the sender's domain."""
    return f"<{uuid.uuid4().hex}@{_domain(mail_from)}>"


@functools.lru_cache(maxsize=8)
def _domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


def row_values(
    *,
    kind: str,
    to_address: str,
    mail_from: str,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    ics: str | None = None,
    event_id: int | None = None,
    registration_id: int | None = None,
    headers: dict[str, str] | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The `outbox` row of one e-mail, queued to go at `at` (default now; without subject and bodies: to be
    composed when sent)."""
    at = at or now()
    return {
        "event_id": event_id,
        "registration_id": registration_id,
        "kind": kind,
        "to_address": to_address,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "ics": ics,
        "headers_json": json.dumps(headers or {}),
        "message_id": new_message_id(mail_from),
        "status": "queued",
        "attempts": 0,
        "created_at": at,
        "next_attempt_at": at,
    }


async def enqueue(conn: Connection, **message: Any) -> int:
    """Queue one e-mail (the arguments of `row_values`) inside the caller's transaction; it is sent only if that
    transaction commits."""
    return await enqueue_row(conn, row_values(**message))


async def enqueue_row(conn: Connection, row: dict[str, Any]) -> int:
    """Queue one e-mail given as its `row_values` row, inside the caller's transaction."""
    new_id: int = await conn.fetch_val(outbox.insert().values(**row).returning(outbox.c.id))
    return new_id


async def sent_recently(conn: Connection, registration_id: int, kind: str, within: dt.timedelta) -> bool:
    """Whether an e-mail of this kind was queued for the registration within the last `within`."""
    query = sa.select(outbox.c.id).where(
        outbox.c.registration_id == registration_id, outbox.c.kind == kind, outbox.c.created_at > now() - within
    )
    return await conn.fetch_one(query.limit(1)) is not None


async def get(conn: Connection, message_id: int) -> Message | None:
    """One outbox message."""
    row = await conn.fetch_one(outbox.select().where(outbox.c.id == message_id))
    return to_dataclass(Message, row) if row else None


async def page(conn: Connection, status: str | None, page_number: int) -> tuple[list[Message], int]:
    """One page of the queue, newest first, and how many messages match."""
    where = [outbox.c.status == status] if status else []
    total = int(await conn.fetch_val(sa.select(sa.func.count()).select_from(outbox).where(*where)))
    rows = await conn.fetch_all(
        outbox.select()
        .where(*where)
        .order_by(outbox.c.id.desc())
        .limit(PAGE_SIZE)
        .offset((page_number - 1) * PAGE_SIZE)
    )
    return [to_dataclass(Message, r) for r in rows], total


async def counts(conn: Connection) -> dict[str, int]:
    """How many messages are in each status."""
    rows = await conn.fetch_all(sa.select(outbox.c.status, sa.func.count().label("n")).group_by(outbox.c.status))
    return {row["status"]: int(row["n"]) for row in rows}


async def retry(conn: Connection, message_id: int) -> bool:
    """Put a dead or queued message back in the queue, due now; False when it is in another state."""
    result = await conn.fetch_val(
        outbox.update()
        .where(outbox.c.id == message_id, outbox.c.status.in_(RETRYABLE))
        .values(status="queued", next_attempt_at=now(), locked_until=None, lock_owner=None)
        .returning(outbox.c.id)
    )
    return result is not None
