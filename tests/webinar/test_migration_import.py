"""Migration 0004 (import) over a database that already has registrations with their consents, the same on both
engines: every consent record survives with no `recorded_by`, `imported` becomes an action with who imported, the
upload table appears, and back again (the imported basis goes, the registrations stay)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.webinar.test_migration_waiting_list import _run, _seed, empty_url  # noqa: F401  # the fixture too
from webinar import migrate
from webinar.tables import consent_records, import_uploads, registrations, staff_users

AT = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0004").down_revision
OLD_CONSENT = ("registration_id", "event_id", "purpose", "action", "recorded_at")


async def test_0004_keeps_every_consent_and_adds_the_basis_imported_on_both_engines(empty_url: str) -> None:  # noqa: F811
    await asyncio.to_thread(migrate.upgrade, empty_url, BEFORE)
    await _run(empty_url, _seed)
    await asyncio.to_thread(migrate.upgrade, empty_url, "0004")

    async def read(conn: AsyncConnection) -> list[tuple[object, ...]]:
        query = sa.select(consent_records.c.registration_id, consent_records.c.action, consent_records.c.recorded_by)
        return [tuple(r) for r in (await conn.execute(query.order_by(consent_records.c.id))).all()]

    assert await _run(empty_url, read) == [(n, "given", None) for n in range(1, 5)]

    async def imported(conn: AsyncConnection) -> None:
        await conn.execute(
            staff_users.insert().values(
                id=1, email="ana@org.ro", email_normalised="ana@org.ro", password_hash="x", role="organiser",
                organisation_id=1, created_at=AT,
            )
        )  # fmt: skip
        await conn.execute(
            registrations.insert().values(
                id=5, event_id=1, email="nou@example.org", email_normalised="nou@example.org", first_name="Nou",
                last_name="Importat", status="approved", created_at=AT, updated_at=AT,
            )
        )  # fmt: skip
        await conn.execute(
            consent_records.insert().values(
                registration_id=5, event_id=1, purpose="processing", action="imported", recorded_at=AT, recorded_by=1
            )
        )
        await conn.execute(
            import_uploads.insert().values(
                token_hash="0" * 64, event_id=1, staff_user_id=1, file_sha256="1" * 64, plan_sha256="2" * 64,
                row_count=1, cells=b"x", created_at=AT, expires_at=AT + dt.timedelta(hours=1),
            )
        )  # fmt: skip

    await _run(empty_url, imported)
    assert (await _run(empty_url, read))[-1] == (5, "imported", 1)

    async def unknown(conn: AsyncConnection) -> None:
        await conn.execute(consent_records.update().where(consent_records.c.id == 1).values(action="faked"))

    with pytest.raises(IntegrityError):  # the CHECK constraint is still there, with the new action in it
        await _run(empty_url, unknown)

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), BEFORE)

    async def after(conn: AsyncConnection) -> tuple[int, int]:
        consents = (await conn.execute(sa.select(sa.func.count()).select_from(consent_records))).scalar_one()
        regs = (await conn.execute(sa.select(sa.func.count()).select_from(registrations))).scalar_one()
        return consents, regs

    assert await _run(empty_url, after) == (4, 5)  # the imported basis is gone, the registration stays
    await asyncio.to_thread(migrate.upgrade, empty_url)
    assert await _run(empty_url, after) == (4, 5)
