"""Migration 0012 (crowds) over a database that already holds an event, on both engines: the new table of spent
proof-of-work solutions starts empty and takes each challenge once; downgrading removes it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from tests.webinar.test_migrations import _run, blank_url, old_rows  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import proof_solutions

BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0012").down_revision

AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_0012_upgrades_a_database_with_events_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, BEFORE)
    asyncio.run(
        _run(
            blank_url,
            *old_rows()[:2],  # the organisation and its event
        )
    )
    migrate.upgrade(blank_url, "0012")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0012"
    spend = proof_solutions.insert().values(challenge="ab" * 32, expires_at=AT)
    [_, rows] = asyncio.run(_run(blank_url, spend, sa.select(proof_solutions.c.challenge)))
    assert rows == [("ab" * 32,)]
    with pytest.raises(IntegrityError):  # the same challenge twice
        asyncio.run(_run(blank_url, spend))
    command.downgrade(migrate.alembic_config(blank_url), BEFORE)
    assert asyncio.run(migrate.current_revision(blank_url)) == BEFORE
