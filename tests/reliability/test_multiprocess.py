"""Two `webinar serve` processes and a `webinar worker` on one PostgreSQL: nothing lost, nothing twice, state shared."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx

from tests.conftest import csrf_from, login_staff
from tests.reliability.conftest import FlakySMTP, Platform, eventually
from tests.reliability.helpers import email_of, outbox_by_registration, register_burst, registered_emails
from tests.webinar.regutil import open_form, person
from webinar.db import DB
from webinar.settings import Settings


async def test_hundred_registrations_over_two_servers_and_a_worker(
    platform: Platform,
    flaky_smtp: FlakySMTP,
    create_event: Callable[..., Awaitable[int]],
    create_staff: Callable[..., Awaitable[object]],
    db: DB,
) -> None:
    await create_event(slug="big")
    flaky_smtp.up()
    web = {"WEBINAR_BACKGROUND": "false", "TRUSTED_PROXIES": "127.0.0.1", **flaky_smtp.env()}
    a, b = platform.serve("a", **web), platform.serve("b", **web)
    platform.worker("worker", **flaky_smtp.env())

    statuses = await register_burst([a.base_url, b.base_url], "big", range(100), concurrency=50)
    assert Counter(statuses.values()) == Counter({303: 100})
    assert sorted(await registered_emails(db)) == [email_of(n) for n in range(100)]
    await eventually(lambda: _received_at_least(flaky_smtp, 100), within=40)
    await asyncio.sleep(3)  # room for a duplicate to show up
    received = Counter(rcpt for mail in flaky_smtp.messages for rcpt in mail.rcpt_tos)
    assert received == Counter({email_of(n): 1 for n in range(100)})
    assert all(kinds == [("confirmation", "sent")] for kinds in (await outbox_by_registration(db)).values())

    await _rate_limit_is_shared(a.base_url, b.base_url)
    await _sessions_are_shared(a.base_url, b.base_url, create_staff)


async def _received_at_least(smtp: FlakySMTP, n: int) -> bool:
    return len(smtp.messages) >= n


async def _rate_limit_is_shared(url_a: str, url_b: str) -> None:
    """One address registering alternately through A and B is asked for a proof of work after the soft threshold's
    tries in all (SPEC §15): the count is shared."""
    threshold = Settings.pow_threshold
    same_ip = {"X-Forwarded-For": "203.0.113.77"}
    async with httpx.AsyncClient(base_url=url_a) as on_a, httpx.AsyncClient(base_url=url_b) as on_b:
        forms = [await open_form(on_a, "big"), await open_form(on_b, "big")]
        statuses = []
        for i in range(threshold + 1):
            client = (on_a, on_b)[i % 2]
            data = {**person(email=f"limit{i}@example.org"), **forms[i % 2]}
            response = await client.post("/events/big/register", data=data, headers=same_ip)
            statuses.append(response.status_code)
            if response.status_code == 422:
                assert "automatic check" in response.text
    assert statuses == [303] * threshold + [422]


async def _sessions_are_shared(url_a: str, url_b: str, create_staff: Callable[..., Awaitable[object]]) -> None:
    """A staff cookie from A works on B; logging out on B ends it on A too."""
    user = await create_staff("operator")
    async with httpx.AsyncClient(base_url=url_a) as on_a:
        response = await login_staff(on_a, user.email)  # type: ignore[attr-defined]
        assert response.status_code == 303
        cookies = dict(on_a.cookies)
    async with httpx.AsyncClient(base_url=url_b, cookies=cookies) as on_b:
        dashboard = await on_b.get("/admin/")
        assert dashboard.status_code == 200 and user.email in dashboard.text  # type: ignore[attr-defined]
        logout = await on_b.post("/admin/logout", data={"csrf_token": csrf_from(dashboard.text)})
        assert logout.status_code == 303
    async with httpx.AsyncClient(base_url=url_a, cookies=cookies) as replay:
        after = await replay.get("/admin/")
        assert after.status_code in (302, 303, 307) and "/admin/login" in after.headers["location"]
