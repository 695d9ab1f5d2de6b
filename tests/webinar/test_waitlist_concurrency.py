"""The waiting list under real concurrency, on both engines: registrations, cancellations, rejections and approvals
all at once never put approved + pending past the capacity, and every freed seat goes to the earliest in line."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from tests.conftest import csrf_from
from tests.webinar.access_helpers import load_event
from tests.webinar.regutil import browsers, open_form, person, registration_rows
from tests.webinar.test_cancellation import cancel_path
from webinar.db import DB
from webinar.tables import audit_log, registrations

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

CAPACITY = 10


async def _seats_taken(db: DB, event_id: int) -> int:
    async with db.connection() as conn:
        query = sa.select(sa.func.count()).where(
            registrations.c.event_id == event_id, registrations.c.status.in_(("approved", "pending"))
        )
        return int(await conn.fetch_val(query))


async def _watch(db: DB, event_id: int, done: asyncio.Event) -> int:
    """Count the seats taken again and again while the rush runs; the most ever seen (each count is one snapshot)."""
    most = 0
    while not done.is_set():
        most = max(most, await _seats_taken(db, event_id))
        await asyncio.sleep(0)
    return max(most, await _seats_taken(db, event_id))


async def test_simultaneous_registrations_cancellations_and_decisions_never_pass_the_capacity(
    app: Starlette, operator_client: Callable[[], Awaitable[httpx.AsyncClient]], create_event, create_registration,
    db: DB, settings,
) -> None:  # fmt: skip
    event = await load_event(db, await create_event(slug="crowd", capacity=CAPACITY, waitlist=True, approval="manual"))
    seed: dict[str, list[int]] = {"approved": [], "pending": [], "rejected": []}
    for status, n in (("approved", 5), ("pending", 3), ("rejected", 4)):  # two seats free, nobody waiting yet
        for i in range(n):
            seed[status].append(await create_registration(event.id, email=f"{status}{i}@example.org", status=status))
    staff = await operator_client()
    staff_token = csrf_from((await staff.get(f"/admin/events/{event.id}/registrants")).text)
    public = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    hidden = await open_form(public, "crowd")
    clients = browsers(app, public.cookies, 20, subnet=1)

    def register(i: int) -> Awaitable[httpx.Response]:
        return clients[i % 20].post("/events/crowd/register", data={**person(email=f"new{i}@example.org"), **hidden})

    def cancel(reg_id: int, i: int) -> Awaitable[httpx.Response]:
        path = cancel_path(settings, event, reg_id)
        return clients[i % 20].post(path, data={"csrf_token": hidden["csrf_token"]})

    def decide(decision: str, reg_id: int) -> Awaitable[httpx.Response]:
        path = f"/admin/events/{event.id}/registrants/{decision}"
        return staff.post(path, data={"ids": str(reg_id), "csrf_token": staff_token})

    # First a rush for the last two seats; then, with people waiting, more of them beside every way a seat frees.
    rush = [register(i) for i in range(20)]
    mixed: list[Awaitable[httpx.Response]] = [register(i) for i in range(20, 60)]
    mixed += [cancel(reg_id, i) for i, reg_id in enumerate(seed["approved"][:3] + seed["pending"][:1])]
    mixed += [decide("reject", reg_id) for reg_id in seed["pending"][1:]]
    mixed += [decide("approve", reg_id) for reg_id in seed["pending"] + seed["rejected"]]  # a rejected one: if free
    random.Random(7).shuffle(mixed)
    done = asyncio.Event()
    watcher = asyncio.create_task(_watch(db, event.id, done))
    try:
        responses = [*await asyncio.gather(*rush), *await asyncio.gather(*mixed)]
    finally:
        done.set()
        await asyncio.gather(*(b.aclose() for b in clients), public.aclose())
    assert await watcher <= CAPACITY
    assert all(r.status_code in (200, 303) for r in responses), sorted({r.status_code for r in responses})

    rows = {r["id"]: r for r in await registration_rows(db)}
    seated = [reg_id for reg_id, r in rows.items() if r["status"] in ("approved", "pending")]
    assert len(seated) == CAPACITY  # more people than seats: every freed seat was taken again
    new = sorted(reg_id for reg_id, r in rows.items() if r["email"].startswith("new"))
    assert len(new) == 60
    waiting = [reg_id for reg_id in new if rows[reg_id]["status"] == "waitlisted"]
    promoted = await _promoted(db)
    assert promoted and all(rows[reg_id]["status"] in ("approved", "pending") for reg_id in promoted)
    assert max(promoted) < min(waiting)  # first come, first served: nobody still waiting was overtaken
    assert await _promotion_mails(db) == sorted(promoted)


async def _promoted(db: DB) -> list[int]:
    """The registrations the waiting list gave a seat to, from their audit entries."""
    async with db.connection() as conn:
        rows = await conn.fetch_all(
            sa.select(audit_log.c.registration_id).where(audit_log.c.action == "registration.promoted")
        )
    return sorted(int(r["registration_id"]) for r in rows)


async def _promotion_mails(db: DB) -> list[Any]:
    """The registrations that got a "promoted" e-mail (one each)."""
    async with db.connection() as conn:
        rows = await conn.fetch_all("SELECT registration_id FROM outbox WHERE kind = 'promoted' ORDER BY 1")
    return [r["registration_id"] for r in rows]
