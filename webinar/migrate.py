"""Schema migrations: run Alembic from code, and tell whether a database is up to date."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from webinar import files
from webinar.db import alembic_url
from webinar.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", alembic_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every migration up to `revision` (blocking; run it outside the event loop)."""
    if (path := files.sqlite_file(database_url)) is not None:
        files.create_private(path)  # the whole database: owner-only from the first byte
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(database_url: str) -> str | None:
    """The migration the database is at (None when it was never migrated)."""

    def _read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    engine = create_async_engine(alembic_url(database_url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_read)
    finally:
        await engine.dispose()


def is_current(database_url: str) -> bool:
    """Whether the database is at the newest migration (blocking helper for the CLI)."""
    return asyncio.run(current_revision(database_url)) == head_revision()


async def current_revision_on(db: object) -> str | None:
    """The revision recorded in the alembic_version table, read through the app's own pool."""
    from webinar.db import DB

    assert isinstance(db, DB)
    async with db.connection() as conn:
        return await conn.fetch_val("SELECT version_num FROM alembic_version")
