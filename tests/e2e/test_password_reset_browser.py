"""A real browser on a real server: a staff member who forgot their password asks for a link on the login page, sets
a new password with it, and signs in with that."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from admin.passwords import reset_token
from tests.e2e.conftest import Server
from webinar.accounts import staff
from webinar.clock import now
from webinar.db import DB

pytestmark = pytest.mark.browser

NEW = "a brand new passphrase"


async def test_a_forgotten_password_is_reset_from_the_login_page(
    server: Server, browser: Any, db: DB, settings, create_staff, create_organisation
) -> None:
    user = await create_staff("organiser", await create_organisation())
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{server.base_url}/admin/login")
    await page.click("#forgot-password")
    await page.wait_for_url(f"{server.base_url}/admin/password-reset")
    await page.fill("#email", user.email)
    await page.click("#send-reset")
    assert user.email in await page.locator("#reset-sent").inner_text()

    async with db.connection() as conn:  # the link the e-mail carries (the server signs with the same key)
        password_hash = await staff.password_hash(conn, user.id)
    assert password_hash is not None
    token = reset_token(settings, user.id, password_hash, now() + dt.timedelta(minutes=30))
    await page.goto(f"{server.base_url}/admin/password-reset/{token}")
    await page.fill("#password", NEW)
    await page.fill("#password_again", NEW + "?")
    await page.click("#set-password")
    summary = page.locator(".error-summary")
    assert "not the same" in await summary.inner_text()
    await page.fill("#password", NEW)
    await page.fill("#password_again", NEW)
    await page.click("#set-password")
    await page.wait_for_url(f"{server.base_url}/admin/login?password_reset=1")
    assert await page.locator("#password-was-reset").is_visible()

    await page.fill("#email", user.email)
    await page.fill("#password", NEW)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.base_url}/admin/")
    await page.goto(f"{server.base_url}/admin/password-reset/{token}")  # used: it no longer works
    assert await page.locator("#reset-invalid").is_visible()
    await context.close()
