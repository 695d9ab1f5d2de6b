"""A real browser on a real server: an attendee cancels from /me, and the next in line gets the seat."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.webinar.access_helpers import join_path, load_event
from tests.webinar.privacy_helpers import registration
from webinar.db import DB

pytestmark = pytest.mark.browser


async def test_an_attendee_cancels_from_me_and_the_first_in_line_gets_the_seat(
    server: Server, browser: Any, db: DB, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(capacity=1, waitlist=True))
    reg = await create_registration(event.id, language="en")
    waiting = await create_registration(event.id, status="waitlisted", language="en")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(server.base_url + join_path(settings, event, reg))
    await page.goto(f"{server.base_url}/events/{event.slug}/me")
    assert await page.locator("#my-status").inner_text() == "approved"

    await page.click("#cancel-registration")
    await page.wait_for_url(f"{server.base_url}/events/{event.slug}/me/cancel")
    await page.click("#confirm-cancel")
    await page.wait_for_url(f"{server.base_url}/events/{event.slug}/cancelled")
    assert "is cancelled" in await page.locator("main").inner_text()

    assert (await registration(db, reg))["status"] == "cancelled"
    assert (await registration(db, waiting))["status"] == "approved"
    await page.goto(f"{server.base_url}/events/{event.slug}/me")  # signed out: the login page
    assert page.url == f"{server.base_url}/events/{event.slug}/login"
    await context.close()
