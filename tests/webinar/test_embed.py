"""The embedded registration form (SPEC §14): framed only by the event's sites, every other page by none, the same
registration rules through the same registrar, and its own cookieless CSRF token."""

from __future__ import annotations

import re

import httpx

from tests.conftest import csrf_from
from tests.webinar.regutil import VERSION_RE, person, registration_rows
from webinar.db import DB

SITES = "https://www.example.ro\nhttp://localhost:8123"


async def _embed_form(client: httpx.AsyncClient, slug: str) -> dict[str, str]:
    response = await client.get(f"/events/{slug}/embed")
    assert response.status_code == 200, response.text[:300]
    match = VERSION_RE.search(response.text)
    assert match, "no registration form in the embed page"
    return {"csrf_token": csrf_from(response.text), "consent_version": match.group(1)}


def _ancestors(response: httpx.Response) -> str:
    found = re.search(r"frame-ancestors ([^;]+)", response.headers["content-security-policy"])
    assert found
    return found.group(1)


async def test_the_embed_page_is_framed_by_the_events_sites_only(client: httpx.AsyncClient, create_event) -> None:
    await create_event(slug="framed", embed_origins=SITES)
    page = await client.get("/events/framed/embed")
    assert page.status_code == 200
    assert _ancestors(page) == "https://www.example.ro http://localhost:8123"
    assert "x-frame-options" not in page.headers
    assert 'action="http://testserver/events/framed/embed"' in page.text
    assert 'class="site-header"' not in page.text and 'class="embed"' in page.text
    assert 'name="first_name"' in page.text and 'name="consent_processing"' in page.text
    assert "set-cookie" not in page.headers  # no session for the frame: its token needs none
    for path in ("/events/framed", "/", "/events/framed/registered", "/events/framed/privacy"):
        other = await client.get(path)
        assert _ancestors(other) == "'none'" and other.headers["x-frame-options"] == "DENY", path


async def test_an_event_without_sites_is_framed_nowhere(client: httpx.AsyncClient, create_event) -> None:
    await create_event(slug="nowhere")
    page = await client.get("/events/nowhere/embed")
    assert page.status_code == 200 and 'name="first_name"' in page.text
    assert _ancestors(page) == "'none'" and page.headers["x-frame-options"] == "DENY"


async def test_registering_through_the_embed_stays_in_the_frame(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="emb", embed_origins=SITES)
    hidden = await _embed_form(client, "emb")
    client.cookies.clear()  # a frame on another site sends no cookie of ours
    response = await client.post("/events/emb/embed", data={**person(), **hidden})
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == "http://testserver/events/emb/embed/registered"
    done = await client.get(response.headers["location"])
    assert done.status_code == 200 and "Thank you for registering" in done.text
    assert _ancestors(done) == "https://www.example.ro http://localhost:8123"
    assert "/events/emb/embed" in done.text and 'class="site-header"' not in done.text
    [reg] = await registration_rows(db)
    assert reg["status"] == "approved" and reg["email_normalised"] == "stefan.popescu@example.org"


async def test_the_embed_keeps_the_forms_rules_and_shows_errors_in_the_frame(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="rules", embed_origins=SITES)
    hidden = await _embed_form(client, "rules")
    response = await client.post("/events/rules/embed", data={**person(consent_processing=None), **hidden})
    assert response.status_code == 422
    assert 'id="error-summary"' in response.text and 'class="embed"' in response.text
    assert _ancestors(response) == "https://www.example.ro http://localhost:8123"
    assert await registration_rows(db) == []


async def test_the_embed_refuses_a_missing_forged_or_other_events_token(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="one", embed_origins=SITES)
    await create_event(slug="two", embed_origins=SITES)
    hidden = await _embed_form(client, "one")
    other = await _embed_form(client, "two")
    session_token = {"csrf_token": csrf_from((await client.get("/events/one")).text)}
    for token in ({}, {"csrf_token": "forged"}, {"csrf_token": other["csrf_token"]}, session_token):
        response = await client.post("/events/one/embed", data={**person(), **hidden, "csrf_token": "", **token})
        assert response.status_code == 403 and "form has expired" in response.text
        assert _ancestors(response) == "https://www.example.ro http://localhost:8123"  # the frame shows why
    # The embed's token is no good for the event page's form either.
    response = await client.post("/events/one/register", data={**person(), **hidden})
    assert response.status_code == 403
    assert await registration_rows(db) == []


async def test_a_post_from_another_sites_page_is_refused(client: httpx.AsyncClient, create_event, db: DB) -> None:
    await create_event(slug="xsite", embed_origins=SITES)
    hidden = await _embed_form(client, "xsite")
    response = await client.post(
        "/events/xsite/embed", data={**person(), **hidden}, headers={"origin": "https://www.example.ro"}
    )
    assert response.status_code == 403  # the framing site may show the form, not post it itself
    assert await registration_rows(db) == []


async def test_a_full_event_with_a_waiting_list_takes_the_embeds_registration_on_it(
    client: httpx.AsyncClient, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event(slug="full", embed_origins=SITES, capacity=1, waitlist=True)
    await create_registration(event_id, status="approved")
    hidden = await _embed_form(client, "full")
    page = await client.get("/events/full/embed")
    assert 'id="waitlist-notice"' in page.text and "Join the waiting list" in page.text
    response = await client.post("/events/full/embed", data={**person(), **hidden})
    assert response.status_code == 303
    done = await client.get(response.headers["location"])
    assert "waiting list" in done.text and _ancestors(done) == "https://www.example.ro http://localhost:8123"
    assert [r["status"] for r in await registration_rows(db)] == ["approved", "waitlisted"]
