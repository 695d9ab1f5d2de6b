"""Migration 0005 (event updates and cancellation) over a database that already has events and e-mails, the same on
both engines: events become scheduled at SEQUENCE 0, the outbox's `dead` becomes `failed`, the new constraints hold,
and back again."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.webinar.test_migration_waiting_list import _run, _seed, empty_url  # noqa: F401 - the fixture, shared
from webinar import migrate
from webinar.tables import events, outbox

AT = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0005").down_revision
EVENTS, OUTBOX = events, outbox  # read and changed only at 0005 or later, where they are these tables


async def _queue(conn: AsyncConnection) -> None:
    """E-mails in every outbox state of the time (the outbox's columns are the same before and after)."""
    for n, status in enumerate(("queued", "sending", "sent", "dead", "cancelled"), start=1):
        await conn.execute(
            outbox.insert().values(
                id=n, event_id=1, registration_id=1, kind="confirmation", to_address="p1@example.org", subject="S",
                body_text="T", body_html="<p>H</p>", message_id=f"<m{n}@webinar.test>", status=status, attempts=1,
                created_at=AT, next_attempt_at=AT,
            )
        )  # fmt: skip


async def test_0005_schedules_every_event_renames_dead_to_failed_and_back_on_both_engines(
    empty_url: str,  # noqa: F811 - the fixture
) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_url, BEFORE)
    await _run(empty_url, _seed)
    await _run(empty_url, _queue)
    await asyncio.to_thread(migrate.upgrade, empty_url, "0005")

    async def read(conn: AsyncConnection) -> tuple[list[tuple[object, ...]], list[str]]:
        found = (await conn.execute(sa.select(EVENTS.c.status, EVENTS.c.cancelled_at, EVENTS.c.ics_sequence))).all()
        states = list((await conn.execute(sa.select(OUTBOX.c.status).order_by(OUTBOX.c.id))).scalars())
        return [tuple(row) for row in found], states

    events, states = await _run(empty_url, read)  # type: ignore[misc]
    assert events == [("scheduled", None, 0)]
    assert states == ["queued", "sending", "sent", "failed", "cancelled"]

    async def cancel(conn: AsyncConnection) -> None:
        await conn.execute(EVENTS.update().values(status="cancelled", cancelled_at=AT, ics_sequence=1))

    await _run(empty_url, cancel)
    for bad in (
        EVENTS.update().values(status="postponed"),
        EVENTS.update().values(cancelled_at=None),  # cancelled, but not when
        EVENTS.update().values(ics_sequence=-1),
        OUTBOX.update().values(status="dead"),
    ):

        async def attempt(conn: AsyncConnection, statement: sa.Update = bad) -> None:
            await conn.execute(statement)

        with pytest.raises(IntegrityError):
            await _run(empty_url, attempt)

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), BEFORE)

    async def outbox_states(conn: AsyncConnection) -> list[str]:
        return list((await conn.execute(sa.select(OUTBOX.c.status).order_by(OUTBOX.c.id))).scalars())

    assert await _run(empty_url, outbox_states) == ["queued", "sending", "sent", "dead", "cancelled"]
    await asyncio.to_thread(migrate.upgrade, empty_url)  # and forward again, to the head
    events, states = await _run(empty_url, read)  # type: ignore[misc]
    assert events == [("scheduled", None, 0)] and states[3] == "failed"
