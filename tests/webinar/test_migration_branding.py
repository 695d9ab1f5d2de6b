"""Migration 0015 (organisations' branding) over a database that already holds an organisation and its event, on
both engines: the new table starts empty, takes a logo's bytes, one row per organisation, and goes on the way down."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from tests.branding_images import image
from tests.webinar.test_migrations import _run, blank_url, old_rows  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import organisation_branding

BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0015").down_revision
AT = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def _brand(organisation_id: int) -> sa.Executable:
    logo = image()
    return organisation_branding.insert().values(
        organisation_id=organisation_id, accent_colour="#0b6e4f", logo=logo, logo_type="image/png",
        logo_sha256="a" * 64, logo_width=120, logo_height=40, updated_at=AT,
    )  # fmt: skip


def test_0018_upgrades_a_database_with_events_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, BEFORE)
    asyncio.run(_run(blank_url, *old_rows()[:2]))  # the organisation and its event
    migrate.upgrade(blank_url, "0015")
    [before], _, [after] = asyncio.run(
        _run(
            blank_url,
            sa.select(sa.func.count()).select_from(organisation_branding),
            _brand(1),
            sa.select(organisation_branding.c.logo),
        )
    )
    assert before[0] == 0 and bytes(after[0]) == image()
    with pytest.raises(IntegrityError):  # one branding per organisation
        asyncio.run(_run(blank_url, _brand(1)))
    command.downgrade(migrate.alembic_config(blank_url), BEFORE)
    assert asyncio.run(migrate.current_revision(blank_url)) == BEFORE
