"""SQL the back office needs beyond the domain's own queries: organisations, staff accounts, one event's counts."""

from __future__ import annotations

import sqlalchemy as sa
from databases.core import Connection

from webinar.accounts.staff import StaffUser
from webinar.db import to_dataclass
from webinar.events.queries import Organisation
from webinar.tables import organisations, staff_users


async def all_organisations(conn: Connection) -> list[Organisation]:
    """Every client organisation, by name."""
    rows = await conn.fetch_all(organisations.select().order_by(organisations.c.name, organisations.c.id))
    return [to_dataclass(Organisation, r) for r in rows]


async def organisation_slug_taken(conn: Connection, slug: str) -> bool:
    """Whether an organisation already uses this slug."""
    return await conn.fetch_one(sa.select(organisations.c.id).where(organisations.c.slug == slug)) is not None


async def staff_user(conn: Connection, user_id: int) -> StaffUser | None:
    """A staff account by id, active or not."""
    row = await conn.fetch_one(staff_users.select().where(staff_users.c.id == user_id))
    return to_dataclass(StaffUser, row) if row else None
