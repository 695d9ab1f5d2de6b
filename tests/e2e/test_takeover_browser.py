"""Two real browsers, one registrant (SPEC §15): the join link opened on a second device takes the stream over; the
first page says, in its language, that the stream continues elsewhere, stops, and does not reconnect; the sessions
are logged `taken_over` and open. Reloading the first page takes the stream back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import HEARTBEAT, Server
from tests.e2e.test_watch_browser import UNREACHABLE_STREAM, eventually
from tests.webinar.access_helpers import join_path, load_event, on_now, sessions_of
from webinar.db import DB

pytestmark = pytest.mark.browser


async def test_a_second_browser_takes_over_and_the_first_is_told(
    server: Server, browser: Any, db: DB, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now(stream_url=UNREACHABLE_STREAM, language="ro")))
    reg = await create_registration(event.id)
    join_url = server.base_url + join_path(settings, event, reg)
    laptop, phone = await browser.new_context(), await browser.new_context()
    first, second = await laptop.new_page(), await phone.new_page()
    await first.goto(join_url)
    await eventually(lambda: sessions_of(db, reg))

    await second.goto(join_url)  # the forwarded link, on another device
    notice = first.locator("#taken-over")
    await notice.wait_for(state="visible", timeout=10_000)
    assert "continuă pe alt dispozitiv" in await notice.inner_text()  # the page's language
    assert await first.evaluate("document.getElementById('stream').paused")

    async def settled() -> list[Any]:
        rows = await sessions_of(db, reg)
        return rows if sorted(str(r["end_reason"]) for r in rows) == ["None", "taken_over"] else []

    rows = await eventually(settled)
    await asyncio.sleep(HEARTBEAT * 2 + 1)  # the first page does not reconnect and take the stream back
    assert len(await sessions_of(db, reg)) == len(rows) == 2
    await first.reload()  # on purpose: the stream comes back here, and the second device is told
    await second.locator("#taken-over").wait_for(state="visible", timeout=10_000)
    reasons = sorted(str(r["end_reason"]) for r in await sessions_of(db, reg))
    assert reasons == ["None", "taken_over", "taken_over"]
    await laptop.close()
    await phone.close()
