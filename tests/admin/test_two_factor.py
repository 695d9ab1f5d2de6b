"""Two-factor sign-in for staff: enrolment with a QR code and a first code, the code at login (once each),
recovery codes (shown once, kept hashed, single-use), turning it off, and REQUIRE_STAFF_2FA for operators."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pyotp
import pytest
import sqlalchemy as sa

from tests.admin.helpers import audit_entries, sends_to_login
from tests.conftest import STAFF_PASSWORD, csrf_for, csrf_from
from tests.webinar.moved_clock import MovedClock
from webinar import clock as platform
from webinar.tables import staff_recovery_codes, staff_users

STEP = dt.timedelta(seconds=30)


def browser(app, ip: str = "192.0.2.50") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def password_step(http: httpx.AsyncClient, email: str) -> httpx.Response:
    token = await csrf_for(http, "/admin/login")
    return await http.post("/admin/login", data={"email": email, "password": STAFF_PASSWORD, "csrf_token": token})


async def code_step(http: httpx.AsyncClient, page: httpx.Response, code: str) -> httpx.Response:
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None, page.text[:500]
    data = {"token": token.group(1), "code": code, "next": "", "csrf_token": csrf_from(page.text)}
    return await http.post("/admin/login/code", data=data)


async def enrol(http: httpx.AsyncClient) -> tuple[str, list[str]]:
    """Turn two-factor sign-in on for the signed-in staff member: their secret and recovery codes."""
    page = await http.get("/admin/account")
    started = await http.post("/admin/account/two-factor", data={"csrf_token": csrf_from(page.text)})
    assert started.status_code == 200 and 'src="data:image/svg+xml' in started.text
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', started.text)
    assert secret is not None
    wrong = await http.post(
        "/admin/account/two-factor/confirm", data={"code": "000000", "csrf_token": csrf_from(started.text)}
    )
    assert wrong.status_code == 400 and "Wrong code." in wrong.text
    code = pyotp.TOTP(secret.group(1)).at(platform.now())
    done = await http.post(
        "/admin/account/two-factor/confirm", data={"code": code, "csrf_token": csrf_from(wrong.text)}
    )
    assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    assert len(codes) == 10
    return secret.group(1), codes


async def test_enrolment_then_every_login_asks_for_a_code_that_works_once(
    app, db, monkeypatch, create_staff, create_organisation
) -> None:
    user = await create_staff("organiser", await create_organisation())
    clock = MovedClock(monkeypatch)
    clock.to(platform.now())
    async with browser(app) as http:
        assert (await password_step(http, user.email)).status_code == 303
        secret, _codes = await enrol(http)
        await http.post("/admin/logout", data={"csrf_token": await csrf_for(http, "/admin/")})
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(staff_users).where(staff_users.c.id == user.id))
    assert row["totp_secret"] == secret and row["totp_confirmed_at"] is not None
    clock.forward(STEP * 2)
    async with browser(app) as http:
        asked = await password_step(http, user.email)
        assert asked.status_code == 200 and 'name="code"' in asked.text and asked.headers["cache-control"] == "no-store"
        assert sends_to_login(await http.get("/admin/"))  # a right password alone opens nothing
        wrong = await code_step(http, asked, "123456")
        assert wrong.status_code == 400 and "Wrong code." in wrong.text
        code = pyotp.TOTP(secret).at(platform.now())
        assert (await code_step(http, wrong, code)).status_code == 303
        assert (await http.get("/admin/")).status_code == 200
    async with browser(app) as http:  # the same code, replayed in another browser
        asked = await password_step(http, user.email)
        assert (await code_step(http, asked, code)).status_code == 400


async def test_recovery_codes_are_hashed_single_use_and_renewable(app, db, create_staff, create_organisation) -> None:
    user = await create_staff("organiser", await create_organisation())
    async with browser(app) as http:
        await password_step(http, user.email)
        _secret, codes = await enrol(http)
    async with db.connection() as conn:
        stored = [r["code_hash"] for r in await conn.fetch_all(sa.select(staff_recovery_codes.c.code_hash))]
    assert len(stored) == 10 and not set(codes) & set(stored) and all(len(h) == 64 for h in stored)
    async with browser(app) as http:
        assert (await code_step(http, await password_step(http, user.email), codes[0])).status_code == 303
        page = await http.get("/admin/account")
        assert "9 recovery codes left." in page.text
    async with browser(app) as http:
        assert (await code_step(http, await password_step(http, user.email), codes[0])).status_code == 400
    async with browser(app) as http:
        await code_step(http, await password_step(http, user.email), codes[1])
        page = await http.get("/admin/account")
        wrong = await http.post(
            "/admin/account/two-factor/recovery-codes", data={"code": "999999", "csrf_token": csrf_from(page.text)}
        )
        assert wrong.status_code == 400
        renewed = await http.post(
            "/admin/account/two-factor/recovery-codes", data={"code": codes[2], "csrf_token": csrf_from(page.text)}
        )
        fresh = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", renewed.text)
        assert renewed.status_code == 200 and len(fresh) == 10 and not set(fresh) & set(codes)
    async with browser(app) as http:  # the old codes stopped working
        assert (await code_step(http, await password_step(http, user.email), codes[3])).status_code == 400
    assert [e["_actor"] for e in await audit_entries(db, "staff.recovery_codes_renewed")] == [user.email]


async def test_the_staff_member_turns_it_off_with_a_code(
    app, db, monkeypatch, create_staff, create_organisation
) -> None:
    user = await create_staff("organiser", await create_organisation())
    clock = MovedClock(monkeypatch)
    clock.to(platform.now())
    async with browser(app) as http:
        await password_step(http, user.email)
        secret, _codes = await enrol(http)
        clock.forward(STEP * 2)
        page = await http.get("/admin/account")
        refused = await http.post(
            "/admin/account/two-factor/off", data={"code": "1", "csrf_token": csrf_from(page.text)}
        )
        assert refused.status_code == 400
        data = {"code": pyotp.TOTP(secret).at(platform.now()), "csrf_token": csrf_from(page.text)}
        assert (await http.post("/admin/account/two-factor/off", data=data)).status_code == 303
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(staff_users.c.totp_secret).where(staff_users.c.id == user.id)) is None
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(staff_recovery_codes)) == 0
    async with browser(app) as http:
        assert (await password_step(http, user.email)).status_code == 303  # the password alone again
    assert len(await audit_entries(db, "staff.two_factor_off")) == 1


async def test_guessing_codes_is_throttled(app, db, create_staff, create_organisation) -> None:
    user = await create_staff("organiser", await create_organisation())
    async with browser(app) as http:
        await password_step(http, user.email)
        await enrol(http)
    async with browser(app) as http:
        page = await password_step(http, user.email)
        statuses = []
        for n in range(6):
            answer = await code_step(http, page, f"{n:06d}")
            statuses.append(answer.status_code)
            page = answer if answer.status_code == 400 else page
        assert statuses == [400] * 5 + [429]


async def test_a_code_form_is_no_use_in_another_browser(app, db, create_staff, create_organisation) -> None:
    user = await create_staff("organiser", await create_organisation())
    async with browser(app) as http:
        await password_step(http, user.email)
        secret, _codes = await enrol(http)
    async with browser(app) as first, browser(app) as second:
        asked = await password_step(first, user.email)
        await second.get("/admin/login")
        token = re.search(r'name="token" value="([^"]+)"', asked.text)
        assert token is not None
        data = {
            "token": token.group(1),
            "code": pyotp.TOTP(secret).at(platform.now()),
            "csrf_token": await csrf_for(second, "/admin/login"),
        }
        answer = await second.post("/admin/login/code", data=data)
        assert answer.status_code == 400 and "please sign in again" in answer.text
        assert sends_to_login(await second.get("/admin/"))


@pytest.fixture
def strict_settings(settings):
    return settings.with_overrides(require_staff_2fa=True)


async def test_required_for_operators_when_require_staff_2fa(
    strict_settings, db, create_staff, create_organisation
) -> None:
    from webinar.app import create_app

    app = create_app(strict_settings)
    async with app.router.lifespan_context(app):
        operator = await create_staff("operator")
        organiser = await create_staff("organiser", await create_organisation())
        async with browser(app) as http:
            assert (await password_step(http, operator.email)).status_code == 303
            sent = await http.get("/admin/users")
            assert sent.status_code == 303 and sent.headers["location"].endswith("/admin/account")
            page = await http.get("/admin/account")
            assert page.status_code == 200 and 'id="must-enrol"' in page.text
            await enrol(http)
            assert (await http.get("/admin/users")).status_code == 200
        async with browser(app) as http:  # organisers are not made to
            assert (await password_step(http, organiser.email)).status_code == 303
            assert (await http.get("/admin/")).status_code == 200
