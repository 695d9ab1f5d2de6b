"""Migration 0006 (reminders and follow-ups) over a database that already has events and registrations, the same on
both engines: events still ahead get the default reminders and follow-up, none is scheduled about the past, each
e-mail is recorded once, and back again."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.webinar.test_migration_waiting_list import _run, empty_url  # noqa: F401 - the fixture, on both engines
from webinar import migrate
from webinar.clock import now
from webinar.tables import events, organisations, registrations, scheduled_emails

BEFORE = "0007"
HOUR = dt.timedelta(hours=1)


async def _seed(conn: AsyncConnection) -> None:
    """Three events — ended, running now, next week — each with one approved registrant."""
    at = now()
    await conn.execute(
        organisations.insert().values(id=1, name="Org", slug="org", contact_email="dpo@org.ro", created_at=at)
    )
    for n, start in enumerate((at - 30 * HOUR, at - HOUR, at + 7 * 24 * HOUR), start=1):
        await conn.execute(
            events.insert().values(
                id=n, organisation_id=1, title=f"E{n}", slug=f"e{n}", starts_at=start, ends_at=start + 2 * HOUR,
                created_at=at, updated_at=at,
            )
        )  # fmt: skip
        await conn.execute(
            registrations.insert().values(
                id=n, event_id=n, email=f"p{n}@example.org", email_normalised=f"p{n}@example.org",
                first_name="Ștefan", last_name="Popescu", status="approved", created_at=at, updated_at=at,
            )
        )  # fmt: skip


async def _settings(conn: AsyncConnection) -> list[tuple[int, str, int | None]]:
    query = sa.select(events.c.id, events.c.reminders, events.c.followup_after_minutes).order_by(events.c.id)
    return [tuple(row) for row in (await conn.execute(query)).all()]  # type: ignore[misc]


async def test_0008_schedules_what_is_ahead_and_nothing_about_the_past(empty_url: str) -> None:  # noqa: F811
    await asyncio.to_thread(migrate.upgrade, empty_url, BEFORE)
    await _run(empty_url, _seed)
    await asyncio.to_thread(migrate.upgrade, empty_url, "0008")

    # Ended: nothing; running: its follow-up, no reminders (it has started); next week: both defaults.
    assert await _run(empty_url, _settings) == [(1, "", None), (2, "", 60), (3, "1440,60", 60)]

    async def record(conn: AsyncConnection) -> None:
        await conn.execute(
            scheduled_emails.insert().values(
                registration_id=3, event_id=3, kind="reminder", offset_minutes=60, batch="b1", created_at=now()
            )
        )

    await _run(empty_url, record)
    with pytest.raises(IntegrityError):  # the same reminder for the same person a second time
        await _run(empty_url, record)

    async def new_event(conn: AsyncConnection) -> None:
        at = now()
        await conn.execute(
            events.insert().values(
                id=4, organisation_id=1, title="E4", slug="e4", starts_at=at + HOUR, ends_at=at + 2 * HOUR,
                created_at=at, updated_at=at,
            )
        )  # fmt: skip

    await _run(empty_url, new_event)
    assert (await _run(empty_url, _settings))[-1] == (4, "1440,60", 60)  # the columns' defaults

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), BEFORE)

    async def columns(conn: AsyncConnection) -> set[str]:
        return set((await conn.execute(sa.text("SELECT * FROM events"))).keys())

    assert "reminders" not in await _run(empty_url, columns)
    await asyncio.to_thread(migrate.upgrade, empty_url)  # and forward again, to the head
    assert await _run(empty_url, _settings) == [(1, "", None), (2, "", 60), (3, "1440,60", 60), (4, "1440,60", 60)]
