"""Helpers for the reminder and follow-up tests: a moved clock, backdated registrations, what was queued and sent."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from webinar import clock
from webinar.db import DB
from webinar.tables import outbox, registrations, scheduled_emails

REAL_NOW = clock.now


class Frozen:
    """A clock stopped at one moment."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def move_clock(monkeypatch: pytest.MonkeyPatch, at: dt.datetime) -> None:
    """Make it `at` for every module of the platform (each imported `now` from webinar.clock), never sleeping."""
    frozen = Frozen(at)
    monkeypatch.setattr(clock, "now", frozen)
    for name, module in list(sys.modules.items()):
        held = getattr(module, "now", None)
        if name.startswith("webinar") and (held is REAL_NOW or isinstance(held, Frozen)):
            monkeypatch.setattr(module, "now", frozen)


async def backdate(db: DB, registration_ids: list[int], at: dt.datetime) -> None:
    """Make registrations look as if they had been made at `at`."""
    async with db.transaction() as conn:
        await conn.execute(
            registrations.update().where(registrations.c.id.in_(registration_ids)).values(created_at=at, updated_at=at)
        )


async def queued(db: DB, *kinds: str) -> Counter[tuple[int, str]]:
    """How many outbox messages each (registration, kind) has, for the given kinds."""
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(outbox.c.registration_id, outbox.c.kind).where(outbox.c.kind.in_(kinds)))
    return Counter((row["registration_id"], row["kind"]) for row in rows)


async def scheduled(db: DB) -> list[tuple[int, str, int]]:
    """Every `scheduled_emails` row as (registration, kind, offset), sorted."""
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(scheduled_emails))
    return sorted((row["registration_id"], row["kind"], row["offset_minutes"]) for row in rows)


async def outbox_of(db: DB, *kinds: str) -> list[Any]:
    async with db.connection() as conn:
        return list(await conn.fetch_all(outbox.select().where(outbox.c.kind.in_(kinds)).order_by(outbox.c.id)))
