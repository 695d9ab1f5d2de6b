"""Each migration runs over a database that already holds data, on both engines: 0002 (custom questions) upgrades a
database at 0001 with a registration in it, which then takes answers like a new one."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import DEFAULT_PG, _with_database
from webinar import migrate
from webinar.db import alembic_url
from webinar.tables import answers, events, organisations, questions, registrations

AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


async def _admin(base: str, sql: str) -> None:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (a SQLite file, or a new PostgreSQL database dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrating.db'}"
        return
    request.getfixturevalue("pg_url")  # skipped, or failed in CI, as every PostgreSQL test is
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    name = f"webinar_migrate_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    yield _with_database(base, name)
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def indexes(url: str, table: str) -> dict[str, list[str]]:
    """The table's indexes as the database has them: each one's columns, by name."""
    engine = create_async_engine(alembic_url(url))
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda sync: sa.inspect(sync).get_indexes(table))
    finally:
        await engine.dispose()
    return {index["name"]: list(index["column_names"]) for index in found}


async def _run(url: str, *statements: sa.Executable) -> list[list[tuple[object, ...]]]:
    """Run statements in one transaction; the rows of each."""
    engine = create_async_engine(alembic_url(url))
    try:
        async with engine.begin() as conn:
            results = [await conn.execute(statement) for statement in statements]
            return [[tuple(row) for row in result] if result.returns_rows else [] for result in results]
    finally:
        await engine.dispose()


def old_rows() -> tuple[sa.Insert, ...]:
    """An organisation, an event and an approved registration with the columns every revision has: the data a
    migration test upgrades over."""
    return (
        organisations.insert().values(id=1, name="Org", slug="org", contact_email="dpo@example.org", created_at=AT),
        events.insert().values(
            id=1, organisation_id=1, title="Vechi", slug="vechi", starts_at=AT, ends_at=AT + dt.timedelta(hours=1),
            created_at=AT, updated_at=AT,
        ),
        registrations.insert().values(
            id=1, event_id=1, email="ana@example.org", email_normalised="ana@example.org", first_name="Ana",
            last_name="Pop", status="approved", created_at=AT, updated_at=AT,
        ),
    )  # fmt: skip


def test_0002_upgrades_a_database_that_already_holds_registrations(blank_url: str) -> None:
    migrate.upgrade(blank_url, "0001")
    asyncio.run(
        _run(
            blank_url,
            *old_rows(),
        )
    )
    migrate.upgrade(blank_url, "0002")
    assert asyncio.run(migrate.current_revision(blank_url)) == "0002"
    _, _, [found] = asyncio.run(
        _run(
            blank_url,
            questions.insert().values(
                id=1, event_id=1, kind="text", label_en="Specialty", position=1, created_at=AT, updated_at=AT
            ),
            answers.insert().values(registration_id=1, question_id=1, value="Cardiologie"),
            sa.select(registrations.c.first_name, questions.c.required, questions.c.options, answers.c.value)
            .join(answers, answers.c.registration_id == registrations.c.id)
            .join(questions, questions.c.id == answers.c.question_id),
        )
    )
    assert found == ("Ana", False, "", "Cardiologie")  # the old registration, and the new tables' defaults
