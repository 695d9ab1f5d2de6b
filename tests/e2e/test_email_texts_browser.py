"""A real browser on a real server: an organiser opens an e-mail's text, sees our default in placeholder form, writes
their own, gets an unknown placeholder named beside the field, previews it for the sample registrant and saves it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import Server
from webinar.db import DB
from webinar.tables import email_templates

pytestmark = pytest.mark.browser


async def test_an_organiser_edits_previews_and_saves_an_email_text(
    server: Server, browser: Any, db: DB, create_organisation: Any, create_staff: Any, create_event: Any
) -> None:
    org_id = await create_organisation(name="Colegiul Medicilor")
    user = await create_staff("organiser", org_id)
    event_id = await create_event(organisation_id=org_id, title="Curs de pediatrie", language="ro")
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{server.base_url}/admin/login")
    await page.fill("#email", user.email)
    await page.fill("#password", STAFF_PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(f"{server.base_url}/admin/")

    await page.goto(f"{server.base_url}/admin/events/{event_id}")
    await page.click("text=E-mail texts")
    await page.click("#edit-rejected-ro")
    assert await page.input_value("#subject") == "Înscrierea dumneavoastră nu a fost acceptată: {event_title}"
    assert (await page.input_value("#body")).startswith("Bună ziua, {first_name},")

    await page.fill("#subject", "Ne pare rău, {first_name}")
    await page.fill("#body", "Dragă {prenume},\n\nLocurile la {event_title} s-au ocupat.")
    await page.click("button[value=preview]")
    await page.wait_for_selector("#body-error")
    assert "{prenume}" in await page.inner_text("#body-error")
    assert await page.get_attribute("#body", "aria-invalid") == "true"
    assert "{prenume}" in await page.input_value("#body")  # what was typed is still there

    await page.fill("#body", "Dragă {first_name},\n\nLocurile la {event_title} s-au ocupat. {{ 7*7 }}")
    await page.click("button[value=preview]")
    await page.wait_for_selector("#preview-html")
    assert await page.inner_text("#preview-subject") == "Ne pare rău, Ioana"
    rendered = await page.inner_text("#preview-html")
    assert "Dragă Ioana," in rendered and "Locurile la Curs de pediatrie s-au ocupat. { 7*7 }" in rendered
    assert "49" not in rendered
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(email_templates)) == 0

    await page.click("button[value=save]")
    await page.wait_for_selector(".notice.ok")
    assert "saved" in await page.inner_text(".notice.ok")
    assert await page.inner_text("#edit-rejected-ro") == "your text"
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(email_templates))
    assert row is not None and row["kind"] == "rejected" and row["language"] == "ro"
    assert row["subject"] == "Ne pare rău, {first_name}" and row["body"].endswith("s-au ocupat. {{ 7*7 }}")
    assert row["updated_by"] == user.email
    await context.close()
