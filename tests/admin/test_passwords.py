"""Staff passwords through the real app and a real SMTP server on both engines: a change on "My account" (the
current password, the new one twice, the other sessions ended, audited, the owner told), and a reset by e-mail from
the login page (the same answer for every address, rate-limited, expiring, single-use, every session ended, the
second factor still asked, the token kept out of the stored e-mail)."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pyotp
import pytest
import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count, sends_to_login
from tests.admin.test_two_factor import browser, enrol
from tests.conftest import STAFF_PASSWORD, csrf_for, csrf_from, login_staff
from tests.webinar.moved_clock import MovedClock
from webinar import clock as platform
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.tables import outbox, staff_users

NEW = "a much newer passphrase"
RESET_RE = re.compile(r"http://testserver(/admin/password-reset/[\w.\-]+)")


async def _signed_in(app, email: str, ip: str = "192.0.2.50") -> httpx.AsyncClient:
    http = browser(app, ip)
    assert (await login_staff(http, email)).status_code == 303
    return http


async def _password_hash(db, user_id: int) -> str:
    async with db.connection() as conn:
        found: str = await conn.fetch_val(sa.select(staff_users.c.password_hash).where(staff_users.c.id == user_id))
    return found


async def _change(http: httpx.AsyncClient, current: str, new: str, again: str | None = None) -> httpx.Response:
    token = await csrf_for(http, "/admin/account")
    data = {"current_password": current, "password": new, "password_again": new if again is None else again}
    return await http.post("/admin/account/password", data={**data, "csrf_token": token})


async def test_a_password_change_keeps_this_session_ends_the_others_and_tells_the_owner(
    app, db, create_staff, create_organisation, smtp_server, smtp_settings
) -> None:
    user = await create_staff("organiser", await create_organisation())
    here, elsewhere = await _signed_in(app, user.email), await _signed_in(app, user.email, "192.0.2.51")
    done = await _change(here, STAFF_PASSWORD, NEW)
    assert done.status_code == 303 and done.headers["location"].endswith("/admin/account?done=password")
    page = await here.get(done.headers["location"])
    assert page.status_code == 200 and 'id="password-changed"' in page.text  # this session goes on
    assert sends_to_login(await elsewhere.get("/admin/"))  # the other one has ended
    [entry] = await audit_entries(db, "staff.password_changed")
    assert entry["_actor"] == user.email
    await deliver_due(smtp_settings, db, compose_queued)
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == [user.email] and mail.message["Subject"] == "Your back-office password was changed"
    assert "192.0.2.50" in mail.message.get_body(("plain",)).get_content()
    fresh = browser(app, "192.0.2.52")
    assert (await login_staff(fresh, user.email)).status_code == 400  # the old password no longer works
    assert (await login_staff(fresh, user.email, NEW)).status_code == 303
    for http in (here, elsewhere, fresh):
        await http.aclose()


@pytest.mark.parametrize(
    "current, new, again, field, message",
    [
        ("wrong password 123", NEW, None, "current_password", "That is not your current password."),
        (STAFF_PASSWORD, "too short", None, "password", "The password must have from 12 to 128 characters."),
        (STAFF_PASSWORD, "x" * 129, None, "password", "The password must have from 12 to 128 characters."),
        (STAFF_PASSWORD, NEW, NEW + "!", "password_again", "The two new passwords are not the same."),
        ("", NEW, None, "current_password", "Enter your current password."),
    ],
)
async def test_a_bad_password_change_says_why_and_changes_nothing(
    app, db, create_staff, current: str, new: str, again: str | None, field: str, message: str
) -> None:
    user = await create_staff("operator")
    http = await _signed_in(app, user.email)
    before = await _password_hash(db, user.id)
    page = await _change(http, current, new, again)
    assert page.status_code == 400 and message in page.text and f'id="{field}-error"' in page.text
    assert await _password_hash(db, user.id) == before
    assert await count(db, outbox) == 0 and await audit_entries(db, "staff.password_changed") == []
    assert (await http.get("/admin/")).status_code == 200  # still signed in
    await http.aclose()


async def test_wrong_current_passwords_count_as_failed_logins(app, create_staff) -> None:
    user = await create_staff("operator")
    http = await _signed_in(app, user.email)
    for _ in range(5):
        assert (await _change(http, "wrong password 123", NEW)).status_code == 400
    limited = await _change(http, STAFF_PASSWORD, NEW)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    await http.aclose()


async def _ask(http: httpx.AsyncClient, email: str) -> httpx.Response:
    token = await csrf_for(http, "/admin/password-reset")
    return await http.post("/admin/password-reset", data={"email": email, "csrf_token": token})


async def _reset_path(db, smtp_settings, smtp_server) -> str:
    await deliver_due(smtp_settings, db, compose_queued)
    text = smtp_server.messages[-1].message.get_body(("plain",)).get_content()
    match = RESET_RE.search(text)
    assert match, text
    return match.group(1)


async def _set(http: httpx.AsyncClient, path: str, new: str, again: str | None = None) -> httpx.Response:
    token = await csrf_for(http, "/admin/password-reset")  # a page with a form, whatever the link's state
    data = {"password": new, "password_again": new if again is None else again}
    return await http.post(path, data={**data, "csrf_token": token})


async def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    app, db, create_staff, create_organisation, smtp_server, smtp_settings
) -> None:
    user = await create_staff("organiser", await create_organisation())
    signed_in = await _signed_in(app, user.email, "192.0.2.60")
    http = browser(app)
    login = await http.get("/admin/login")
    assert '/admin/password-reset" id="forgot-password"' in login.text
    asked = await _ask(http, user.email.upper())  # the address as typed, whatever its case
    assert asked.status_code == 200 and 'id="reset-sent"' in asked.text
    assert [e["_actor"] for e in await audit_entries(db, "staff.password_reset_asked")] == [user.email]
    path = await _reset_path(db, smtp_settings, smtp_server)
    assert smtp_server.messages[0].message["Subject"] == "Set a new password for the back office"

    form = await http.get(path)  # a mail scanner opening the link spends nothing
    assert form.status_code == 200 and 'id="reset-form"' in form.text and user.email in form.text
    assert form.headers["cache-control"] == "no-store"
    assert form.headers["referrer-policy"] == "same-origin"  # no Referer, so no token, goes elsewhere
    mismatch = await _set(http, path, NEW, "something else entirely")
    assert mismatch.status_code == 400 and "The two new passwords are not the same." in mismatch.text
    assert await audit_entries(db, "staff.password_reset") == []
    done = await _set(http, path, NEW)
    assert done.status_code == 303 and done.headers["location"].endswith("/admin/login?password_reset=1")
    assert 'id="password-was-reset"' in (await http.get(done.headers["location"])).text
    assert sends_to_login(await signed_in.get("/admin/"))  # every session of the account has ended
    assert len(await audit_entries(db, "staff.password_reset")) == 1

    again = await http.get(path)  # used: the password it was made for is gone
    assert again.status_code == 400 and 'id="reset-invalid"' in again.text and 'id="reset-form"' not in again.text
    other = "yet another passphrase"
    token = await csrf_for(http, "/admin/password-reset")
    reused = await http.post(path, data={"password": other, "password_again": other, "csrf_token": token})
    assert reused.status_code == 400 and len(await audit_entries(db, "staff.password_reset")) == 1
    assert (await login_staff(http, user.email, NEW)).status_code == 303

    await deliver_due(smtp_settings, db, compose_queued)
    assert smtp_server.messages[-1].message["Subject"] == "Your back-office password was changed"
    async with db.connection() as conn:  # the mail queue keeps the sent e-mail without its working link
        bodies = [r["body_text"] + r["body_html"] for r in await conn.fetch_all(outbox.select())]
    token = path.rsplit("/", 1)[1]
    assert all(token not in body for body in bodies) and any("/admin/password-reset/[redacted]" in b for b in bodies)
    for client in (signed_in, http):
        await client.aclose()


async def test_unknown_and_known_addresses_get_the_same_answer(app, db, create_staff) -> None:
    user = await create_staff("operator")
    gone = await create_staff("operator")
    async with db.transaction() as conn:
        await conn.execute(staff_users.update().where(staff_users.c.id == gone.id).values(is_active=False))
    http = browser(app)
    answers = {}
    for email in (user.email, "nobody-here@example.org", gone.email, "nul\x00@example.org", "x" * 300):
        page = await _ask(http, email)
        shown = email[:254]  # what the page repeats of the address typed
        answers[email] = (page.status_code, page.text.replace(shown, "EMAIL"), page.headers.get("set-cookie"))
    assert len(set(answers.values())) == 1
    async with db.connection() as conn:
        queued = [r["to_address"] for r in await conn.fetch_all(outbox.select())]
    assert queued == [user.email]  # only the active account gets a link
    await http.aclose()


async def test_a_reset_link_expires_after_30_minutes(
    app, db, monkeypatch, create_staff, smtp_server, smtp_settings
) -> None:
    user = await create_staff("operator")
    clock = MovedClock(monkeypatch)
    clock.to(platform.now())
    http = browser(app)
    await _ask(http, user.email)
    path = await _reset_path(db, smtp_settings, smtp_server)
    clock.forward(dt.timedelta(minutes=29))
    assert (await http.get(path)).status_code == 200
    clock.forward(dt.timedelta(minutes=2))
    before = await _password_hash(db, user.id)
    late = await _set(http, path, NEW)
    assert late.status_code == 400 and 'id="reset-invalid"' in late.text
    assert await _password_hash(db, user.id) == before
    forged = await http.get(path[:-3] + "abc")
    assert forged.status_code == 400 and 'id="reset-invalid"' in forged.text
    await http.aclose()


async def test_asking_too_often_is_refused_per_address_and_per_ip(app, db, create_staff) -> None:
    user = await create_staff("operator")
    http = browser(app, "192.0.2.70")
    for _ in range(3):
        assert (await _ask(http, user.email)).status_code == 200
    refused = await _ask(http, user.email)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Too many attempts" in refused.text
    assert await count(db, outbox) == 3  # nothing more was sent
    other = browser(app, "192.0.2.71")  # the same address from elsewhere: still its limit
    assert (await _ask(other, user.email)).status_code == 429
    many = browser(app, "192.0.2.72")  # one client, many addresses: its own limit
    statuses = [(await _ask(many, f"probe{n}@example.org")).status_code for n in range(21)]
    assert statuses == [200] * 20 + [429]
    for client in (http, other, many):
        await client.aclose()


async def test_a_reset_does_not_skip_the_second_factor(
    app, db, monkeypatch, create_staff, smtp_server, smtp_settings
) -> None:
    user = await create_staff("operator")
    clock = MovedClock(monkeypatch)
    clock.to(platform.now())
    http = await _signed_in(app, user.email)
    secret, _ = await enrol(http)
    anonymous = browser(app, "192.0.2.80")
    await _ask(anonymous, user.email)
    path = await _reset_path(db, smtp_settings, smtp_server)
    assert (await _set(anonymous, path, NEW)).status_code == 303
    assert sends_to_login(await anonymous.get("/admin/"))  # a reset opens no session
    token = await csrf_for(anonymous, "/admin/login")
    step = await anonymous.post("/admin/login", data={"email": user.email, "password": NEW, "csrf_token": token})
    assert step.status_code == 200 and 'name="code"' in step.text  # the code is still asked for
    assert sends_to_login(await anonymous.get("/admin/"))
    clock.forward(dt.timedelta(seconds=60))
    code = pyotp.TOTP(secret).at(platform.now())
    data = {"token": re.search(r'name="token" value="([^"]+)"', step.text)[1], "code": code, "next": ""}  # type: ignore[index]
    done = await anonymous.post("/admin/login/code", data={**data, "csrf_token": csrf_from(step.text)})
    assert done.status_code == 303 and (await anonymous.get("/admin/")).status_code == 200
    for client in (http, anonymous):
        await client.aclose()


async def test_the_reset_pages_and_e_mails_are_romanian(app, db, create_staff, smtp_server, smtp_settings) -> None:
    from tests.webinar.test_no_english import english_in, visible_text

    user = await create_staff("operator")
    async with db.transaction() as conn:
        await conn.execute(staff_users.update().where(staff_users.c.id == user.id).values(language="ro"))
    http = browser(app)
    http.cookies.set("webinar_lang", "ro")
    pages = [await http.get("/admin/password-reset"), await _ask(http, user.email), await http.get("/admin/login")]
    path = await _reset_path(db, smtp_settings, smtp_server)
    pages += [await http.get(path), await http.get(path + "x")]
    assert all(english_in(visible_text(page.text)) == [] for page in pages), [p.text for p in pages]
    assert "Ați uitat parola?" in pages[2].text
    mail = smtp_server.messages[0].message
    text = mail["Subject"] + mail.get_body(("plain",)).get_content()
    assert english_in(text) == [] and english_in(visible_text(mail.get_body(("html",)).get_content())) == []
    await http.aclose()
