"""Migration 0014 (a consent text per language) over a database that already holds consent texts and records, on
both engines: each existing text becomes its event's language's text, each record of a text names that language
(records without a text none), the current text of each language is found by the app's rule, and back down."""

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
from webinar.events.queries import is_current_consent
from webinar.tables import consent_records, consent_texts, events, registrations

BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0014").down_revision
AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _text(text_id: int, event_id: int, version: int) -> sa.Executable:
    return consent_texts.insert().values(
        id=text_id, event_id=event_id, version=version, text=f"Text {text_id}", sha256="0" * 64, created_at=AT
    )


def _record(record_id: int, registration_id: int, event_id: int, purpose: str, text_id: int | None) -> sa.Executable:
    return consent_records.insert().values(
        id=record_id, registration_id=registration_id, event_id=event_id, purpose=purpose, action="given",
        consent_text_id=text_id, text_version=None if text_id is None else 1, recorded_at=AT,
    )  # fmt: skip


def test_0014_gives_existing_texts_and_records_their_event_language_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, BEFORE)
    asyncio.run(
        _run(
            blank_url,
            *old_rows(),  # the organisation, its event (Romanian) and an approved registration
            sa.update(events).where(events.c.id == 1).values(language="ro"),
            events.insert().values(
                id=2, organisation_id=1, title="Old", slug="old", language="en", starts_at=AT,
                ends_at=AT + dt.timedelta(hours=1), created_at=AT, updated_at=AT,
            ),
            registrations.insert().values(
                id=2, event_id=2, email="bob@example.org", email_normalised="bob@example.org", first_name="Bob",
                last_name="Lee", status="approved", created_at=AT, updated_at=AT,
            ),
            _text(1, 1, 1), _text(2, 1, 2), _text(3, 2, 1),
            _record(1, 1, 1, "processing", 2), _record(2, 1, 1, "marketing", None), _record(3, 2, 2, "processing", 3),
        )
    )  # fmt: skip
    migrate.upgrade(blank_url, "0014")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0014"
    texts, records, current = asyncio.run(
        _run(
            blank_url,
            sa.select(consent_texts.c.id, consent_texts.c.language).order_by(consent_texts.c.id),
            sa.select(consent_records.c.id, consent_records.c.text_language).order_by(consent_records.c.id),
            sa.select(consent_texts.c.id).where(is_current_consent()).order_by(consent_texts.c.id),
        )
    )
    assert texts == [(1, "ro"), (2, "ro"), (3, "en")]
    assert records == [(1, "ro"), (2, None), (3, "en")]
    assert current == [(2,), (3,)]  # the newest version in each event's one language
    with pytest.raises(IntegrityError):  # only Romanian and English
        asyncio.run(_run(blank_url, _text(4, 1, 3).values(language="fr")))
    asyncio.run(_run(blank_url, _text(5, 1, 3).values(language="en")))  # the event's English text, version 3
    command.downgrade(migrate.alembic_config(blank_url), BEFORE)
    assert asyncio.run(migrate.current_revision(blank_url)) == BEFORE
    [kept] = asyncio.run(_run(blank_url, sa.text("SELECT id FROM consent_texts ORDER BY id")))
    assert kept == [(1,), (2,), (3,)]  # the English text no record names went with its language
