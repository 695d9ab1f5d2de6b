"""Who sees what: organisers see their organisation's events only, never the operators' pages."""

from __future__ import annotations

import httpx

from tests.admin.helpers import count, sends_to_login
from tests.conftest import csrf_for, login_staff
from webinar.tables import events, organisations, staff_users


async def _organiser(client: httpx.AsyncClient, create_staff, organisation_id: int) -> httpx.AsyncClient:
    user = await create_staff("organiser", organisation_id)
    assert (await login_staff(client, user.email)).status_code == 303
    return client


async def test_organiser_gets_404_for_operator_pages(client, create_staff, create_organisation, db) -> None:
    http = await _organiser(client, create_staff, await create_organisation())
    for path in ("/admin/organisations", "/admin/users", "/admin/events/new"):
        assert (await http.get(path)).status_code == 404, path
    token = await csrf_for(http, "/admin/")
    data = {"name": "X", "slug": "x", "contact_email": "x@example.org", "csrf_token": token}
    assert (await http.post("/admin/organisations", data=data)).status_code == 404
    data = {"email": "y@example.org", "password": "a long enough password", "role": "operator", "csrf_token": token}
    assert (await http.post("/admin/users", data=data)).status_code == 404
    assert await count(db, organisations) == 1
    assert await count(db, staff_users) == 1


async def test_organiser_sees_own_events_only(client, create_staff, create_organisation, create_event, db) -> None:
    mine, theirs = await create_organisation(), await create_organisation()
    own = await create_event(title="Evenimentul nostru", organisation_id=mine)
    other = await create_event(title="Evenimentul altora", organisation_id=theirs)
    http = await _organiser(client, create_staff, mine)
    dashboard = await http.get("/admin/")
    assert "Evenimentul nostru" in dashboard.text and "Evenimentul altora" not in dashboard.text
    assert (await http.get(f"/admin/events/{own}")).status_code == 200
    assert (await http.get(f"/admin/events/{other}")).status_code == 404
    assert (await http.get(f"/admin/events/{other}/edit")).status_code == 404
    token = await csrf_for(http, "/admin/")
    response = await http.post(f"/admin/events/{other}", data={"title": "Hijacked", "csrf_token": token})
    assert response.status_code == 404
    assert await count(db, events, events.c.title == "Hijacked") == 0


async def test_organisers_do_not_edit_events_even_their_own(client, create_staff, create_organisation, create_event):
    mine = await create_organisation()
    own = await create_event(organisation_id=mine)
    http = await _organiser(client, create_staff, mine)
    page = await http.get(f"/admin/events/{own}")
    assert f"/admin/events/{own}/edit" not in page.text
    assert (await http.get(f"/admin/events/{own}/edit")).status_code == 404


async def test_anonymous_visitors_go_to_login(client, create_event) -> None:
    event_id = await create_event()
    for path in ("/admin/", f"/admin/events/{event_id}", "/admin/organisations", "/admin/users", "/admin/events/new"):
        assert sends_to_login(await client.get(path)), path


async def test_an_organiser_cannot_import_into_another_organisations_event(
    client, create_staff, create_organisation, create_event, db
) -> None:
    from tests.admin.import_helpers import HEADER, NOTHING, csv_bytes, people, stored

    mine, theirs = await create_organisation(), await create_organisation()
    other = await create_event(organisation_id=theirs)
    http = await _organiser(client, create_staff, mine)
    assert (await http.get(f"/admin/events/{other}/import")).status_code == 404
    token = await csrf_for(http, "/admin/")
    response = await http.post(
        f"/admin/events/{other}/import",
        data={"csrf_token": token, "action": "preview"},
        files={"file": ("lista.csv", csv_bytes([HEADER, *people(3)]), "text/csv")},
    )
    assert response.status_code == 404 and "persoana1" not in response.text
    confirm = {"csrf_token": token, "action": "confirm", "upload": "x" * 43, "emails": "send"}
    assert (await http.post(f"/admin/events/{other}/import", data=confirm)).status_code == 404
    assert await stored(db) == NOTHING
