"""Migration 0011 (staff sign-in) over a database that already has registrations, the same on both engines: the
passwords attendees set on the unverified registration form are cleared, staff accounts get their (empty) two-factor
columns and recovery codes, everything else stays, and back again."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.webinar.test_migration_waiting_list import _run, empty_url  # noqa: F401 - the fixture, on both engines
from webinar import migrate
from webinar.clock import now
from webinar.tables import events, organisations, registrations, staff_recovery_codes, staff_users

BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0011").down_revision


async def _seed(conn: AsyncConnection) -> None:
    """An event with two registrants, one of whom set a password on the registration form."""
    at = now()
    await conn.execute(
        organisations.insert().values(id=1, name="Org", slug="org", contact_email="dpo@org.ro", created_at=at)
    )
    await conn.execute(
        events.insert().values(
            id=1, organisation_id=1, title="E", slug="e", starts_at=at, ends_at=at + dt.timedelta(hours=1),
            login="link_and_password",
            created_at=at, updated_at=at,
        )
    )  # fmt: skip
    for n, hashed in ((1, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"), (2, None)):
        await conn.execute(
            registrations.insert().values(
                id=n, event_id=1, email=f"p{n}@example.org", email_normalised=f"p{n}@example.org", first_name="Ana",
                last_name="Pop", status="approved", password_hash=hashed, created_at=at, updated_at=at,
            )
        )  # fmt: skip


async def _rows(conn: AsyncConnection) -> list[tuple[int, str, str | None]]:
    query = sa.select(registrations.c.id, registrations.c.email, registrations.c.password_hash)
    return [tuple(row) for row in (await conn.execute(query.order_by(registrations.c.id))).all()]  # type: ignore[misc]


async def test_0011_clears_passwords_set_on_the_unverified_form(empty_url: str) -> None:  # noqa: F811
    await asyncio.to_thread(migrate.upgrade, empty_url, BEFORE)
    await _run(empty_url, _seed)
    await asyncio.to_thread(migrate.upgrade, empty_url, "0011")
    assert await _run(empty_url, _rows) == [(1, "p1@example.org", None), (2, "p2@example.org", None)]

    async def two_factor(conn: AsyncConnection) -> tuple[object, ...]:
        at = now()
        await conn.execute(
            staff_users.insert().values(
                id=1, email="op@org.ro", email_normalised="op@org.ro", password_hash="x", role="operator", created_at=at
            )
        )
        await conn.execute(staff_recovery_codes.insert().values(staff_user_id=1, code_hash="h" * 64, created_at=at))
        row = (await conn.execute(sa.select(staff_users.c.totp_secret, staff_users.c.totp_confirmed_at))).one()
        return tuple(row)

    assert await _run(empty_url, two_factor) == (None, None)
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), BEFORE)
    assert await _run(empty_url, _rows) == [(1, "p1@example.org", None), (2, "p2@example.org", None)]

    async def tables(conn: AsyncConnection) -> set[str]:
        return set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))

    assert "staff_recovery_codes" not in await _run(empty_url, tables)
