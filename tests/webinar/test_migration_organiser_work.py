"""Migration 0016 (organisers' event editing, staff's messages to registrants) over a database that already holds an
organisation, an event, a registrant and a queued e-mail, on both engines: the setting starts off, the queued e-mail
belongs to no message, a message can be stored and linked, and everything goes again on the way down."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from tests.webinar.test_migrations import _run, blank_url, old_rows  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import event_messages, organisations, outbox

BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0016").down_revision
AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)

QUEUED = sa.table(
    "outbox", *(sa.column(n) for n in ("id", "event_id", "registration_id", "kind", "to_address", "subject",
                                       "body_text", "body_html", "headers_json", "message_id", "status", "attempts",
                                       "created_at", "next_attempt_at"))
)  # fmt: skip


def test_0016_upgrades_a_database_with_events_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, BEFORE)
    queued = QUEUED.insert().values(
        id=1, event_id=1, registration_id=1, kind="confirmation", to_address="ana@example.org", subject="",
        body_text="", body_html="", headers_json="{}", message_id="<1@example.org>", status="queued", attempts=0,
        created_at=AT.replace(tzinfo=None), next_attempt_at=AT.replace(tzinfo=None),
    )  # fmt: skip
    asyncio.run(_run(blank_url, *old_rows(), queued))
    migrate.upgrade(blank_url, "0016")
    message = event_messages.insert().values(
        id=1, event_id=1, audience="all", subject="S", body="B", recipients=1, sent_by=None, sent_by_email="x@y.ro",
        created_at=AT,
    )  # fmt: skip
    [allowed], [linked], _, _, [after] = asyncio.run(
        _run(
            blank_url,
            sa.select(organisations.c.organisers_edit_events),
            sa.select(outbox.c.event_message_id),
            message,
            outbox.update().values(event_message_id=1),
            sa.select(outbox.c.event_message_id),
        )
    )
    assert allowed == (False,) and linked == (None,) and after == (1,)
    command.downgrade(migrate.alembic_config(blank_url), BEFORE)
    assert asyncio.run(migrate.current_revision(blank_url)) == BEFORE
    [[count]] = asyncio.run(_run(blank_url, sa.text("SELECT count(*) FROM outbox")))
    assert count == (1,)
