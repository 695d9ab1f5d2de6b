"""Login limits: counters keyed by HMACs that no erasure resets; only failures count, with a growing delay, and a
known device passes; "log out everywhere"; staff session lifetimes (issue 25, items 1 and 2)."""

from __future__ import annotations

import datetime as dt

import httpx
import sqlalchemy as sa

from admin.signin import DEVICE_COOKIE
from tests.admin.helpers import audit_entries, sends_to_login
from tests.conftest import STAFF_PASSWORD, csrf_for, csrf_from
from tests.webinar.access_helpers import load_event, on_now
from tests.webinar.moved_clock import MovedClock
from webinar.accounts.passwords import hash_password
from webinar.clock import now
from webinar.db import DB
from webinar.tables import rate_limits, staff_users, web_sessions
from webinar.web.cookies import COOKIE_NAME

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


# Failures only, per account, with a growing delay; a known device passes (issue 25, item 2).


async def login(http: httpx.AsyncClient, email: str, password: str = STAFF_PASSWORD) -> httpx.Response:
    token = await csrf_for(http, "/admin/login")
    return await http.post("/admin/login", data={"email": email, "password": password, "csrf_token": token})


async def test_correct_passwords_are_never_counted(app, create_staff) -> None:
    operator = await create_staff("operator")
    async with browser(app) as http:
        for _ in range(15):
            http.cookies.clear()
            assert (await login(http, operator.email)).status_code == 303


async def test_someone_guessing_cannot_lock_the_owner_out(app, db, create_staff) -> None:
    operator = await create_staff("operator")
    async with browser(app, "198.51.100.7") as owner, browser(app) as attacker, browser(app, "192.0.2.9") as laptop:
        assert (await login(owner, operator.email)).status_code == 303  # the owner's browser becomes a known device
        device = next(name for name in owner.cookies if name.endswith(DEVICE_COOKIE))
        token = await csrf_for(owner, "/admin/")
        await owner.post("/admin/logout", data={"csrf_token": token})
        await lock(attacker, operator.email)
        assert (await login(attacker, operator.email)).status_code == 429  # even the right password waits there
        refused = await login(laptop, operator.email)  # a browser that never signed in waits (a soft limit)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        signed_in = await login(owner, operator.email)
        assert signed_in.status_code == 303 and (await owner.get("/admin/")).status_code == 200
        assert device in owner.cookies
        assert (await login(laptop, operator.email)).status_code == 303  # the owner's success ended the streak


async def test_brute_force_is_still_stopped_with_a_growing_delay(app, db, monkeypatch, create_staff) -> None:
    operator = await create_staff("operator")
    clock = MovedClock(monkeypatch)
    clock.to(now())
    async with browser(app) as attacker:
        statuses = [(await fail_staff_login(attacker, operator.email)).status_code for _ in range(6)]
        assert statuses == [400] * 5 + [429]
        waits = []
        for _ in range(3):
            refused = await fail_staff_login(attacker, operator.email)
            assert refused.status_code == 429
            waits.append(int(refused.headers["retry-after"]))
            clock.forward(dt.timedelta(seconds=waits[-1]))
            assert (await fail_staff_login(attacker, operator.email)).status_code == 400  # one more guess, counted
        assert waits[0] <= 31 and waits[1] > waits[0] * 1.5 and waits[2] > waits[1] * 1.5
        assert (await login(attacker, operator.email)).status_code == 429  # the right password waits too
    # A known device that guesses wrong too often loses its pass.
    async with browser(app, "192.0.2.44") as device:
        clock.forward(dt.timedelta(days=2))
        assert (await login(device, operator.email)).status_code == 303
        device.cookies.delete(COOKIE_NAME)  # signed out, the device cookie kept
        for _ in range(10):
            assert (await fail_staff_login(device, operator.email)).status_code == 400
        assert (await fail_staff_login(device, operator.email)).status_code == 429


async def test_guessing_across_accounts_from_one_address_is_stopped(app, create_staff) -> None:
    async with browser(app, "2001:db8:1:2::1") as first:
        statuses = [(await fail_staff_login(first, f"nobody{n}@example.org")).status_code for n in range(51)]
    assert statuses == [400] * 50 + [429]
    # Another address of the same IPv6 /64 is the same subscriber: the same counter.
    async with browser(app, "2001:db8:1:2:ffff::9") as second:
        assert (await fail_staff_login(second, "another@example.org")).status_code == 429
    async with browser(app, "2001:db8:1:3::1") as elsewhere:
        assert (await fail_staff_login(elsewhere, "another@example.org")).status_code == 400


async def test_log_out_everywhere_ends_every_session_of_ones_own_account(app, db, create_staff) -> None:
    organiser = await create_staff("operator")
    async with browser(app, "192.0.2.1") as desk, browser(app, "192.0.2.2") as phone:
        assert (await login(desk, organiser.email)).status_code == 303
        assert (await login(phone, organiser.email)).status_code == 303
        page = await desk.get("/admin/account")
        assert page.status_code == 200 and 'id="logout-everywhere"' in page.text
        ended = await desk.post("/admin/account/logout-everywhere", data={"csrf_token": csrf_from(page.text)})
        assert ended.status_code == 303 and ended.headers["location"].endswith("/admin/login")
        assert sends_to_login(await desk.get("/admin/"))
        assert sends_to_login(await phone.get("/admin/"))
    assert [e["_actor"] for e in await audit_entries(db, "staff.logout_everywhere")] == [organiser.email]


async def test_log_out_everywhere_makes_the_known_devices_new_again(app, db, create_staff) -> None:
    operator = await create_staff("operator")
    async with browser(app, "198.51.100.8") as owner, browser(app) as attacker, browser(app, "198.51.100.9") as lost:
        assert (await login(lost, operator.email)).status_code == 303  # the laptop that gets lost
        assert (await login(owner, operator.email)).status_code == 303
        page = await owner.get("/admin/account")
        await owner.post("/admin/account/logout-everywhere", data={"csrf_token": csrf_from(page.text)})
        lost.cookies.delete(COOKIE_NAME)  # its device cookie kept, as a thief would
        await lock(attacker, operator.email)
        refused = await login(lost, operator.email)  # no longer a known device: it waits like any browser
        assert refused.status_code == 429 and any(name.endswith(DEVICE_COOKIE) for name in lost.cookies)
    async with db.connection() as conn:
        generation = await conn.fetch_val(
            sa.select(staff_users.c.device_generation).where(staff_users.c.id == operator.id)
        )
    assert generation == 1


async def test_staff_sessions_are_shorter_lived_than_attendees(app, db, settings, monkeypatch, create_staff) -> None:
    assert settings.staff_session_idle_minutes < settings.session_idle_minutes
    assert settings.staff_session_max_hours < settings.session_max_hours
    operator = await create_staff("operator")
    clock = MovedClock(monkeypatch)
    start = clock.to(now())
    async with browser(app) as http:
        await login(http, operator.email)
        async with db.connection() as conn:
            expires = await conn.fetch_val(sa.select(web_sessions.c.expires_at))
        assert expires == start + dt.timedelta(hours=settings.staff_session_max_hours)
        clock.forward(dt.timedelta(minutes=settings.staff_session_idle_minutes - 1))
        assert (await http.get("/admin/")).status_code == 200  # in use: the idle time starts again
        clock.forward(dt.timedelta(minutes=settings.staff_session_idle_minutes + 1))
        assert sends_to_login(await http.get("/admin/"))
