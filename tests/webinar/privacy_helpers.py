"""Helpers shared by the privacy tests: register through the real form, sign in with the join link."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from tests.webinar.access_helpers import join_path, load_event
from tests.webinar.regutil import open_form, person, write_queued
from webinar.db import DB
from webinar.events.queries import Event
from webinar.settings import Settings
from webinar.tables import audit_log, outbox, registrations


async def register(client: httpx.AsyncClient, db: DB, event: Event, **overrides: Any) -> int:
    """Register through the form; the new registration's id."""
    data = {**await open_form(client, event.slug), **person(**overrides)}
    response = await client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 303, response.text[:500]
    async with db.connection() as conn:
        reg_id = await conn.fetch_val(sa.select(sa.func.max(registrations.c.id)))
    return int(reg_id)


async def register_and_join(
    client: httpx.AsyncClient, db: DB, settings: Settings, event_id: int, **overrides: Any
) -> tuple[Event, int]:
    """Register through the form and sign in with the join link; (event, registration id)."""
    event = await load_event(db, event_id)
    reg_id = await register(client, db, event, **overrides)
    response = await client.get(join_path(settings, event, reg_id))
    assert response.status_code == 303, response.text[:300]
    return event, reg_id


async def registration(db: DB, reg_id: int) -> dict[str, Any]:
    """The registration row as a dict (comparable before and after)."""
    async with db.connection() as conn:
        row = await conn.fetch_one(registrations.select().where(registrations.c.id == reg_id))
    assert row is not None
    return dict(row._mapping)


async def mails_to(db: DB, address: str, settings: Settings | None = None) -> list[Any]:
    """The e-mails queued to an address, oldest first; with `settings`, registrant e-mails written as when sent."""
    if settings is not None:
        await write_queued(db, settings)
    async with db.connection() as conn:
        return list(await conn.fetch_all(outbox.select().where(outbox.c.to_address == address).order_by(outbox.c.id)))


async def audit_actions(db: DB, registration_id: int | None = None, event_id: int | None = None) -> list[Any]:
    query = audit_log.select().order_by(audit_log.c.id)
    if registration_id is not None:
        query = query.where(audit_log.c.registration_id == registration_id)
    if event_id is not None:
        query = query.where(audit_log.c.event_id == event_id)
    async with db.connection() as conn:
        return list(await conn.fetch_all(query))
