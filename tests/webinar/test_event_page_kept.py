"""The event page and the "registered" page are rendered once and kept (issue 26), on both engines: every visitor
still gets their own working CSRF token, and every change (the event, its questions, its organisation, its
branding, its seats) shows at once, without waiting for a kept copy to age."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from tests.conftest import event_input
from tests.webinar.access_helpers import load_event
from tests.webinar.regutil import counts, open_form, person
from tests.webinar.test_branding_pages import _brand, _wears
from webinar.clock import now
from webinar.db import DB
from webinar.events.services import update_event
from webinar.registration import questionnaire
from webinar.registration.batch import Contexts
from webinar.registration.questions import QuestionInput
from webinar.registration.services import Actor
from webinar.state import app_state
from webinar.tables import events, organisations


def _visitor(app: Starlette, n: int) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(f"10.9.0.{n}", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_each_new_visitor_gets_a_token_of_their_own_that_only_they_can_use(
    app: Starlette, db: DB, create_event: Any
) -> None:
    await create_event(slug="kept")
    async with _visitor(app, 1) as ana, _visitor(app, 2) as ion:
        forms = [await open_form(ana, "kept"), await open_form(ion, "kept")]  # the second is the kept page
        assert forms[0]["csrf_token"] != forms[1]["csrf_token"]
        assert ana.cookies.get("webinar_session") != ion.cookies.get("webinar_session")
        # Ana's token with Ion's cookie is refused, and nothing is stored.
        crossed = await ion.post("/events/kept/register", data={**person(email="ion@example.org"), **forms[0]})
        assert crossed.status_code == 403 and await counts(db) == (0, 0, 0)
        for http, form, email in ((ana, forms[0], "ana@example.org"), (ion, forms[1], "ion@example.org")):
            response = await http.post("/events/kept/register", data={**person(email=email), **form})
            assert response.status_code == 303, response.text[:300]
        assert (await counts(db))[0] == 2


async def test_every_change_made_here_shows_at_once(
    app: Starlette, client: httpx.AsyncClient, db: DB, create_organisation: Any, create_event: Any
) -> None:
    app_state(app).registrar.contexts.clock = lambda: 1000.0  # the copy never ages: only a change here drops it
    org_id = await create_organisation(name="Colegiul Medicilor")
    event_id = await create_event(organisation_id=org_id, slug="kept")
    first = await client.get("/events/kept")
    assert first.status_code == 200 and "Colegiul Medicilor" in first.text
    assert (await client.get("/events/kept")).text == first.text  # kept: the same page, the same visitor's token

    async with db.transaction() as conn:  # the back office's edit
        await update_event(conn, event_id, event_input(org_id, slug="kept", title="Ecografie avansată"))
    assert "Ecografie avansată" in (await client.get("/events/kept")).text

    question = QuestionInput("Specialitatea", "Specialty", "", "", "text", (), False)
    await questionnaire.add(db, await load_event(db, event_id), question, Actor(None, "test", "127.0.0.1"))
    assert "Specialty" in (await client.get("/events/kept")).text  # the page is in English

    address = await _brand(db, org_id)  # the branding: no change of the event's row
    for page in ("/events/kept", "/events/kept/registered"):
        assert _wears((await client.get(page)).text, address), page
    await _brand(db, org_id, colour="#7a1f3d", with_logo=False)
    assert "accent-7a1f3d.css" in (await client.get("/events/kept")).text


async def test_a_change_made_by_another_process_shows_within_a_second(
    app: Starlette, client: httpx.AsyncClient, db: DB, create_organisation: Any, create_event: Any
) -> None:
    clock = [1000.0]
    app_state(app).registrar.contexts.clock = lambda: clock[0]
    org_id = await create_organisation(name="Colegiul Medicilor")
    event_id = await create_event(organisation_id=org_id, slug="kept")
    assert "Colegiul Medicilor" in (await client.get("/events/kept")).text
    async with db.transaction() as conn:  # written by another worker process: this one is not told
        await conn.execute(events.update().where(events.c.id == event_id).values(title="Ecografie", updated_at=now()))
        await conn.execute(organisations.update().where(organisations.c.id == org_id).values(name="CMR București"))
    clock[0] += Contexts.PAGE_SECONDS * 0.9
    kept = await client.get("/events/kept")
    assert "Colegiul Medicilor" in kept.text and "Ecografie" not in kept.text  # the copy, under a second old
    clock[0] += Contexts.PAGE_SECONDS * 0.2
    for page in ("/events/kept", "/events/kept/registered"):
        response = await client.get(page)
        assert "CMR București" in response.text or page.endswith("registered"), page
        assert "Ecografie" in response.text and "Colegiul Medicilor" not in response.text, page


async def test_the_page_follows_the_seats_as_they_fill(client: httpx.AsyncClient, db: DB, create_event: Any) -> None:
    await create_event(slug="kept", capacity=1, waitlist=True)
    form = await open_form(client, "kept")
    registered = await client.get("/events/kept/registered")
    on_the_list = "your registration is on its waiting list"
    assert registered.status_code == 200 and on_the_list not in registered.text
    assert 'id="waitlist-notice"' not in (await client.get("/events/kept")).text
    response = await client.post("/events/kept/register", data={**person(), **form})
    assert response.status_code == 303
    assert 'id="waitlist-notice"' in (await client.get("/events/kept")).text
    assert on_the_list in (await client.get("/events/kept/registered")).text


async def test_the_registered_page_gives_no_session_to_a_visitor_without_one(
    client: httpx.AsyncClient, create_event: Any
) -> None:
    await create_event(slug="kept")
    for _ in range(2):  # rendered, then kept
        response = await client.get("/events/kept/registered")
        assert response.status_code == 200 and "set-cookie" not in response.headers


async def test_an_address_with_a_campaigns_parameters_is_served_but_not_kept(
    app: Starlette, client: httpx.AsyncClient, create_event: Any
) -> None:
    await create_event(slug="kept")
    pages = app_state(app).pages
    assert (await client.get("/events/kept")).status_code == 200
    kept = len(pages)
    for n in range(3):  # a click id different for every visitor would push out the pages everyone loads
        response = await client.get(f"/events/kept?utm_source=newsletter&fbclid=IwAR{n}")
        assert response.status_code == 200 and 'name="csrf_token"' in response.text
    assert len(pages) == kept
    assert (await client.get("/events/kept?signed_out=1")).status_code == 200 and len(pages) == kept + 1
