"""A real browser registers for an event with custom questions of every kind: a missing answer comes back beside its
question with everything typed kept, then the registration goes through with its answers stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.webinar.question_helpers import EVERY_KIND, add_questions, answers_of
from webinar.db import DB

pytestmark = pytest.mark.browser


async def test_a_registration_with_custom_questions(server: Server, browser: Any, db: DB, create_event: Any) -> None:
    event_id = await create_event(slug="intrebari-browser", language="en")
    text, long, choice, many, box, number, date = await add_questions(db, event_id, *EVERY_KIND)
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{server.base_url}/events/intrebari-browser")
    for field, value in (("first_name", "Ioana"), ("last_name", "Șerban"), ("email", "ioana.serban@example.org")):
        await page.fill(f"#{field}", value)
    await page.fill(f"#q_{long}", "Line one\nLine two")
    await page.select_option(f"#q_{choice}", "Pediatrie")
    await page.check(f"#q_{many}-1")
    await page.check(f"#q_{many}-3")
    await page.check(f"#q_{box}")
    await page.fill(f"#q_{number}", "12,5")
    await page.fill(f"#q_{date}", "1980-02-29")  # the date picker's own value format
    await page.check("#consent_processing")
    await page.check("#age_confirmed")
    await page.click("form.stacked button[type=submit]")  # the required short text is left empty

    await page.wait_for_selector(f"#q_{text}-error")
    assert await page.inner_text(f"#q_{text}-error") == "Please answer this question."
    assert await page.get_attribute(f"#q_{text}", "aria-invalid") == "true"
    assert await page.input_value(f"#q_{number}") == "12,5"  # everything typed is still there
    assert await page.input_value(f"#q_{long}") == "Line one\nLine two"
    assert await page.input_value(f"#q_{choice}") == "Pediatrie"
    assert await page.is_checked(f"#q_{many}-3") and not await page.is_checked(f"#q_{many}-2")
    assert await page.input_value(f"#q_{date}") == "1980-02-29"
    assert await answers_of(db) == {}

    await page.fill(f"#q_{text}", "Cardiologie")
    await page.click("form.stacked button[type=submit]")
    await page.wait_for_url(f"{server.base_url}/events/intrebari-browser/registered")
    assert await answers_of(db) == {
        text: "Cardiologie", long: "Line one\nLine two", choice: "Pediatrie", many: "Diagnostic\nPrevenție",
        box: "yes", number: "12.5", date: "1980-02-29",
    }  # fmt: skip
    await context.close()
