"""Migration 0013 (the API's tokens and the webhooks' queue) over a database that already holds an event, on both
engines: the new tables start empty, keep a token's hash unique, and go again on the way down."""

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
from webinar.tables import api_tokens, webhook_deliveries, webhook_subscriptions

BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0013").down_revision
AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _token(n: int) -> sa.Executable:
    return api_tokens.insert().values(
        organisation_id=1, name=f"t{n}", token_hash="a" * 64, prefix="wbn_x", created_by="cli", created_at=AT
    )


def test_0013_upgrades_a_database_with_events_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, BEFORE)
    asyncio.run(
        _run(
            blank_url,
            *old_rows()[:2],  # the organisation and its event
        )
    )
    migrate.upgrade(blank_url, "0013")
    _, [subscriptions], [deliveries] = asyncio.run(
        _run(
            blank_url,
            _token(1),
            sa.select(sa.func.count()).select_from(webhook_subscriptions),
            sa.select(sa.func.count()).select_from(webhook_deliveries),
        )
    )
    assert (subscriptions[0], deliveries[0]) == (0, 0)
    with pytest.raises(IntegrityError):  # the same hash twice
        asyncio.run(_run(blank_url, _token(2)))
    command.downgrade(migrate.alembic_config(blank_url), BEFORE)
    assert asyncio.run(migrate.current_revision(blank_url)) == BEFORE
