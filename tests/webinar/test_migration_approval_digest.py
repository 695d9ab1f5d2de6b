"""Migration 0018 (the approvals digest) over a database with a staff account and a pending registration, the same on
both engines: the account gets the digest turned on and none sent yet, the partial index of pending registrations
appears, everything else stays, and back again."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.webinar.test_migration_waiting_list import _run, empty_url  # noqa: F401 - the fixture, on both engines
from tests.webinar.test_migrations import AT, old_rows
from webinar import migrate

BEFORE = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision("0018").down_revision
# Only the columns every revision has: the table as it was before 0018.
OLD_STAFF = sa.table(
    "staff_users",
    *(sa.column(name) for name in ("id", "email", "email_normalised", "password_hash", "role", "organisation_id")),
    sa.column("created_at"),
)


async def _seed(conn: AsyncConnection) -> None:
    for statement in old_rows():
        await conn.execute(statement)
    await conn.execute(sa.text("UPDATE registrations SET status = 'pending'"))
    await conn.execute(
        OLD_STAFF.insert().values(
            id=1, email="ana@org.ro", email_normalised="ana@org.ro", password_hash="x", role="organiser",
            organisation_id=1, created_at=AT,
        )
    )  # fmt: skip


async def _staff(conn: AsyncConnection) -> list[tuple[object, ...]]:
    rows = await conn.execute(sa.text("SELECT id, email, approval_digest, approval_digest_on FROM staff_users"))
    return [tuple(row) for row in rows.all()]


async def _indexes(conn: AsyncConnection) -> set[str]:
    return await conn.run_sync(lambda sync: {i["name"] for i in sa.inspect(sync).get_indexes("registrations")})


async def _columns(conn: AsyncConnection) -> set[str]:
    return await conn.run_sync(lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("staff_users")})


async def test_0017_turns_the_digest_on_for_every_account_and_indexes_pending_registrations(
    empty_url: str,  # noqa: F811
) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_url, BEFORE)
    await _run(empty_url, _seed)
    await asyncio.to_thread(migrate.upgrade, empty_url, "0018")
    assert await _run(empty_url, _staff) == [(1, "ana@org.ro", True, None)]
    assert "ix_registrations_pending" in await _run(empty_url, _indexes)
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), BEFORE)
    assert "ix_registrations_pending" not in await _run(empty_url, _indexes)
    assert not {"approval_digest", "approval_digest_on"} & await _run(empty_url, _columns)
    count = await _run(empty_url, lambda conn: _scalar(conn, "SELECT count(*) FROM registrations"))
    assert count == 1


async def _scalar(conn: AsyncConnection, sql: str) -> object:
    return (await conn.execute(sa.text(sql))).scalar_one()
