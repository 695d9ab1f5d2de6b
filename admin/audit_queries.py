"""SQL for the audit log page: entries filtered by action and event, scoped to an organisation, paged."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from admin import audit_details
from webinar.db import to_dataclass
from webinar.tables import audit_log, events

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    event_id: int | None
    event_title: str | None
    details_json: str
    ip: str | None

    @property
    def details(self) -> dict[str, Any]:
        try:
            value = json.loads(self.details_json)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def shown_details(self) -> list[audit_details.Detail]:
        """The details as the page shows them, in the page's language."""
        return audit_details.shown(self.details)


@dataclass(frozen=True)
class AuditFilter:
    organisation_id: int | None  # None: every organisation's entries and the platform's own (operators)
    action: str = ""
    event_id: int | None = None


def _where(f: AuditFilter) -> list[Any]:
    conditions: list[Any] = []
    if f.organisation_id is not None:
        conditions.append(audit_log.c.organisation_id == f.organisation_id)
    if f.action:
        conditions.append(audit_log.c.action == f.action)
    if f.event_id is not None:
        conditions.append(audit_log.c.event_id == f.event_id)
    return conditions


async def entries(conn: Connection, f: AuditFilter, page: int) -> tuple[list[AuditEntry], int]:
    """One page of matching entries, newest first, and the number of pages."""
    total = await conn.fetch_val(sa.select(sa.func.count()).select_from(audit_log).where(*_where(f)))
    pages = max(1, -(-(total or 0) // PAGE_SIZE))
    query = (
        sa.select(
            audit_log.c.id, audit_log.c.at, audit_log.c.actor, audit_log.c.action, audit_log.c.event_id,
            events.c.title.label("event_title"), audit_log.c.details_json, audit_log.c.ip,
        )
        .outerjoin(events, events.c.id == audit_log.c.event_id)
        .where(*_where(f))
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .offset((min(page, pages) - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )  # fmt: skip
    return [to_dataclass(AuditEntry, row) for row in await conn.fetch_all(query)], pages


async def actions(conn: Connection, organisation_id: int | None) -> list[str]:
    """The distinct actions in the log the user may see, for the filter."""
    query = sa.select(audit_log.c.action).distinct().order_by(audit_log.c.action)
    if organisation_id is not None:
        query = query.where(audit_log.c.organisation_id == organisation_id)
    return [row["action"] for row in await conn.fetch_all(query)]


async def event_choices(conn: Connection, organisation_id: int | None) -> list[tuple[int, str]]:
    """(id, title) of the events the user may filter by, newest first."""
    query = sa.select(events.c.id, events.c.title).order_by(events.c.starts_at.desc())
    if organisation_id is not None:
        query = query.where(events.c.organisation_id == organisation_id)
    return [(row["id"], row["title"]) for row in await conn.fetch_all(query)]
