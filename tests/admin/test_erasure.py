"""Staff erasures: one registrant from their page, and export-then-purge of a whole event (tenancy respected)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count, sends_to_login
from tests.conftest import csrf_for, login_staff
from tests.webinar.access_helpers import join_path, load_event
from tests.webinar.privacy_helpers import registration
from webinar.tables import registrations


async def _organiser(client, create_staff, org_id: int) -> None:
    user = await create_staff("organiser", org_id)
    assert (await login_staff(client, user.email)).status_code == 303


async def test_organiser_erases_a_registrant_of_their_event(
    client, db, settings, create_organisation, create_event, create_staff, create_registration
):
    org = await create_organisation()
    event = await load_event(db, await create_event(organisation_id=org, language="en"))
    reg = await create_registration(event.id, email="ion.pop@example.org", first_name="Ion", last_name="Pop")
    await _organiser(client, create_staff, org)
    base = f"/admin/events/{event.id}/registrants/{reg}"
    page = await client.get(base)
    assert f"{base}/erase" in page.text
    confirm = await client.get(f"{base}/erase")
    assert confirm.status_code == 200 and "ion.pop@example.org" in confirm.text
    token = await csrf_for(client, f"{base}/erase")
    response = await client.post(f"{base}/erase", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"].endswith(f"{base}?erased=done")
    row = await registration(db, reg)
    assert row["erased_at"] is not None and row["email"] is None and row["status"] == "cancelled"
    [entry] = await audit_entries(db, "registration.erased")
    assert entry["requested_by"] == "staff" and entry["_actor"].startswith("organiser-")
    assert (await client.get(join_path(settings, event, reg))).status_code == 400
    again = await client.post(f"{base}/erase", data={"csrf_token": token})
    assert again.headers["location"].endswith("?erased=already")
    assert "already erased" in (await client.get(again.headers["location"])).text
    assert len(await audit_entries(db, "registration.erased")) == 1
    export = await client.get(f"/admin/events/{event.id}/reports/registered.csv")
    assert "ion.pop@example.org" not in export.text and "Ion" not in export.text


async def test_another_organisations_organiser_gets_404_and_erases_nothing(
    client, db, create_organisation, create_event, create_staff, create_registration
):
    event = await load_event(db, await create_event())
    reg = await create_registration(event.id)
    await _organiser(client, create_staff, await create_organisation())
    base = f"/admin/events/{event.id}/registrants/{reg}/erase"
    assert (await client.get(base)).status_code == 404
    token = await csrf_for(client, "/admin/")
    assert (await client.post(base, data={"csrf_token": token})).status_code == 404
    assert (await client.get(f"/admin/events/{event.id}/purge")).status_code == 404
    assert (await client.post(f"/admin/events/{event.id}/purge", data={"csrf_token": token})).status_code == 404
    assert (await registration(db, reg))["erased_at"] is None


async def test_anonymous_visitors_are_sent_to_login(client, db, create_event, create_registration):
    event = await load_event(db, await create_event())
    reg = await create_registration(event.id)
    assert sends_to_login(await client.get(f"/admin/events/{event.id}/registrants/{reg}/erase"))
    assert sends_to_login(await client.get(f"/admin/events/{event.id}/purge"))


async def test_export_then_purge_a_whole_event(client, db, operator_client, create_event, create_registration):
    event = await load_event(db, await create_event(language="en"))
    regs = [await create_registration(event.id) for _ in range(3)]
    other = await load_event(db, await create_event())
    kept = await create_registration(other.id)
    http = await operator_client()
    page = await http.get(f"/admin/events/{event.id}/purge")
    assert page.status_code == 200
    assert f"/admin/events/{event.id}/reports/registered.csv" in page.text
    assert f"/admin/events/{event.id}/reports/registered.xlsx" in page.text
    assert f"/admin/events/{event.id}/purge" in (await http.get(f"/admin/events/{event.id}")).text
    token = await csrf_for(http, f"/admin/events/{event.id}/purge")
    wrong = await http.post(f"/admin/events/{event.id}/purge", data={"csrf_token": token, "confirm_slug": "nope"})
    assert wrong.status_code == 422 and "slug" in wrong.text
    assert await count(db, registrations, registrations.c.erased_at.is_not(None)) == 0
    done = await http.post(f"/admin/events/{event.id}/purge", data={"csrf_token": token, "confirm_slug": event.slug})
    assert done.status_code == 303
    assert (await load_event(db, event.id)).purged_at is not None
    assert [(await registration(db, r))["email"] for r in regs] == [None, None, None]
    assert (await registration(db, kept))["email"] is not None
    [entry] = await audit_entries(db, "event.purged")
    assert entry["erased"] == 3
    assert len(await audit_entries(db, "registration.erased")) == 3
    assert (await client.get(f"/events/{event.slug}")).status_code == 404
    async with db.connection() as conn:
        left = await conn.fetch_val(
            sa.select(sa.func.count()).where(registrations.c.event_id == event.id, registrations.c.search_text != "")
        )
    assert left == 0
