"""Small helpers for the back-office tests: counting rows and reading the audit log."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from webinar.db import DB
from webinar.tables import audit_log


async def count(db: DB, table: sa.Table, *where: Any) -> int:
    """How many rows of `table` match."""
    async with db.connection() as conn:
        return int(await conn.fetch_val(sa.select(sa.func.count()).select_from(table).where(*where)))


async def audit_entries(db: DB, action: str) -> list[dict[str, Any]]:
    """The details of every audit entry with this action, oldest first."""
    async with db.connection() as conn:
        rows = await conn.fetch_all(audit_log.select().where(audit_log.c.action == action).order_by(audit_log.c.id))
    return [{**json.loads(r["details_json"]), "_actor": r["actor"], "_event_id": r["event_id"]} for r in rows]


def sends_to_login(response: httpx.Response) -> bool:
    """Whether the response is the 303 to the staff login page."""
    return response.status_code == 303 and urlsplit(response.headers["location"]).path == "/admin/login"
