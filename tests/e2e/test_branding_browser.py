"""Branding in a real Chromium: an operator uploads a logo and sets a colour on the organisation's page; the event
page then shows the logo (loaded under the strict CSP) and its buttons in the colour, seen in a screenshot's pixels;
on a phone the header still fits."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.branding_images import image
from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import Server
from webinar.db import DB
from webinar.tables import organisation_branding

pytestmark = pytest.mark.browser


async def test_the_operators_branding_shows_on_the_event_page(
    server: Server, browser: Any, db: DB, create_organisation: Any, create_event: Any, create_staff: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    org_id = await create_organisation(name="Asociația Medicilor")
    await create_event(organisation_id=org_id, slug="branded", language="en")
    user = await create_staff("operator")
    page = await browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(f"{server.base_url}/admin/login")
    await page.fill("#email", user.email)
    await page.fill("#password", STAFF_PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(f"{server.base_url}/admin/")
    await page.goto(f"{server.base_url}/admin/organisations")
    await page.click(f"a[href$='/admin/organisations/{org_id}/branding']")
    await page.set_input_files("#logo", {"name": "logo.png", "mimeType": "image/png", "buffer": image(size=(200, 50))})
    await page.click("form[action$='/branding/logo'] button[type=submit]")
    await page.wait_for_selector("text=The logo is saved.")
    await page.fill("#accent_colour", "#7fdbff")  # too light for white text: refused, with a darker shade offered
    await page.click("form[action$='/branding/colour'] button[type=submit]")
    await page.wait_for_selector("#accent_colour-error")
    assert "A darker shade of it that is:" in await page.inner_text("#accent_colour-error")
    await page.fill("#accent_colour", "#0b6e4f")
    await page.click("form[action$='/branding/colour'] button[type=submit]")
    await page.wait_for_selector("text=The accent colour is saved.")
    async with db.connection() as conn:
        row = await conn.fetch_one(organisation_branding.select())
    assert row is not None and row["accent_colour"] == "#0b6e4f"

    await page.goto(f"{server.base_url}/events/branded")
    logo = page.locator("img.org-logo")
    assert await logo.get_attribute("alt") == "Asociația Medicilor"
    assert await logo.evaluate("(img) => img.complete && img.naturalWidth") == 200  # loaded, from our origin
    button = page.locator("form button[type=submit]").last
    assert await button.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(11, 110, 79)"
    assert await button.evaluate("(b) => getComputedStyle(b).color") == "rgb(255, 255, 255)"
    shot = tmp_path / "branded-event.png"
    await button.screenshot(path=str(shot))
    with Image.open(io.BytesIO(shot.read_bytes())) as seen:
        rgb = seen.convert("RGB")
        assert rgb.getpixel((5, rgb.height // 2)) == (11, 110, 79)  # the button's padding, in the accent
    assert refused == []
    phone = await browser.new_page(viewport={"width": 360, "height": 740})
    await phone.goto(f"{server.base_url}/events/branded")  # the logo and the site's name share a phone's header
    assert await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert await phone.locator("img.org-logo").evaluate("(img) => img.getBoundingClientRect().height") <= 48
