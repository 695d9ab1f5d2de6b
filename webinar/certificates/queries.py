"""SQL for the certificates table: one person's certificate, one by number, the event's register, revocation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.db import to_dataclass
from webinar.tables import certificates, evaluation_results, events

c = certificates


@dataclass(frozen=True)
class Certificate:
    """One issued certificate; `full_name` is None once the holder's data was erased (then it is revoked)."""

    id: int
    event_id: int
    registration_id: int
    sequence: int
    number: str
    full_name: str | None
    member_id: str | None
    minutes: int
    issued_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
    reason: str | None
    # Whether the holder passed the event's final evaluation (webinar/evaluation/): with one, what makes this a
    # completion certificate rather than a participation one (documents.kind).
    evaluation_passed: bool

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def initials(self) -> str:
        """The holder's initials, the only personal data the public verification page shows ("Ș. Ț.-R.")."""
        if not self.full_name:
            return ""
        return " ".join("-".join(part[0] + "." for part in word.split("-") if part) for word in self.full_name.split())


_PASSED = sa.func.coalesce(evaluation_results.c.passed, sa.false()).label("evaluation_passed")
_COLUMNS = [*(c.c[name] for name in Certificate.__dataclass_fields__ if name != "evaluation_passed"), _PASSED]
_FROM = c.outerjoin(evaluation_results, evaluation_results.c.registration_id == c.c.registration_id)


def _select() -> sa.Select[Any]:
    return sa.select(*_COLUMNS).select_from(_FROM)


async def of_registration(conn: Connection, registration_id: int) -> Certificate | None:
    """The certificate issued to one registrant, if any."""
    row = await conn.fetch_one(_select().where(c.c.registration_id == registration_id))
    return to_dataclass(Certificate, row) if row else None


async def by_id(conn: Connection, event_id: int, certificate_id: int) -> Certificate | None:
    """One certificate of an event."""
    row = await conn.fetch_one(_select().where(c.c.id == certificate_id, c.c.event_id == event_id))
    return to_dataclass(Certificate, row) if row else None


@dataclass(frozen=True)
class Verified:
    """What the public verification page shows: the certificate, its event's title and date."""

    certificate: Certificate
    event_title: str
    event_starts_at: dt.datetime
    event_timezone: str
    event_language: str


async def by_number(conn: Connection, number: str) -> Verified | None:
    """A certificate and its event by the number printed on it."""
    row = await conn.fetch_one(
        sa.select(*_COLUMNS, events.c.title, events.c.starts_at, events.c.timezone, events.c.language)
        .select_from(_FROM.join(events, events.c.id == c.c.event_id))
        .where(c.c.number == number)
    )
    if row is None:
        return None
    return Verified(to_dataclass(Certificate, row), row["title"], row["starts_at"], row["timezone"], row["language"])


async def register(conn: Connection, event_id: int) -> list[Certificate]:
    """The event's register: every number issued, revoked ones too, in the order issued."""
    rows = await conn.fetch_all(_select().where(c.c.event_id == event_id).order_by(c.c.sequence))
    return [to_dataclass(Certificate, row) for row in rows]


async def valid_after(conn: Connection, event_id: int, after: int, limit: int) -> list[Certificate]:
    """The event's valid (not revoked) certificates numbered after `after`, in the order issued, `limit` of them."""
    rows = await conn.fetch_all(
        _select()
        .where(c.c.event_id == event_id, c.c.revoked_at.is_(None), c.c.sequence > after)
        .order_by(c.c.sequence)
        .limit(limit)
    )
    return [to_dataclass(Certificate, row) for row in rows]


async def issued_to(conn: Connection, event_id: int) -> set[int]:
    """The registration ids of everyone the event issued a certificate to (revoked ones too)."""
    rows = await conn.fetch_all(sa.select(c.c.registration_id).where(c.c.event_id == event_id))
    return {row["registration_id"] for row in rows}


async def next_sequence(conn: Connection, event_id: int) -> int:
    """The n the event's next certificate gets: one more than the highest ever issued (none is reused)."""
    highest = sa.select(sa.func.coalesce(sa.func.max(c.c.sequence), 0)).where(c.c.event_id == event_id)
    return int(await conn.fetch_val(highest)) + 1


async def insert(conn: Connection, **values: object) -> None:
    """Insert one certificate (a taken number, sequence or registrant raises IntegrityError)."""
    await conn.execute(c.insert().values(**values))


async def revoke(conn: Connection, certificate_id: int, at: dt.datetime, by: str, reason: str) -> bool:
    """Revoke a valid certificate; False when it was revoked already."""
    result = await conn.fetch_val(
        c.update()
        .where(c.c.id == certificate_id, c.c.revoked_at.is_(None))
        .values(revoked_at=at, revoked_by=by, reason=reason)
        .returning(c.c.id)
    )
    return result is not None
