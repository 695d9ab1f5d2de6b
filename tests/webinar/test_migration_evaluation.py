"""Migration 0010 (the final evaluation) over a database that already holds an event, on both engines: the old event
gets no evaluation and a pass mark of 70 %; a person's result is kept once, within 0 to 100."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from tests.webinar.test_migrations import _run, blank_url, old_rows  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import evaluation_results, events

AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _result(score: int) -> sa.Executable:
    return evaluation_results.insert().values(event_id=1, registration_id=1, score=score, passed=True, submitted_at=AT)


def test_0010_upgrades_a_database_with_events_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, "0009")
    asyncio.run(
        _run(
            blank_url,
            *old_rows(),
        )
    )
    migrate.upgrade(blank_url, "0010")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0010"
    _, [event] = asyncio.run(
        _run(blank_url, _result(66), sa.select(events.c.evaluation, events.c.evaluation_pass_mark))
    )
    assert tuple(event) == (False, 70)
    with pytest.raises(IntegrityError):  # a second result for the same person
        asyncio.run(_run(blank_url, _result(100)))
    with pytest.raises(IntegrityError):  # a pass mark outside 1–100
        asyncio.run(_run(blank_url, events.update().values(evaluation_pass_mark=0)))
    command.downgrade(migrate.alembic_config(blank_url), "0009")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0009"
