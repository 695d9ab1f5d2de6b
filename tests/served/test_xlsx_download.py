"""An .xlsx export through a real `webinar serve`: chunked as it is zipped, and whole when it arrives."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openpyxl

from tests.conftest import login_staff
from tests.reliability.conftest import Platform
from webinar.db import DB
from webinar.tables import viewing_sessions

SESSIONS = 20_000


async def test_a_big_xlsx_streams_through_uvicorn_and_opens(
    served: Platform,
    db: DB,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
    create_staff: Callable[..., Awaitable[Any]],
) -> None:
    event_id = await create_event(slug="excel-mare")
    reg = await create_registration(event_id, first_name="Ștefan", last_name="Țepeș")
    start = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    rows = [
        {
            "event_id": event_id, "registration_id": reg, "started_at": start + dt.timedelta(seconds=n),
            "last_seen_at": start + dt.timedelta(seconds=n + 60), "ended_at": start + dt.timedelta(seconds=n + 60),
            "end_reason": "left", "ip": "10.0.0.1", "user_agent": "test",
        }
        for n in range(SESSIONS)
    ]  # fmt: skip
    async with db.transaction() as conn:
        await conn.execute_many(viewing_sessions.insert(), rows)
    user = await create_staff("operator")
    web = served.serve("web")
    chunks: list[bytes] = []
    async with httpx.AsyncClient(base_url=web.base_url, timeout=60) as http:
        assert (await login_staff(http, user.email)).status_code == 303
        async with http.stream("GET", f"/admin/events/{event_id}/reports/traffic.xlsx") as response:
            assert response.status_code == 200
            assert response.headers["transfer-encoding"] == "chunked"  # no length known in advance: streamed
            chunks = [chunk async for chunk in response.aiter_raw()]
    assert len(chunks) > 1
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(chunks)), read_only=True).worksheets[0]
    cells = list(sheet.iter_rows(values_only=True))
    assert len(cells) == SESSIONS + 1
    last_login = dt.datetime(2026, 11, 22, 12, 0) + dt.timedelta(seconds=SESSIONS - 1)  # EET
    assert cells[-1][1:] == (
        "Ștefan",
        "Țepeș",
        last_login,
        last_login + dt.timedelta(seconds=60),
        1.0,
        "10.0.0.1",
        "left",
    )
