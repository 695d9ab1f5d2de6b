"""A real browser on a real server: an attendee takes the final evaluation from /me with the keyboard, sees their
score, and downloads a certificate of completion."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.webinar.access_helpers import join_path, load_event
from webinar.clock import now
from webinar.db import DB
from webinar.evaluation import queries
from webinar.evaluation.queries import QuestionInput

pytestmark = pytest.mark.browser

TEST = [
    QuestionInput("Which organ pumps blood?", (("The liver", False), ("The heart", True))),
    QuestionInput("Which vitamins are fat-soluble?", (("A", True), ("C", False), ("D", True))),
]


async def test_an_attendee_takes_the_evaluation_with_the_keyboard_and_passes(
    server: Server, browser: Any, db: DB, settings, create_event, create_registration, create_viewing_session
) -> None:
    start = now().replace(microsecond=0) - dt.timedelta(hours=3)
    event_id = await create_event(
        starts_at=start, ends_at=start + dt.timedelta(hours=2), certificates=True, certificate_series="E2E",
        credits="2 credite EMC", language="en",
    )  # fmt: skip
    async with db.transaction() as conn:
        await queries.replace_test(conn, event_id, TEST)
        await queries.set_evaluation(conn, event_id, True, 100)
    event = await load_event(db, event_id)
    reg = await create_registration(event_id, language="en")
    await create_viewing_session(event_id, reg, event.starts_at, event.ends_at)
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    await page.goto(server.base_url + join_path(settings, event, reg))
    await page.goto(f"{server.base_url}/events/{event.slug}/me")
    await page.click("#take-evaluation")
    await page.wait_for_url(f"{server.base_url}/events/{event.slug}/me/evaluation")
    # Sent with nothing chosen: the errors are listed and each is beside its question.
    await page.click("#send-evaluation")
    assert await page.locator("#error-summary").count() == 1
    assert await page.locator(".error").count() == 2
    # With the keyboard: a radio group takes the arrow keys, tick boxes the space bar.
    await page.get_by_label("The liver").focus()
    await page.keyboard.press("Space")
    await page.keyboard.press("ArrowDown")
    assert await page.get_by_label("The heart").is_checked()
    await page.get_by_label("A", exact=True).focus()
    await page.keyboard.press("Space")
    await page.get_by_label("D", exact=True).focus()
    await page.keyboard.press("Space")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{server.base_url}/events/{event.slug}/me#evaluation")
    assert "100 %" in await page.locator("#evaluation-result").inner_text()
    async with page.expect_download() as download:
        await page.click("#my-certificate")
    assert (await download.value).suggested_filename.startswith("certificate-E2E-1-")
    await context.close()
