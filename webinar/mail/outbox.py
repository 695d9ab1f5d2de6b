"""The transactional outbox: e-mails are rows written in the caller's transaction, sent later by the sender."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.db import insert_many, to_dataclass
from webinar.dbbackends import Prepared
from webinar.tables import UTCDateTime, outbox

PAGE_SIZE = 50
RETRYABLE = ("queued", "failed")
# What the mail queue shows of a message: its status, but a queued one that was tried already is `retrying`.
STATES = ("queued", "retrying", "sending", "sent", "failed", "cancelled")


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
    event_message_id: int | None = None  # one of staff's messages to the event's registrants (registration/messages.py)

    @property
    def composed(self) -> bool:
        """Whether the e-mail is written: a registrant's e-mail is queued with an empty subject and written by
        the sender when it goes (registration/notifications.py), so a request renders no e-mail."""
        return bool(self.subject)

    @property
    def state(self) -> str:
        """Its state in the mail queue (one of STATES)."""
        return "retrying" if self.status == "queued" and self.attempts > 0 else self.status

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


_ENQUEUE = Prepared(outbox.insert())


async def enqueue_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Queue many e-mails given as `row_values` rows, inside the caller's transaction, in a few statements."""
    await insert_many(conn, _ENQUEUE, rows)


async def enqueue_many(
    conn: Connection,
    recipients: sa.Select[Any],
    *,
    kind: str,
    mail_from: str,
    event_id: int,
    at: dt.datetime | None = None,
    event_message_id: int | None = None,
) -> int:
    """Queue one e-mail of `kind` to each row of `recipients` (a SELECT of a registration id and an address, in that
    order), left for the sender to compose, with one INSERT … SELECT inside the caller's transaction: however many
    people it reaches, the database does the work and nothing is rendered now. Returns how many were queued."""
    at = at or now()
    picked = recipients.subquery("recipients")
    registration_id, to_address = picked.c
    queued = int(await conn.fetch_val(sa.select(sa.func.count()).select_from(picked)))
    if not queued:
        return 0
    # Message-IDs unique without a round trip per row: this batch's random part, then the registration's id.
    message_id = sa.literal(f"<{uuid.uuid4().hex}.") + sa.cast(registration_id, sa.String) + f"@{_domain(mail_from)}>"
    when = sa.literal(at, UTCDateTime)
    values = {
        "event_id": sa.literal(event_id, sa.BigInteger), "registration_id": registration_id, "kind": sa.literal(kind),
        "to_address": to_address, "subject": sa.literal(""), "body_text": sa.literal(""), "body_html": sa.literal(""),
        "headers_json": sa.literal("{}"), "message_id": message_id, "status": sa.literal("queued"),
        "attempts": sa.literal(0), "created_at": when, "next_attempt_at": when,
    }  # fmt: skip
    if event_message_id is not None:
        values["event_message_id"] = sa.literal(event_message_id, sa.BigInteger)
    await conn.execute(outbox.insert().from_select(list(values), sa.select(*values.values())))
    return queued


async def withdraw_queued(conn: Connection, event_id: int, kind: str, reason: str) -> None:
    """Cancel the event's e-mails of `kind` still waiting to be sent (a later one makes them pointless), with the
    reason, inside the caller's transaction."""
    await conn.execute(
        outbox.update()
        .where(outbox.c.event_id == event_id, outbox.c.kind == kind, outbox.c.status == "queued")
        .values(status="cancelled", last_error=reason)
    )


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


def _in_state(state: str) -> list[sa.ColumnElement[bool]]:
    """The messages in one of STATES."""
    if state == "queued":
        return [outbox.c.status == "queued", outbox.c.attempts == 0]
    if state == "retrying":
        return [outbox.c.status == "queued", outbox.c.attempts > 0]
    return [outbox.c.status == state]


async def page(conn: Connection, state: str | None, page_number: int) -> tuple[list[Message], int]:
    """One page of the queue (of the messages in one of STATES, when given), newest first, and how many match."""
    where = _in_state(state) if state else []
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
    """How many messages are in each of STATES."""
    retrying = sa.func.count().filter(outbox.c.attempts > 0)
    rows = await conn.fetch_all(
        sa.select(outbox.c.status, sa.func.count().label("n"), retrying.label("tried")).group_by(outbox.c.status)
    )
    found = {row["status"]: int(row["n"]) for row in rows}
    tried = next((int(row["tried"]) for row in rows if row["status"] == "queued"), 0)
    if tried:
        found["queued"] -= tried
        found["retrying"] = tried
    return found


async def retry(conn: Connection, message_id: int) -> bool:
    """Put a failed or queued message back in the queue, due now; False when it is in another state."""
    result = await conn.fetch_val(
        outbox.update()
        .where(outbox.c.id == message_id, outbox.c.status.in_(RETRYABLE))
        .values(status="queued", next_attempt_at=now(), locked_until=None, lock_owner=None)
        .returning(outbox.c.id)
    )
    return result is not None
