"""Live now: the number of open, recently seen viewing sessions on the dashboard and the event's page."""

from __future__ import annotations

import datetime as dt
import re

from tests.webinar.access_helpers import on_now
from webinar.clock import now


async def test_dashboard_and_event_page_show_who_is_watching_now(
    operator_client, create_event, create_registration, create_viewing_session
) -> None:
    http = await operator_client()
    event_id = await create_event(**on_now(title="Eveniment live"))
    quiet_id = await create_event(**on_now(title="Eveniment liniștit"))
    for _ in range(3):
        await create_viewing_session(event_id, await create_registration(event_id), started_at=now())
    reg = await create_registration(event_id)
    stale = now() - dt.timedelta(seconds=200)
    await create_viewing_session(event_id, reg, started_at=stale, last_seen_at=stale)  # crashed, not yet swept
    await create_viewing_session(event_id, reg, started_at=stale, ended_at=now())  # over

    dashboard = await http.get("/admin/")
    assert dashboard.status_code == 200 and "Watching now" in dashboard.text
    rows = {
        title: row
        for row in dashboard.text.split("<tr>")
        for title in ("Eveniment live", "Eveniment liniștit")
        if title in row
    }
    assert re.findall(r'<td class="num">(\d+)</td>', rows["Eveniment live"])[-1] == "3"
    assert re.findall(r'<td class="num">(\d+)</td>', rows["Eveniment liniștit"])[-1] == "0"

    page = await http.get(f"/admin/events/{event_id}")
    assert re.search(r'id="watching-now"><strong>3</strong>', page.text)
    quiet = await http.get(f"/admin/events/{quiet_id}")
    assert re.search(r'id="watching-now"><strong>0</strong>', quiet.text)
