"""Migration 0009 (certificates) over a database that already holds an event, on both engines: the old event gets no
credits, no certificates and no series; the new table keeps numbers unique per event and overall."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from tests.webinar.test_migrations import _run, blank_url  # noqa: F401 - the fixture
from webinar import migrate
from webinar.tables import certificates, events, organisations, registrations

AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _certificate(n: int, number: str) -> sa.Executable:
    return certificates.insert().values(
        event_id=1, registration_id=n, sequence=1 if n == 1 else n, number=number, full_name="Ana Pop", minutes=60,
        issued_at=AT,
    )  # fmt: skip


def test_0009_upgrades_a_database_with_events_and_back(blank_url: str) -> None:  # noqa: F811
    migrate.upgrade(blank_url, "0007")
    asyncio.run(
        _run(
            blank_url,
            organisations.insert().values(id=1, name="Org", slug="org", contact_email="dpo@example.org", created_at=AT),
            events.insert().values(
                id=1,
                organisation_id=1,
                title="Vechi",
                slug="vechi",
                starts_at=AT,
                ends_at=AT + dt.timedelta(hours=1),
                created_at=AT,
                updated_at=AT,
            ),
            *(
                registrations.insert().values(
                    id=n,
                    event_id=1,
                    email=f"p{n}@example.org",
                    first_name="Ana",
                    last_name="Pop",
                    status="approved",
                    created_at=AT,
                    updated_at=AT,
                )
                for n in (1, 2)
            ),
        )
    )
    migrate.upgrade(blank_url, "0009")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0009"
    _, [event] = asyncio.run(
        _run(
            blank_url,
            _certificate(1, "S-1-ABCDEFGH"),
            sa.select(events.c.credits, events.c.certificates, events.c.certificate_series),
        )
    )
    assert tuple(event) == ("", False, "")
    with pytest.raises(IntegrityError):  # the same number twice
        asyncio.run(_run(blank_url, _certificate(2, "S-1-ABCDEFGH")))
    command.downgrade(migrate.alembic_config(blank_url), "0007")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0007"
