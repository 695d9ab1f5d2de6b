"""Migration 0017 (embed origins, the registrations' paging index) over a database that already holds an event, on
both engines: the event gets no embed origins (framed nowhere), takes a list of them, the index is there, and the
column and the index go on the way down."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from tests.webinar.test_migrations import _run, blank_url, indexes, old_rows  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import events

BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0017").down_revision


def test_0015_upgrades_a_database_with_events_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, BEFORE)
    asyncio.run(_run(blank_url, *old_rows()[:2]))  # the organisation and its event
    migrate.upgrade(blank_url, "0017")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0017"
    [before] = asyncio.run(_run(blank_url, sa.select(events.c.title, events.c.embed_origins)))
    assert before == [("Vechi", "")]
    listed = events.update().values(embed_origins="https://www.example.ro\nhttp://localhost:8080")
    [_, after] = asyncio.run(_run(blank_url, listed, sa.select(events.c.embed_origins)))
    assert after == [("https://www.example.ro\nhttp://localhost:8080",)]
    assert "ix_registrations_event_id" in asyncio.run(indexes(blank_url, "registrations"))
    command.downgrade(migrate.alembic_config(blank_url), BEFORE)
    assert asyncio.run(migrate.current_revision(blank_url)) == BEFORE
    assert "ix_registrations_event_id" not in asyncio.run(indexes(blank_url, "registrations"))
