"""Login limits: counters keyed by HMACs that no erasure resets; only failures count, with a growing delay, and a
known device passes; "log out everywhere"; staff session lifetimes (issue 25, items 1 and 2)."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.conftest import csrf_for
from tests.webinar.access_helpers import load_event, on_now
from webinar.accounts.passwords import hash_password
from webinar.db import DB
from webinar.tables import rate_limits

ATTACKER = "203.0.113.66"
ATTENDEE_PASSWORD = "the attacker's own password"


def browser(app, ip: str = ATTACKER) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def fail_staff_login(http: httpx.AsyncClient, email: str) -> httpx.Response:
    token = await csrf_for(http, "/admin/login")
    return await http.post("/admin/login", data={"email": email, "password": "a wrong guess!", "csrf_token": token})


async def lock(http: httpx.AsyncClient, email: str) -> None:
    """Guess wrong until the account is refused (a 429), as a brute-forcer would."""
    for _ in range(30):
        if (await fail_staff_login(http, email)).status_code == 429:
            return
    raise AssertionError("never throttled")


async def keys(db: DB) -> list[str]:
    async with db.connection() as conn:
        return [row["key"] for row in await conn.fetch_all(sa.select(rate_limits.c.key))]


async def test_erasing_a_registration_with_a_staff_address_keeps_the_staff_lockout(
    app, db, create_staff, create_event, create_registration
) -> None:
    operator = await create_staff("operator")
    event = await load_event(db, await create_event(**on_now(login="link_and_password")))
    # The old way in: a registration under the operator's address with a password the attacker chose.
    await create_registration(event.id, email=operator.email, password_hash=await hash_password(ATTENDEE_PASSWORD))
    async with browser(app) as http:
        await lock(http, operator.email)
        token = await csrf_for(http, f"/events/{event.slug}/login")
        login = await http.post(
            f"/events/{event.slug}/login",
            data={"email": operator.email, "password": ATTENDEE_PASSWORD, "csrf_token": token},
        )
        assert login.status_code == 303
        token = await csrf_for(http, f"/events/{event.slug}/me/erase")
        erased = await http.post(f"/events/{event.slug}/me/erase", data={"csrf_token": token})
        assert erased.status_code == 303 and erased.headers["location"].endswith("/me/erased")
        assert (await fail_staff_login(http, operator.email)).status_code == 429  # the lockout holds


async def test_counters_name_no_address_and_no_ip(app, db, create_staff, create_event, create_registration) -> None:
    operator = await create_staff("operator")
    event = await load_event(db, await create_event(**on_now(login="link_and_password")))
    await create_registration(event.id, email="ioana.person@example.org")
    async with browser(app) as http:
        await fail_staff_login(http, operator.email)
        token = await csrf_for(http, f"/events/{event.slug}/login")
        await http.post(
            f"/events/{event.slug}/login",
            data={"email": "ioana.person@example.org", "password": "wrong password", "csrf_token": token},
        )
        await http.post(
            f"/events/{event.slug}/send-link", data={"email": "ioana.person@example.org", "csrf_token": token}
        )
    stored = await keys(db)
    assert len(stored) >= 4
    for key in stored:
        _kind, digest = key.split(":")
        assert len(digest) == 64 and all(c in "0123456789abcdef" for c in digest), key
    dump = " ".join(stored)
    for trace in (operator.email, "ioana", "example.org", ATTACKER, "203.0.113"):
        assert trace not in dump
