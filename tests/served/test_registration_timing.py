"""A duplicate registration answers about as fast as a new one on a real uvicorn: the time tells nobody who is
registered (issue 25 §6)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from tests.reliability.conftest import Platform, eventually
from tests.webinar.regutil import open_form, outbox_rows, person
from webinar.db import DB
from webinar.settings import Settings

ROUNDS = 40


async def timed_post(client: httpx.AsyncClient, data: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await client.post("/events/timing/register", data=data)
    elapsed = time.perf_counter() - started
    assert response.status_code == 303, response.text[:300]
    return elapsed * 1000


async def test_a_duplicate_takes_about_as_long_as_a_new_registration(
    served: Platform, create_event: Callable[..., Awaitable[int]], settings: Settings, db: DB
) -> None:
    await create_event(slug="timing")
    # 80 submissions from one address: under the limits, and no proof of work asked (SPEC §15's soft threshold).
    web = served.serve("web", RATE_LIMIT_SCALE="1000", POW_THRESHOLD="1000", WEBINAR_BACKGROUND="false")
    async with httpx.AsyncClient(base_url=web.base_url) as client:
        hidden = await open_form(client, "timing")
        form = {n: {**person(email=f"p{n}@example.org"), **hidden} for n in range(ROUNDS + 1)}
        await timed_post(client, form[0])  # warm: the kept copy of the event, the prepared statements
        new, duplicate = [], []
        for n in range(1, ROUNDS + 1):  # alternated, so that a busy moment of the machine weighs on both alike
            new.append(await timed_post(client, form[n]))
            duplicate.append(await timed_post(client, form[n - 1]))
    engine = "sqlite" if settings.is_sqlite else "postgresql"
    medians = statistics.median(new), statistics.median(duplicate)
    print(f"\n{engine}: median new {medians[0]:.2f} ms, duplicate {medians[1]:.2f} ms")
    assert medians[1] < medians[0] * 1.3 + 1.0, medians  # before: 1.8-3 x

    async def all_told() -> bool:  # each duplicate still told its address, after the answer
        return sum(row["kind"] == "already_registered" for row in await outbox_rows(db)) == ROUNDS

    assert await eventually(all_told, within=15)
