"""The public pages of an organisation's events wear its branding, on both engines: the accent stylesheet (served
from our origin, made from its address) and the logo in the header; another organisation's pages, and the CSP, do
not change."""

from __future__ import annotations

from typing import Any

import httpx

from tests.branding_images import image
from tests.webinar.access_helpers import join, load_event, on_now
from webinar.branding import logo, services
from webinar.db import DB
from webinar.settings import Settings
from webinar.web.middleware import content_security_policy


async def _brand(db: DB, org_id: int, colour: str | None = "#0b6e4f", with_logo: bool = True) -> str:
    """Brand the organisation; the logo's address (or '')."""
    async with db.transaction() as conn:
        await services.set_colour(conn, org_id, colour, "test", None, None)
        if not with_logo:
            return ""
        checked = logo.checked(image("PNG", size=(200, 50)))
        await services.set_logo(conn, org_id, checked, "test", None, None)
    return f"/brand/{org_id}/logo-{checked.sha256[:16]}.png"


def _wears(html: str, logo_path: str, colour: str = "0b6e4f") -> bool:
    return (
        f'href="http://testserver/brand/accent-{colour}.css"' in html and f'src="http://testserver{logo_path}"' in html
    )


async def test_the_event_login_and_registered_pages_wear_the_organisations_branding(
    client: httpx.AsyncClient, db: DB, create_organisation: Any, create_event: Any
) -> None:
    org_id = await create_organisation(name="Asociația Medicilor")
    event = await load_event(db, await create_event(organisation_id=org_id))
    address = await _brand(db, org_id)
    for page in ("", "/login", "/registered", "/privacy"):
        response = await client.get(f"/events/{event.slug}{page}")
        assert response.status_code == 200 and _wears(response.text, address), page
        assert 'alt="Asociația Medicilor" width="200" height="50"' in response.text
        assert response.headers["content-security-policy"] == content_security_policy()  # style-src 'self' still


async def test_a_refused_registration_keeps_the_branding(
    client: httpx.AsyncClient, db: DB, create_organisation: Any, create_event: Any
) -> None:
    org_id = await create_organisation()
    event = await load_event(db, await create_event(organisation_id=org_id))
    address = await _brand(db, org_id)
    page = await client.get(f"/events/{event.slug}")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post(f"/events/{event.slug}/register", data={"csrf_token": token, "first_name": "Ana"})
    assert response.status_code == 422 and _wears(response.text, address)


async def test_the_stream_page_and_me_wear_it_too(
    client: httpx.AsyncClient, db: DB, settings: Settings, create_organisation: Any, create_event: Any,
    create_registration: Any,
) -> None:  # fmt: skip
    org_id = await create_organisation()
    event = await load_event(db, await create_event(organisation_id=org_id, **on_now()))
    address = await _brand(db, org_id)
    await join(client, settings, event, await create_registration(event.id))
    for page in ("/watch", "/me"):
        response = await client.get(f"/events/{event.slug}{page}")
        assert response.status_code == 200 and _wears(response.text, address), page


async def test_another_organisations_pages_and_the_home_page_keep_the_sites_look(
    client: httpx.AsyncClient, db: DB, create_organisation: Any, create_event: Any
) -> None:
    branded, plain = await create_organisation(), await create_organisation()
    await _brand(db, branded)
    event = await load_event(db, await create_event(organisation_id=plain))
    for path in (f"/events/{event.slug}", "/"):
        html = (await client.get(path)).text
        assert "/brand/" not in html and "org-logo" not in html, path


async def test_a_colour_alone_and_a_logo_removed(
    client: httpx.AsyncClient, db: DB, create_organisation: Any, create_event: Any
) -> None:
    org_id = await create_organisation()
    event = await load_event(db, await create_event(organisation_id=org_id))
    address = await _brand(db, org_id)
    async with db.transaction() as conn:
        await services.remove_logo(conn, org_id, "test", None, None)
    html = (await client.get(f"/events/{event.slug}")).text
    assert "accent-0b6e4f.css" in html and address not in html and "org-logo" not in html
    async with db.transaction() as conn:
        await services.set_colour(conn, org_id, None, "test", None, None)
    assert "/brand/" not in (await client.get(f"/events/{event.slug}")).text  # nothing left: the site's own look


async def test_the_accent_stylesheet_is_made_from_its_address_and_kept_for_a_year(client: httpx.AsyncClient) -> None:
    response = await client.get("/brand/accent-0b6e4f.css")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert response.text == ":root { --accent: #0b6e4f; --accent-ink: #fff; }\n"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    for bad in ("0B6E4F", "0b6e4", "zzzzzz", "0b6e4f;}body{x"):
        assert (await client.get(f"/brand/accent-{bad}.css")).status_code == 404, bad


async def test_an_unknown_organisations_logo_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/brand/999999/logo-0000000000000000.png")).status_code == 404
