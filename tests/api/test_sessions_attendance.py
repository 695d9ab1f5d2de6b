"""Viewing sessions by start within [from, to) and paged by (started_at, id); attendance verdicts by registration;
the rate limit shared through the database: a 429 with Retry-After."""

from __future__ import annotations

import datetime as dt

import httpx

from tests.api.conftest import bearer
from webinar.clock import now


async def test_sessions_from_to_and_cursor(
    create_organisation, create_event, create_registration, create_viewing_session, create_token, api_client
):
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    reg_id = await create_registration(event_id)
    base = now().replace(microsecond=0) - dt.timedelta(hours=3)
    # Two sessions share each start: the cursor's id breaks the tie.
    ids = [await create_viewing_session(event_id, reg_id, base + dt.timedelta(minutes=n // 2)) for n in range(10)]
    async with api_client(await create_token(org_id)) as api:
        seen, cursor = [], None
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = (await api.get(f"/events/{event_id}/sessions", params=params)).json()
            seen += [s["id"] for s in page["data"]]
            if not (cursor := page["next_cursor"]):
                break
        assert seen == ids
        window = {
            "from": (base + dt.timedelta(minutes=1)).isoformat(),
            "to": (base + dt.timedelta(minutes=3)).isoformat(),
        }
        inside = (await api.get(f"/events/{event_id}/sessions", params=window)).json()["data"]
        assert [s["id"] for s in inside] == ids[2:6]
        naive = await api.get(f"/events/{event_id}/sessions", params={"from": "2026-01-01T10:00:00"})
        assert naive.status_code == 422 and "from" in naive.json()["errors"]


async def test_attendance_pages(
    create_organisation, create_event, create_registration, create_viewing_session, create_token, api_client
):
    org_id = await create_organisation()
    start = now().replace(microsecond=0) - dt.timedelta(hours=3)
    event_id = await create_event(
        organisation_id=org_id, starts_at=start, ends_at=start + dt.timedelta(hours=2), attendance_minutes=30
    )
    watched, absent = await create_registration(event_id), await create_registration(event_id)
    await create_viewing_session(event_id, watched, start, ended_at=start + dt.timedelta(minutes=45))
    async with api_client(await create_token(org_id)) as api:
        first = (await api.get(f"/events/{event_id}/attendance", params={"limit": 1})).json()
        second = (await api.get(f"/events/{event_id}/attendance", params={"cursor": first["next_cursor"]})).json()
    assert [(v["registration_id"], v["minutes_live"], v["qualifies"]) for v in first["data"]] == [(watched, 45, True)]
    assert [(v["registration_id"], v["qualifies"]) for v in second["data"]] == [(absent, False)]
    assert second["next_cursor"] is None


async def test_the_rate_limit_is_a_429_with_retry_after(app, settings, create_organisation, create_token):
    org_id = await create_organisation()
    token = await create_token(org_id)
    app.state.settings = settings.with_overrides(rate_limit_scale=0.005)  # 600 x 0.005: 3 requests a minute
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50011))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as http:
        answers = [await http.get("/events", headers=bearer(token)) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert answers[-1].headers["content-type"] == "application/problem+json"
        # Bad tokens are counted per address: 30 x 0.005 is one a minute.
        bad = [await http.get("/events", headers=bearer("wbn_" + "B" * 43)) for _ in range(2)]
        assert [r.status_code for r in bad] == [401, 429]
