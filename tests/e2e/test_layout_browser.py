"""Layout in a real Chromium at a phone's width: nothing wider than the screen, panels apart, a checkbox's error
under its label, destructive links not dressed as the primary button."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import Server
from tests.webinar.access_helpers import join_path, load_event
from webinar.db import DB
from webinar.tables import consent_records

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
ACCENT = "rgb(31, 95, 191)"  # --accent in static/css/site.css: the primary button
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
LONG_EMAIL = "ana-maria.popescu-ionescu.departamentul-de-cercetare@institutul-national-de-fizica.example.ro"


async def _overflow(page: Any) -> int:
    return int(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


async def _gaps(page: Any, selector: str) -> list[float]:
    return list(
        await page.evaluate(
            """(sel) => { const boxes = [...document.querySelectorAll(sel)].map((e) => e.getBoundingClientRect());
               return boxes.slice(1).map((b, i) => b.top - boxes[i].bottom); }""",
            selector,
        )
    )


async def test_the_attendee_pages_fit_a_phone_and_keep_their_panels_apart(
    server: Server, browser: Any, db: DB, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(slug="phone", language="en"))
    reg = await create_registration(event.id, email=LONG_EMAIL)
    page = await browser.new_page(viewport=PHONE)
    for path in ("/events/phone", "/events/phone/login", join_path(settings, event, reg), "/events/phone/me"):
        await page.goto(server.base_url + path)
        assert await _overflow(page) <= 0, path
        if await page.locator("section.panel").count() > 1:
            assert min(await _gaps(page, "section.panel")) >= 12, path
    assert LONG_EMAIL in (await page.content())


async def test_a_checkbox_error_sits_under_its_label(server: Server, browser: Any, create_event) -> None:
    await create_event(slug="tick", language="en")
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{server.base_url}/events/tick")
    await page.fill("input[name=first_name]", "Ana")
    await page.fill("input[name=last_name]", "Pop")
    await page.fill("input[name=email]", "ana@example.org")
    await page.locator("form button[type=submit]").last.click()
    await page.wait_for_selector("#consent_processing-error")
    label = await page.locator("label[for=consent_processing]").bounding_box()
    error = await page.locator("#consent_processing-error").bounding_box()
    assert error["y"] >= label["y"] + label["height"] - 1  # below, not squeezing it into a column
    assert label["width"] > PHONE["width"] * 0.6
    assert await _overflow(page) <= 0


async def test_the_registrant_page_fits_and_its_erase_link_is_not_a_primary_button(
    server: Server, browser: Any, db: DB, create_event, create_registration, create_staff
) -> None:
    event_id = await create_event(slug="staffphone")
    reg = await create_registration(event_id, email=LONG_EMAIL)
    async with db.transaction() as conn:
        await conn.execute(
            consent_records.insert().values(
                registration_id=reg, event_id=event_id, purpose="processing", action="given", text_version=1,
                text_sha256="f" * 64, recorded_at=(await load_event(db, event_id)).created_at,
                user_agent=CHROME,
            )
        )  # fmt: skip
    user = await create_staff("operator")
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{server.base_url}/admin/login")
    await page.fill("#email", user.email)
    await page.fill("#password", STAFF_PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(f"{server.base_url}/admin/")
    await page.goto(f"{server.base_url}/admin/events/{event_id}/registrants/{reg}")
    assert await _overflow(page) <= 0
    erase = page.locator("a.button.danger")
    colours = await erase.evaluate("(a) => [getComputedStyle(a).backgroundColor, getComputedStyle(a).color]")
    assert colours[0] != ACCENT and colours == ["rgb(255, 255, 255)", "rgb(180, 35, 24)"]  # outlined in --danger
