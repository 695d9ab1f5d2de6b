"""The traffic page: totals, the server-rendered SVG chart, the interval form and the paged sessions table."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tests.reports.conftest import Setup, StaffClient

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 12:00 in Bucharest


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


async def test_totals_peak_and_chart(
    setup: Setup, staff_client: StaffClient, create_registration: Any, create_viewing_session: Any
) -> None:
    ids = [await create_registration(setup.event_id, email=f"v{i}@example.org") for i in range(3)]
    await create_registration(setup.event_id, email="p@example.org", status="pending")
    # v0: 12:00–12:30 and 12:40–12:50; v1: 12:10–12:20; v2: 12:15–12:45 → three at once from 12:15 to 12:20.
    await create_viewing_session(setup.event_id, ids[0], T0, T0 + minutes(30), "logout")
    await create_viewing_session(setup.event_id, ids[0], T0 + minutes(40), T0 + minutes(50), "left")
    await create_viewing_session(setup.event_id, ids[1], T0 + minutes(10), T0 + minutes(20), "timeout")
    await create_viewing_session(setup.event_id, ids[2], T0 + minutes(15), T0 + minutes(45), "logout")
    http = await staff_client("organiser", setup.organisation_id)
    page = await http.get(f"/admin/events/{setup.event_id}/traffic?from=2026-11-22T11:00&to=2026-11-22T14:00")
    assert page.status_code == 200
    stats = {label: value for value, label in re.findall(r"<strong>([\d.]+)</strong> ([a-z ]+)", page.text)}
    assert stats == {
        "registered": "4", "approved": "3", "active viewers": "3", "peak concurrent viewers": "3",
        "average minutes watched": "26.7", "total minutes watched": "80.0",
    }  # fmt: skip
    assert "12:15" in page.text  # when the peak happened, in the event's time zone
    svg = re.search(r"<svg[^>]*role=\"img\".*?</svg>", page.text, re.S)
    assert svg and '<title id="chart-title">Concurrent viewers from' in svg.group(0)
    assert ">11:00<" in svg.group(0) and ">14:00<" in svg.group(0)  # axis labels in local time
    # The chart needs no script: the page has only the one every page has (static/js/forms.js), none inline.
    assert re.findall(r"<script[^>]*>", page.text) == [
        '<script type="module" src="http://testserver/static/js/forms.js">'
    ]
    assert "style=" not in page.text
    assert 'value="2026-11-22T11:00"' in page.text and 'value="2026-11-22T14:00"' in page.text
    assert "traffic.csv?from=2026-11-22T11%3A00&amp;to=2026-11-22T14%3A00" in page.text


async def test_sessions_table_pages_and_bad_page_means_first(
    setup: Setup, staff_client: StaffClient, create_registration: Any, create_viewing_session: Any
) -> None:
    reg = await create_registration(setup.event_id)
    for i in range(55):
        await create_viewing_session(
            setup.event_id, reg, T0 + minutes(i), T0 + minutes(i + 0.5), "left", ip=f"198.51.100.{i}"
        )
    http = await staff_client("organiser", setup.organisation_id)
    base = f"/admin/events/{setup.event_id}/traffic"
    first = await http.get(base)
    assert first.text.count("198.51.100.") == 50 and "Page 1 of 2" in first.text
    assert "198.51.100.0<" in first.text and "198.51.100.50<" not in first.text
    second = await http.get(base + "?page=2")
    assert second.text.count("198.51.100.") == 5 and "198.51.100.54<" in second.text
    for bad in ("-1", "abc", "0", "1.5", "９"):
        response = await http.get(base, params={"page": bad})
        assert response.status_code == 200 and "Page 1 of 2" in response.text, bad
    assert "Page 2 of 2" in (await http.get(base + "?page=999")).text  # past the end: the last page


async def test_empty_event_page_renders(setup: Setup, staff_client: StaffClient) -> None:
    http = await staff_client("operator")
    page = await http.get(f"/admin/events/{setup.event_id}/traffic")
    assert page.status_code == 200
    assert "No viewing sessions in this interval." in page.text and "<svg" in page.text


async def test_event_page_links_to_reports(setup: Setup, staff_client: StaffClient) -> None:
    http = await staff_client("organiser", setup.organisation_id)
    page = await http.get(f"/admin/events/{setup.event_id}")
    assert page.status_code == 200
    assert f"/admin/events/{setup.event_id}/traffic" in page.text
    assert f"/admin/events/{setup.event_id}/reports/registered.csv" in page.text
