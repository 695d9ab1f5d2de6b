"""A real browser watches an event with two presence checks: it answers the first from the keyboard (the prompt has
the focus) and lets the second run out; the server logs one answered, one missed (answer window: 5 s here)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import CHECK_SECONDS, Server
from tests.e2e.test_watch_browser import UNREACHABLE_STREAM, eventually
from tests.webinar.access_helpers import join_path, load_event
from webinar.attendance import checks
from webinar.clock import now
from webinar.db import DB
from webinar.tables import presence_checks

pytestmark = pytest.mark.browser


async def _checks(db: DB, reg: int) -> list[Any]:
    async with db.connection() as conn:
        query = sa.select(presence_checks).where(presence_checks.c.registration_id == reg).order_by("number")
        return list(await conn.fetch_all(query))


async def test_one_check_answered_from_the_keyboard_and_one_missed(
    server: Server, browser: Any, db: DB, settings, create_event, create_registration
) -> None:
    start = now().replace(microsecond=0) + dt.timedelta(seconds=3)
    event_id = await create_event(
        starts_at=start, ends_at=start + dt.timedelta(seconds=40), presence_checks=2, stream_url=UNREACHABLE_STREAM
    )
    event = await load_event(db, event_id)
    reg = await create_registration(event.id)
    first, second = checks.schedule(str(settings.secret_key), event, reg, CHECK_SECONDS)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(server.base_url + join_path(settings, event, reg))
    prompt = page.locator("#presence-check")
    assert await prompt.is_hidden()

    await prompt.wait_for(state="visible", timeout=30_000)
    assert now() >= first.due_at - dt.timedelta(seconds=1)  # not before its moment
    assert await page.evaluate("document.activeElement.id") == "presence-check-answer"
    assert await prompt.get_attribute("role") == "alertdialog"
    await page.keyboard.press("Enter")
    await prompt.wait_for(state="hidden", timeout=5_000)
    status = page.locator("#presence-status")  # not overwritten by the stream's retries
    await eventually(lambda: _text_is(status, "Thank you: your presence is recorded."))

    await prompt.wait_for(state="visible", timeout=30_000)
    assert now() >= second.due_at - dt.timedelta(seconds=1)
    await prompt.wait_for(state="hidden", timeout=(CHECK_SECONDS + 3) * 1000)  # left unanswered: it goes away
    await eventually(lambda: _text_is(status, "You missed a presence check. The next one will come later."))
    await asyncio.sleep(1)

    rows = await _checks(db, reg)
    assert [row["number"] for row in rows] == [1, 2]
    assert rows[0]["answered_at"] is not None and rows[0]["answered_at"] <= rows[0]["answer_by"]
    assert rows[0]["due_at"] == first.due_at and rows[1]["due_at"] == second.due_at
    assert rows[1]["answered_at"] is None
    await context.close()


async def _text_is(locator: Any, text: str) -> bool:
    return (await locator.text_content() or "").strip() == text
