"""Migration 0007 (attendance) over a database that already holds events and viewing sessions, on both engines: the
old rows get no threshold, no checks, no replay and sessions of kind `live`; the new table takes checks."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from tests.webinar.test_migrations import _run, blank_url, old_rows  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import events, presence_checks, viewing_sessions

AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_0007_upgrades_a_database_with_sessions_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, "0003")
    asyncio.run(
        _run(
            blank_url,
            *old_rows(),
            viewing_sessions.insert().values(
                id=1,
                event_id=1,
                registration_id=1,
                started_at=AT,
                last_seen_at=AT + dt.timedelta(minutes=30),
                ended_at=AT + dt.timedelta(minutes=30),
                end_reason="left",
            ),
        )
    )
    migrate.upgrade(blank_url, "0007")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0007"
    _, [event], [session] = asyncio.run(
        _run(
            blank_url,
            presence_checks.insert().values(
                event_id=1,
                registration_id=1,
                number=1,
                due_at=AT,
                answer_by=AT + dt.timedelta(seconds=60),
                shown_at=AT,
            ),
            sa.select(
                events.c.attendance_minutes, events.c.presence_checks, events.c.replay_url, events.c.replay_until
            ),
            sa.select(viewing_sessions.c.kind, viewing_sessions.c.ended_at),
        )
    )
    assert event == (None, 0, "", None)
    assert session[0] == "live"
    with pytest.raises(IntegrityError):  # the new CHECK constraints hold
        asyncio.run(_run(blank_url, events.update().values(presence_checks=21)))
    with pytest.raises(IntegrityError):
        asyncio.run(_run(blank_url, viewing_sessions.update().values(kind="vod")))
    command.downgrade(migrate.alembic_config(blank_url), "0003")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0003"
    [[kept]] = asyncio.run(_run(blank_url, sa.select(sa.func.count()).select_from(sa.table("viewing_sessions"))))
    assert kept == (1,)
