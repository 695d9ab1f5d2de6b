"""Registrations under real concurrency, on both engines: never past capacity, never a second row for a double-click,
no lost or failed registration when many arrive at once (SQLite: the process's writes take turns)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette

from tests.webinar.regutil import browsers, open_form, outbox_rows, person, registration_rows
from webinar.db import DB

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


async def test_200_simultaneous_registrations_for_the_last_5_seats_give_exactly_5(
    app: Starlette, client: httpx.AsyncClient, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event(slug="rush", capacity=10)
    for _ in range(5):
        await create_registration(event_id, status="approved")
    hidden = await open_form(client, "rush")
    clients = browsers(app, client.cookies, 20)
    try:
        responses = await asyncio.gather(
            *(
                clients[i % 20].post("/events/rush/register", data={**person(email=f"p{i}@example.org"), **hidden})
                for i in range(200)
            )
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(303) == 5 and statuses.count(409) == 195
    rows = await registration_rows(db)
    assert len(rows) == 10 and sum(r["status"] in ("approved", "pending") for r in rows) == 10
    assert [m["kind"] for m in await outbox_rows(db)] == ["confirmation"] * 5


async def test_20_identical_simultaneous_posts_give_one_row_and_one_confirmation(
    app: Starlette, client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="doubleclick")
    hidden = await open_form(client, "doubleclick")
    responses = await asyncio.gather(
        *(client.post("/events/doubleclick/register", data={**person(), **hidden}) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {303}
    assert len(await registration_rows(db)) == 1
    kinds = [m["kind"] for m in await outbox_rows(db)]
    assert kinds.count("confirmation") == 1 and kinds.count("already_registered") <= 1 and len(kinds) <= 2


async def test_100_simultaneous_new_registrations_all_land_with_their_consents_and_one_email_each(
    app: Starlette, client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="wave")
    hidden = await open_form(client, "wave")
    clients = browsers(app, client.cookies, 10)
    try:
        responses = await asyncio.gather(
            *(
                clients[i % 10].post(
                    "/events/wave/register",
                    data={**person(email=f"w{i}@example.org"), **hidden, "consent_marketing": "on"},
                )
                for i in range(100)
            )
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert [r.status_code for r in responses] == [303] * 100
    rows = await registration_rows(db)
    assert sorted(r["email"] for r in rows) == sorted(f"w{i}@example.org" for i in range(100))
    outbox = await outbox_rows(db)
    assert sorted(m["registration_id"] for m in outbox) == sorted(r["id"] for r in rows)
    async with db.connection() as conn:
        consents = await conn.fetch_all("SELECT registration_id, purpose FROM consent_records")
    assert sorted((c["registration_id"], c["purpose"]) for c in consents) == sorted(
        (r["id"], p) for r in rows for p in ("processing", "marketing", "age")
    )


async def test_30_simultaneous_registrations_from_one_address_let_20_through_and_refuse_10(
    app, client: httpx.AsyncClient, create_event, db: DB, monkeypatch
) -> None:
    """The hard ceiling (SPEC §15: 1,000 per address and event) is exact under concurrency: here lowered to 20, with
    no proof of work asked for."""
    from webinar.registration import services
    from webinar.web.proof import Tuning

    monkeypatch.setattr(services, "RATE_LIMIT", 20)
    app.state.registrar.proofs.tuning = Tuning(threshold=1000, base=1, doubling=1, most=1)
    await create_event(slug="one-address")
    hidden = await open_form(client, "one-address")
    responses = await asyncio.gather(
        *(
            client.post("/events/one-address/register", data={**person(email=f"n{i}@example.org"), **hidden})
            for i in range(30)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(303) == 20 and statuses.count(429) == 10
    rows = await registration_rows(db)
    assert len(rows) == 20
    assert sorted(m["registration_id"] for m in await outbox_rows(db)) == sorted(r["id"] for r in rows)


async def test_simultaneous_registrations_for_two_events_each_land_in_their_own(
    app: Starlette, client: httpx.AsyncClient, create_event, db: DB, database_url: str
) -> None:
    ids = {slug: await create_event(slug=slug) for slug in ("morning", "evening")}
    hidden = {slug: await open_form(client, slug) for slug in ids}
    clients = browsers(app, client.cookies, 20)
    try:
        responses = await asyncio.gather(
            *(
                clients[i % 20].post(
                    f"/events/{slug}/register", data={**person(email=f"both{i}@example.org"), **hidden[slug]}
                )
                for i in range(20)
                for slug in ids
            )
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert [r.status_code for r in responses] == [303] * 40
    rows = await registration_rows(db)  # the same 20 addresses at both events: 40 registrations
    assert sorted((r["event_id"], r["email"]) for r in rows) == sorted(
        (ids[slug], f"both{i}@example.org") for i in range(20) for slug in ids
    )
    outbox = {m["registration_id"]: m for m in await outbox_rows(db)}
    assert all(outbox[r["id"]]["event_id"] == r["event_id"] for r in rows) and len(outbox) == 40
    if database_url.startswith("postgresql"):  # group commit: fewer statements than registrations
        assert app.state.registrar.writer.groups.groups < 40
