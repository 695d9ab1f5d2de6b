"""Forms in a real Chromium: after a refused submit the focus is on the error summary; the site has its icon."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import Server
from webinar.db import DB
from webinar.tables import registrations

pytestmark = pytest.mark.browser

FOCUSED = "document.activeElement && (document.activeElement.className + ' ' + document.activeElement.tagName)"


async def test_a_refused_registration_puts_the_focus_on_the_error_summary(
    server: Server, browser: Any, db: DB, create_event
) -> None:
    await create_event(slug="focus-me", language="en")
    page = await browser.new_page()
    await page.goto(f"{server.base_url}/events/focus-me")
    await page.fill("input[name=first_name]", "Ana")
    await page.fill("input[name=last_name]", "Pop")
    await page.fill("input[name=email]", "ana@example")  # the browser lets it through; the server does not
    await page.check("input[name=consent_processing]")
    await page.check("input[name=age_confirmed]")
    await page.locator("form button[type=submit]").last.click()
    await page.wait_for_selector(".error-summary")
    assert (await page.evaluate(FOCUSED)).startswith("error-summary")
    async with db.connection() as conn:
        assert await conn.fetch_all(registrations.select()) == []
    await page.keyboard.press("Tab")  # the keyboard goes on from the summary: to its first link, not the page's top
    assert await page.evaluate("document.activeElement.closest('.error-summary') !== null")


async def test_a_wrong_staff_password_puts_the_focus_on_the_error(server: Server, browser: Any, create_staff) -> None:
    user = await create_staff("operator")
    page = await browser.new_page()
    await page.goto(f"{server.base_url}/admin/login")
    await page.fill("#email", user.email)
    await page.fill("#password", STAFF_PASSWORD + "x")
    await page.press("#password", "Enter")
    await page.wait_for_selector(".error-summary")
    assert (await page.evaluate(FOCUSED)).startswith("error-summary")


async def test_every_page_has_the_icon_and_favicon_ico_answers(server: Server, browser: Any, create_event) -> None:
    await create_event(slug="icon")
    page = await browser.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    for path in ("/", "/events/icon", "/admin/login"):
        await page.goto(server.base_url + path)
        href = await page.get_attribute("link[rel=icon]", "href")
        assert href == f"{server.base_url}/favicon.ico"
    icon = await page.request.get(f"{server.base_url}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon"
    assert (await icon.body())[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert missing == []
