"""The traffic chart in a real Chromium: zoomed to the viewing of a week-long event, the whole week a click away."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import Server
from webinar.clock import now

pytestmark = pytest.mark.browser

# The plot's left and right edges in the SVG's user units (reports/chart.py: LEFT, WIDTH - RIGHT).
LEFT, RIGHT, WIDTH = 56, 692, 720


def _with_viewers(path: str, bottom: float) -> float:
    """The share of the plot's width where the step line is above zero."""
    points = [(float(x), float(y)) for x, y in re.findall(r"([\d.]+),([\d.]+)", path)]
    xs = [x for x, y in points if y < bottom]
    return (max(xs) - min(xs)) / (RIGHT - LEFT) if xs else 0.0


async def _chart(page: Any) -> dict[str, Any]:
    return await page.evaluate(
        """() => {
          const svg = document.querySelector("svg.traffic-chart");
          const below = (t) => Number(t.getAttribute("y")) > 225;  // the time labels, under the plot
          const ticks = [...svg.querySelectorAll("text.tick")].filter(below);
          const box = (t) => { const b = t.getBBox(); return [b.x, b.x + b.width]; };
          return {
            path: svg.querySelector("path.line").getAttribute("d"),
            bottom: Number(svg.querySelector("line.axis").getAttribute("y1")),
            labels: ticks.map((t) => t.textContent),
            first: box(ticks[0]),
            last: box(ticks[ticks.length - 1]),
          };
        }"""
    )


async def test_a_week_long_event_is_charted_where_people_watched(
    server: Server, browser: Any, create_event, create_registration, create_viewing_session, create_staff
) -> None:
    # Mid-morning two days ago: the viewing (50 minutes) within one day in any time zone of ours, whenever it runs.
    start = (now() - dt.timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    event_id = await create_event(starts_at=start, ends_at=start + dt.timedelta(days=7))
    for i, (late, long) in enumerate([(0, 50), (5, 40), (20, 30)]):
        reg = await create_registration(event_id, email=f"v{i}@example.org")
        begin = start + dt.timedelta(minutes=late)
        await create_viewing_session(event_id, reg, begin, begin + dt.timedelta(minutes=long), "logout")
    user = await create_staff("operator")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(f"{server.base_url}/admin/login")
    await page.fill("#email", user.email)
    await page.fill("#password", STAFF_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.base_url}/admin/")

    await page.goto(f"{server.base_url}/admin/events/{event_id}/traffic")
    zoomed = await _chart(page)
    # The hour with viewers fills the plot, not one pixel of a week; every axis label is inside the drawing.
    assert _with_viewers(zoomed["path"], zoomed["bottom"]) > 0.8
    assert zoomed["first"][0] >= 0 and zoomed["last"][1] <= WIDTH
    assert all(re.fullmatch(r"\d\d:\d\d", label) for label in zoomed["labels"])  # one day: times only
    assert await page.locator("#chart-span").is_visible()

    await page.click("#chart-span a")  # the whole week, one click away
    await page.wait_for_url(re.compile(r".*span=whole.*"))
    whole = await _chart(page)
    assert _with_viewers(whole["path"], whole["bottom"]) < 0.05
    assert whole["first"][0] >= 0 and whole["last"][1] <= WIDTH  # the longer, dated labels too
    assert all(re.fullmatch(r"\d\d\.\d\d \d\d:\d\d", label) for label in whole["labels"])
    peak = page.locator(".stat", has_text="peak")
    assert (await peak.locator("strong").text_content()) == "3"  # the same figures either way

    await page.click("#chart-span a")  # and back
    await page.wait_for_url(re.compile(r".*/traffic(#chart-heading)?$"))
    assert _with_viewers((await _chart(page))["path"], zoomed["bottom"]) > 0.8
