"""Migration 0019 (the senders' claim indexes end with the id) over a database with a queued e-mail, on both engines:
the message is kept, both indexes carry (status, next_attempt_at, id), and the old ones come back on the way
down."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command

from tests.webinar.test_migrations import AT, _run, blank_url, indexes, old_rows  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import outbox


def test_0019_upgrades_a_database_with_queued_mail_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, "0018")
    mail = outbox.insert().values(
        id=1, event_id=1, registration_id=1, kind="reminder", to_address="ana@example.org", subject="", body_text="",
        body_html="", message_id="<1@example.org>", created_at=AT, next_attempt_at=AT,
    )  # fmt: skip
    asyncio.run(_run(blank_url, *old_rows(), mail))
    migrate.upgrade(blank_url, "0019")
    assert _due_indexes(blank_url) == [["status", "next_attempt_at", "id"]] * 2
    [kept] = asyncio.run(_run(blank_url, sa.select(outbox.c.id, outbox.c.status, outbox.c.to_address)))
    assert kept == [(1, "queued", "ana@example.org")]
    command.downgrade(migrate.alembic_config(blank_url), "0018")
    assert _due_indexes(blank_url) == [["status", "next_attempt_at"]] * 2


def _due_indexes(url: str) -> list[list[str]]:
    """The columns of the outbox's and the webhook deliveries' claim indexes."""
    return [
        asyncio.run(indexes(url, "outbox"))["ix_outbox_due"],
        asyncio.run(indexes(url, "webhook_deliveries"))["ix_webhook_deliveries_due"],
    ]
