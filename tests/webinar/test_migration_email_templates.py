"""Migration 0006 (the organisers' e-mail texts) over a database that already has events and registrations, the same
on both engines: the rows survive, the new table keeps one text per event, kind and language, and back again."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.webinar.test_migration_waiting_list import _run, _seed, empty_url  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import email_templates, events, registrations

AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
TEXT = {"event_id": 1, "kind": "received", "language": "ro", "subject": "Primit", "body": "Bună, {first_name}.",
        "updated_by": "org@example.org", "updated_at": AT}  # fmt: skip


async def test_0006_adds_the_email_texts_over_existing_data_on_both_engines(empty_url: str) -> None:  # noqa: F811
    await asyncio.to_thread(migrate.upgrade, empty_url, "0003")
    await _run(empty_url, _seed)
    await asyncio.to_thread(migrate.upgrade, empty_url, "0006")

    async def add(conn: AsyncConnection) -> tuple[int, int]:
        await conn.execute(email_templates.insert().values(TEXT))
        await conn.execute(email_templates.insert().values({**TEXT, "language": "en"}))
        regs = (await conn.execute(sa.select(sa.func.count()).select_from(registrations))).scalar_one()
        texts = (await conn.execute(sa.select(sa.func.count()).select_from(email_templates))).scalar_one()
        return regs, texts

    assert await _run(empty_url, add) == (4, 2)

    async def twice(conn: AsyncConnection) -> None:
        await conn.execute(email_templates.insert().values(TEXT))

    with pytest.raises(IntegrityError):  # one text per event, kind and language
        await _run(empty_url, twice)

    async def bad_language(conn: AsyncConnection) -> None:
        await conn.execute(email_templates.insert().values({**TEXT, "language": "de"}))

    with pytest.raises(IntegrityError):
        await _run(empty_url, bad_language)

    async def delete_event(conn: AsyncConnection) -> int:
        await conn.execute(sa.text("DELETE FROM consent_records"))
        await conn.execute(registrations.delete())
        await conn.execute(sa.text("DELETE FROM consent_texts"))
        await conn.execute(events.delete())
        return int((await conn.execute(sa.select(sa.func.count()).select_from(email_templates))).scalar_one())

    assert await _run(empty_url, delete_event) == 0  # an event's texts go with it

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), "0003")

    async def tables(conn: AsyncConnection) -> list[str]:
        return await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())

    assert "email_templates" not in await _run(empty_url, tables)
    await asyncio.to_thread(migrate.upgrade, empty_url)  # and forward again, to the head
    assert "email_templates" in await _run(empty_url, tables)
