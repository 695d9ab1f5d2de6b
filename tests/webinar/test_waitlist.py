"""The waiting list through the real app: a full event takes people on it with their place, and every path that frees a
seat (a rejection, an erasure, a larger capacity) gives it to the first in line, with its e-mail, at once."""

from __future__ import annotations

import re
from typing import Any

import httpx
import sqlalchemy as sa

from tests.admin.helpers import audit_entries
from tests.admin.test_events import event_form
from tests.conftest import csrf_for, csrf_from
from tests.webinar.access_helpers import load_event
from tests.webinar.privacy_helpers import register, register_and_join
from tests.webinar.regutil import open_form, outbox_rows, person, registration_rows
from webinar.db import DB
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.tables import registrations

JOIN_RE = re.compile(r"http://testserver/events/[\w-]+/join/[\w.\-]+")


async def _statuses(db: DB) -> dict[str, str]:
    """Each registration's status, by e-mail address."""
    return {r["email"]: r["status"] for r in await registration_rows(db)}


async def _kinds(db: DB) -> list[tuple[str, str]]:
    """(address, kind) of every queued e-mail, oldest first."""
    return [(m["to_address"], m["kind"]) for m in await outbox_rows(db)]


async def _seats_taken(db: DB, event_id: int) -> int:
    async with db.connection() as conn:
        query = sa.select(sa.func.count()).where(
            registrations.c.event_id == event_id, registrations.c.status.in_(("approved", "pending"))
        )
        return int(await conn.fetch_val(query))


async def _full_event(create_event: Any, create_registration: Any, **overrides: Any) -> int:
    """An event with a waiting list whose two seats are taken (by a@ and b@)."""
    event_id: int = await create_event(slug="wl", capacity=2, waitlist=True, **overrides)
    status = "pending" if overrides.get("approval") == "manual" else "approved"
    for name in ("a", "b"):
        await create_registration(event_id, email=f"{name}@example.org", status=status, language="en")
    return event_id


async def test_a_full_event_with_a_waiting_list_takes_people_on_it_and_tells_them_their_place(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, smtp_server, smtp_settings
) -> None:
    await _full_event(create_event, create_registration)
    page = await client.get("/events/wl")
    assert page.status_code == 200 and "Join the waiting list" in page.text and 'name="first_name"' in page.text
    hidden = await open_form(client, "wl")
    for n in (1, 2):
        response = await client.post("/events/wl/register", data={**person(email=f"w{n}@example.org"), **hidden})
        assert response.status_code == 303
    done = await client.get(response.headers["location"])
    assert "waiting list" in done.text and "place in line" in done.text
    assert await _statuses(db) == {
        "a@example.org": "approved", "b@example.org": "approved",
        "w1@example.org": "waitlisted", "w2@example.org": "waitlisted",
    }  # fmt: skip
    assert await deliver_due(smtp_settings, db, compose_queued) == 2
    first, second = (m.message for m in smtp_server.messages)
    assert first["Subject"].startswith("You are on the waiting list")
    assert "You are number 1 in line." in first.get_body(("plain",)).get_content()
    assert "You are number 2 in line." in second.get_body(("plain",)).get_content()
    assert not JOIN_RE.search(second.get_body(("plain",)).get_content())  # no join link, no calendar entry
    assert [p.get_content_type() for p in second.walk() if p.get_content_type() == "text/calendar"] == []
    assert "/events/wl/cancel/" in second.get_body(("plain",)).get_content()  # they may leave the line


async def test_a_full_event_without_a_waiting_list_still_refuses(
    client: httpx.AsyncClient, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event(slug="nowl", capacity=1)
    await create_registration(event_id)
    page = await client.get("/events/nowl")
    assert "This event is full" in page.text and "waiting list" not in page.text
    assert len(await registration_rows(db)) == 1


async def test_invalid_input_on_the_waiting_list_form_keeps_its_wording_and_stores_nothing(
    client: httpx.AsyncClient, create_event, create_registration, db: DB
) -> None:
    await _full_event(create_event, create_registration)
    hidden = await open_form(client, "wl")
    response = await client.post("/events/wl/register", data={**person(email="not-an-address"), **hidden})
    assert response.status_code == 422 and "Join the waiting list" in response.text
    assert len(await registration_rows(db)) == 2 and await outbox_rows(db) == []


async def test_a_rejection_promotes_the_earliest_in_line_to_approved_with_its_join_link(
    operator_client, client: httpx.AsyncClient, create_event, create_registration, db: DB, smtp_server, smtp_settings
) -> None:
    event_id = await _full_event(create_event, create_registration)
    hidden = await open_form(client, "wl")
    for n in (1, 2):
        await client.post("/events/wl/register", data={**person(email=f"w{n}@example.org"), **hidden})
    await deliver_due(smtp_settings, db, compose_queued)
    a = (await registration_rows(db))[0]["id"]
    http = await operator_client()
    token = csrf_from((await http.get(f"/admin/events/{event_id}/registrants")).text)
    response = await http.post(
        f"/admin/events/{event_id}/registrants/reject", data={"ids": str(a), "csrf_token": token}
    )
    assert response.status_code == 303
    assert (await _statuses(db))["w1@example.org"] == "approved"
    assert (await _statuses(db))["w2@example.org"] == "waitlisted"
    assert await _seats_taken(db, event_id) == 2
    assert await deliver_due(smtp_settings, db, compose_queued) == 2  # the rejection notice and the promotion
    promoted = smtp_server.messages[-1].message
    assert promoted["To"] == "w1@example.org" and promoted["Subject"].startswith("A seat is yours")
    assert JOIN_RE.search(promoted.get_body(("plain",)).get_content())
    assert any(p.get_content_type() == "text/calendar" for p in promoted.walk())
    [entry] = await audit_entries(db, "registration.promoted")
    assert (entry["from"], entry["to"], entry["_actor"]) == ("waitlisted", "approved", "waiting list")


async def test_with_manual_approval_the_first_in_line_becomes_pending_with_the_pending_email(
    operator_client, client: httpx.AsyncClient, create_event, create_registration, db: DB, settings
) -> None:
    event_id = await _full_event(create_event, create_registration, approval="manual")
    hidden = await open_form(client, "wl")
    await client.post("/events/wl/register", data={**person(email="w1@example.org"), **hidden})
    assert (await _statuses(db))["w1@example.org"] == "waitlisted"
    a = (await registration_rows(db))[0]["id"]
    http = await operator_client()
    token = csrf_from((await http.get(f"/admin/events/{event_id}/registrants")).text)
    await http.post(f"/admin/events/{event_id}/registrants/reject", data={"ids": str(a), "csrf_token": token})
    assert (await _statuses(db))["w1@example.org"] == "pending"
    mails = [m for m in await outbox_rows(db, settings) if m["to_address"] == "w1@example.org"]
    assert [m["kind"] for m in mails] == ["waitlisted", "promoted"]
    assert mails[1]["subject"].startswith("You are off the waiting list") and not JOIN_RE.search(mails[1]["body_text"])
    assert mails[1]["ics"] is None


async def test_an_erasure_frees_the_seat_for_the_next_in_line(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, settings
) -> None:
    event_id = await create_event(slug="er", capacity=1, waitlist=True)
    event, _reg = await register_and_join(client, db, settings, event_id, email="first@example.org")
    await create_registration(event_id, email="next@example.org", status="waitlisted")
    await create_registration(event_id, email="later@example.org", status="waitlisted")
    token = await csrf_for(client, f"/events/{event.slug}/me/erase")
    response = await client.post(f"/events/{event.slug}/me/erase", data={"csrf_token": token})
    assert response.status_code == 303
    statuses = await _statuses(db)
    assert statuses["next@example.org"] == "approved" and statuses["later@example.org"] == "waitlisted"
    assert ("next@example.org", "promoted") in await _kinds(db)


async def test_an_erased_person_on_the_waiting_list_leaves_it_and_is_never_promoted(
    operator_client, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event(slug="er2", capacity=1, waitlist=True)
    seat = await create_registration(event_id, email="seat@example.org")
    gone = await create_registration(event_id, email="gone@example.org", status="waitlisted")
    await create_registration(event_id, email="stays@example.org", status="waitlisted")
    http = await operator_client()
    token = await csrf_for(http, f"/admin/events/{event_id}/registrants/{gone}/erase")
    await http.post(f"/admin/events/{event_id}/registrants/{gone}/erase", data={"csrf_token": token})
    token = await csrf_for(http, f"/admin/events/{event_id}/registrants/{seat}/erase")
    await http.post(f"/admin/events/{event_id}/registrants/{seat}/erase", data={"csrf_token": token})
    rows = {r["id"]: r for r in await registration_rows(db)}
    assert rows[gone]["status"] == "cancelled" and rows[seat]["status"] == "cancelled"
    assert (await _statuses(db))["stays@example.org"] == "approved"


async def test_a_larger_capacity_promotes_as_many_as_it_adds_in_order(
    operator_client, create_event, create_registration, db: DB
) -> None:
    event_id = await _full_event(create_event, create_registration)
    for n in (1, 2, 3):
        await create_registration(event_id, email=f"w{n}@example.org", status="waitlisted")
    org_id = (await load_event(db, event_id)).organisation_id
    http = await operator_client()
    token = await csrf_for(http, f"/admin/events/{event_id}/edit")
    form = event_form(org_id, slug="wl", capacity="4", waitlist="1", language="en")
    response = await http.post(f"/admin/events/{event_id}", data={**form, "csrf_token": token})
    assert response.status_code == 303, response.text[:500]
    statuses = await _statuses(db)
    assert [statuses[f"w{n}@example.org"] for n in (1, 2, 3)] == ["approved", "approved", "waitlisted"]
    assert await _seats_taken(db, event_id) == 4
    edit = await http.get(f"/admin/events/{event_id}/edit")
    assert 'id="waitlist" name="waitlist" type="checkbox" value="1" checked' in edit.text


async def test_the_organiser_filters_and_counts_the_waiting_list_and_cancellations(
    operator_client, create_event, create_registration, db: DB
) -> None:
    event_id = await _full_event(create_event, create_registration)
    await create_registration(event_id, email="w1@example.org", status="waitlisted", first_name="Ioana")
    await create_registration(event_id, email="c1@example.org", status="cancelled", first_name="Radu")
    http = await operator_client()
    page = await http.get(f"/admin/events/{event_id}")
    assert re.search(
        r'id="count-waitlisted"><a [^>]*status=waitlisted"><strong>1</strong></a>\s*on the waiting', page.text
    )
    assert re.search(r'id="count-cancelled"><a [^>]*><strong>1</strong></a>\s*cancelled', page.text)
    listed = await http.get(f"/admin/events/{event_id}/registrants", params={"status": "waitlisted"})
    assert (
        "w1@example.org" in listed.text
        and "c1@example.org" not in listed.text
        # The whole address, not the end of another one: the signed-in operator's random one may end in "a".
        and not re.search(r"(?<![\w.+-])a@example\.org", listed.text)
    )
    assert '<option value="waitlisted" selected>' in listed.text
    traffic = await http.get(f"/admin/events/{event_id}/traffic")
    assert "on the waiting list" in traffic.text


async def test_a_waitlisted_person_who_registers_again_is_told_their_place(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, settings
) -> None:
    event_id = await _full_event(create_event, create_registration)
    event = await load_event(db, event_id)
    await register(client, db, event, email="w1@example.org")
    await register(client, db, event, email="w2@example.org")
    hidden = await open_form(client, "wl")
    again = await client.post("/events/wl/register", data={**person(email="w2@example.org"), **hidden})
    assert again.status_code == 303 and len(await registration_rows(db)) == 4
    [notice] = [m for m in await outbox_rows(db, settings) if m["kind"] == "already_registered"]
    assert "You are on the waiting list. You are number 2 in line." in notice["body_text"]
