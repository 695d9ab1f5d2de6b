"""Changing an organisation's branding: its colour, its logo, the logo's removal; each one transaction, audited."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit, changes
from webinar.branding.logo import Logo
from webinar.clock import now
from webinar.tables import organisation_branding as ob


async def _upsert(conn: Connection, organisation_id: int, values: dict[str, Any]) -> None:
    """Write these columns of the organisation's branding row, creating it when it has none (the caller's
    transaction; the row is locked first on PostgreSQL, so two writers do not both insert it)."""
    changes.shown_changed()
    values = {**values, "updated_at": now()}
    found = await conn.fetch_one(
        sa.select(ob.c.organisation_id).where(ob.c.organisation_id == organisation_id).with_for_update()
    )
    if found is None:
        await conn.execute(ob.insert().values(organisation_id=organisation_id, **values))
    else:
        await conn.execute(ob.update().where(ob.c.organisation_id == organisation_id).values(**values))


async def set_colour(
    conn: Connection, organisation_id: int, colour: str | None, actor: str, staff_id: int | None, ip: str | None
) -> None:
    """Set (or, with None, clear) the organisation's accent colour, already validated; audited."""
    await _upsert(conn, organisation_id, {"accent_colour": colour})
    details = {"accent_colour": colour or ""}
    await audit.record(conn, "branding.colour", actor=actor, actor_staff_id=staff_id,
                       organisation_id=organisation_id, ip=ip, details=details)  # fmt: skip


async def set_logo(
    conn: Connection, organisation_id: int, logo: Logo, actor: str, staff_id: int | None, ip: str | None
) -> None:
    """Store the organisation's logo (checked and re-encoded by branding/logo.py), replacing any other; audited."""
    values = {"logo": logo.data, "logo_type": logo.content_type, "logo_sha256": logo.sha256,
              "logo_width": logo.width, "logo_height": logo.height}  # fmt: skip
    await _upsert(conn, organisation_id, values)
    details = {"type": logo.content_type, "bytes": len(logo.data), "sha256": logo.sha256,
               "size": f"{logo.width}×{logo.height}"}  # fmt: skip
    await audit.record(conn, "branding.logo", actor=actor, actor_staff_id=staff_id,
                       organisation_id=organisation_id, ip=ip, details=details)  # fmt: skip


async def remove_logo(conn: Connection, organisation_id: int, actor: str, staff_id: int | None, ip: str | None) -> bool:
    """Remove the organisation's logo; False when it had none (nothing audited then)."""
    had = ob.c.organisation_id == organisation_id, ob.c.logo.is_not(None)
    if await conn.fetch_one(sa.select(ob.c.organisation_id).where(*had).with_for_update()) is None:
        return False
    changes.shown_changed()
    await conn.execute(
        ob.update()
        .where(*had)
        .values(logo=None, logo_type=None, logo_sha256=None, logo_width=None, logo_height=None, updated_at=now())
    )
    await audit.record(conn, "branding.logo_removed", actor=actor, actor_staff_id=staff_id,
                       organisation_id=organisation_id, ip=ip)  # fmt: skip
    return True
