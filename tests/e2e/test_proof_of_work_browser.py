"""A real browser behind a busy address (SPEC §15): past the soft threshold the event page carries the ALTCHA widget,
Chromium fetches the challenge from our server, solves it in the widget's Web Worker, and the registration goes
through; nothing comes from a third party, no cookie is set by the check, the page's CSP is never violated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import Server
from tests.webinar.regutil import open_form, person
from webinar.db import DB
from webinar.settings import Settings

pytestmark = pytest.mark.browser

THRESHOLD = 2


@pytest.fixture
def busy_server(database_url: str, settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """The platform with a low threshold, so that two registrations make the address busy."""
    var = tmp_path / "server-var"
    var.mkdir()
    running = Server(database_url, str(settings.secret_key), var)
    running.env["POW_THRESHOLD"] = str(THRESHOLD)
    running.migrate()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("language", ["en", "ro"])
async def test_chromium_solves_the_widget_and_registers_past_the_threshold(
    busy_server: Server, browser: Any, db: DB, create_event: Any, language: str
) -> None:
    base = busy_server.base_url
    await create_event(slug="spital", language=language)
    async with httpx.AsyncClient(base_url=base) as colleague:  # the same address (127.0.0.1): the hospital's network
        hidden = await open_form(colleague, "spital")
        for i in range(THRESHOLD):
            data = {**person(email=f"coleg{i}@example.org"), **hidden}
            assert (await colleague.post("/events/spital/register", data=data)).status_code == 303

    context = await browser.new_context(locale="ro-RO" if language == "ro" else "en-GB")
    page = await context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    # Chromium asks for /favicon.ico by itself (a 404 here, and no request event): "failed to load" is checked below.
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if msg.type == "error" and "Failed to load" not in msg.text else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(f"{base}/events/spital")
    widget = page.locator("altcha-widget")
    await widget.wait_for()
    label = "Nu sunt un robot" if language == "ro" else "I am not a robot"
    assert label in await widget.inner_text()  # our words, in the page's language

    for field, value in (("first_name", "Maria"), ("last_name", "Ionescu"), ("email", "maria.ionescu@example.org")):
        await page.fill(f"#{field}", value)
    await page.check("#consent_processing")
    await page.check("#age_confirmed")
    await page.locator("altcha-widget input[type=checkbox]").click()  # the widget ticks it when verified
    verified = "Verificat" if language == "ro" else "Verified"
    await page.wait_for_function(
        "t => document.querySelector('altcha-widget').innerText.includes(t)", arg=verified, timeout=60_000
    )
    assert await page.locator("input[name=altcha]").input_value()  # the solution the form posts
    await page.click("form.stacked button[type=submit]")
    await page.wait_for_url(f"{base}/events/spital/registered")

    async with db.connection() as conn:
        stored = await conn.fetch_val("SELECT count(*) FROM registrations WHERE email = 'maria.ionescu@example.org'")
        spent = await conn.fetch_val("SELECT count(*) FROM proof_solutions")
    assert stored == 1 and spent == 1
    assert {urlsplit(url).netloc for url in requests} == {urlsplit(base).netloc}  # no third-party request
    assert f"{base}/events/spital/challenge/register" in requests
    assert not [c for c in await context.cookies() if c["name"] != "webinar_session"]  # no cookie of the check's
    assert problems == [] and [url for url in failed if not url.endswith("/favicon.ico")] == []  # no CSP violation
    await context.close()
