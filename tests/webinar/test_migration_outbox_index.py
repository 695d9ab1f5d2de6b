"""Migration 0019 (the senders' claim indexes end with the id) over a database with a queued e-mail, on both engines:
the message is kept, both indexes carry (status, next_attempt_at, id), and the old ones come back on the way
down."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from tests.webinar.test_migrations import AT, _run, blank_url, old_rows  # noqa: F401 - the fixture
from webinar import migrate
from webinar.db import alembic_url
from webinar.tables import outbox


def test_0019_upgrades_a_database_with_queued_mail_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, "0018")
    mail = outbox.insert().values(
        id=1, event_id=1, registration_id=1, kind="reminder", to_address="ana@example.org", subject="", body_text="",
        body_html="", message_id="<1@example.org>", created_at=AT, next_attempt_at=AT,
    )  # fmt: skip
    asyncio.run(_run(blank_url, *old_rows(), mail))
    migrate.upgrade(blank_url, "0019")
    assert asyncio.run(_due_indexes(blank_url)) == [["status", "next_attempt_at", "id"]] * 2
    [kept] = asyncio.run(_run(blank_url, sa.select(outbox.c.id, outbox.c.status, outbox.c.to_address)))
    assert kept == [(1, "queued", "ana@example.org")]
    command.downgrade(migrate.alembic_config(blank_url), "0018")
    assert asyncio.run(_due_indexes(blank_url)) == [["status", "next_attempt_at"]] * 2


async def _due_indexes(url: str) -> list[list[str]]:
    """The columns of the outbox's and the webhook deliveries' claim indexes."""
    engine = create_async_engine(alembic_url(url))
    try:
        async with engine.connect() as conn:
            found = [
                await conn.run_sync(lambda sync, table=table: sa.inspect(sync).get_indexes(table))
                for table in ("outbox", "webhook_deliveries")
            ]
    finally:
        await engine.dispose()
    names = ("ix_outbox_due", "ix_webhook_deliveries_due")
    return [
        next(list(i["column_names"]) for i in indexes if i["name"] == name)
        for indexes, name in zip(found, names, strict=True)
    ]
