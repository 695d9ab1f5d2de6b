"""Migration 0003 (the waiting list) over a database that already has registrations, the same on both engines: the
rows and their links survive, existing events get no waiting list, `waitlisted` becomes a status, and back again."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.conftest import DEFAULT_PG, _pg_reachable, _with_database
from webinar import migrate
from webinar.db import alembic_url
from webinar.tables import consent_records, consent_texts, events, organisations, registrations

AT = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0003").down_revision


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    if problem := await _pg_reachable(base):
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {base} is not reachable in CI: {problem}")
        pytest.skip(f"PostgreSQL at {base} is not reachable ({problem})")
    name = f"webinar_migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(base, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _seed(conn: AsyncConnection) -> None:
    """An organisation, an event with a capacity, and registrations in every status of the time, with consents."""
    await conn.execute(
        organisations.insert().values(id=1, name="Org", slug="org", contact_email="dpo@org.ro", created_at=AT)
    )
    await conn.execute(
        events.insert().values(
            id=1, organisation_id=1, title="Eveniment", slug="ev", starts_at=AT + dt.timedelta(days=30),
            ends_at=AT + dt.timedelta(days=30, hours=2), capacity=3, created_at=AT, updated_at=AT,
        )
    )  # fmt: skip
    await conn.execute(
        consent_texts.insert().values(id=1, event_id=1, version=1, text="Da.", sha256="0" * 64, created_at=AT)
    )
    for n, status in enumerate(("approved", "pending", "rejected", "cancelled"), start=1):
        await conn.execute(
            registrations.insert().values(
                id=n, event_id=1, email=f"p{n}@example.org", email_normalised=f"p{n}@example.org", first_name="Ștefan",
                last_name="Popescu", status=status, created_at=AT, updated_at=AT,
            )
        )  # fmt: skip
        await conn.execute(
            consent_records.insert().values(
                registration_id=n, event_id=1, purpose="processing", action="given", recorded_at=AT
            )
        )


async def _run(url: str, work) -> object:  # type: ignore[no-untyped-def]
    engine = create_async_engine(alembic_url(url))
    try:
        async with engine.begin() as conn:
            if url.startswith("sqlite"):
                await conn.exec_driver_sql("PRAGMA foreign_keys = ON")
            return await work(conn)
    finally:
        await engine.dispose()


async def test_0003_keeps_every_registration_and_adds_the_waiting_list_on_both_engines(empty_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_url, BEFORE)
    await _run(empty_url, _seed)
    await asyncio.to_thread(migrate.upgrade, empty_url, "0003")

    async def read(conn: AsyncConnection) -> tuple[list[tuple[int, str]], int, bool]:
        query = sa.select(registrations.c.id, registrations.c.status).order_by(registrations.c.id)
        regs = (await conn.execute(query)).all()
        consents = (await conn.execute(sa.select(sa.func.count()).select_from(consent_records))).scalar_one()
        waitlist = (await conn.execute(sa.select(events.c.waitlist))).scalar_one()
        return [tuple(r) for r in regs], consents, waitlist

    regs, consents, waitlist = await _run(empty_url, read)  # type: ignore[misc]
    assert regs == [(1, "approved"), (2, "pending"), (3, "rejected"), (4, "cancelled")]
    assert consents == 4 and waitlist is False

    async def waitlisted(conn: AsyncConnection) -> None:
        await conn.execute(registrations.update().where(registrations.c.id == 2).values(status="waitlisted"))
        await conn.execute(events.update().values(waitlist=True))

    await _run(empty_url, waitlisted)

    async def unknown(conn: AsyncConnection) -> None:
        await conn.execute(registrations.update().where(registrations.c.id == 3).values(status="nonsense"))

    with pytest.raises(IntegrityError):  # the CHECK constraint is still there, with the new status in it
        await _run(empty_url, unknown)

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), BEFORE)

    async def statuses(conn: AsyncConnection) -> list[str]:
        return list((await conn.execute(sa.select(registrations.c.status).order_by(registrations.c.id))).scalars())

    assert await _run(empty_url, statuses) == ["approved", "cancelled", "rejected", "cancelled"]
    await asyncio.to_thread(migrate.upgrade, empty_url)  # and forward again, to the head
    assert await _run(empty_url, statuses) == ["approved", "cancelled", "rejected", "cancelled"]
