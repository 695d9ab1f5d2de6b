"""Getting in and out: join links, password login, "e-mail me my link", the gated stream page, logout."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import sqlalchemy as sa

from tests.conftest import csrf_for, csrf_from
from tests.webinar.access_helpers import join, join_path, load_event, on_now
from tests.webinar.moved_clock import MovedClock
from tests.webinar.regutil import outbox_rows
from webinar.accounts.passwords import hash_password
from webinar.clock import now
from webinar.tables import events, registrations, web_sessions
from webinar.web.cookies import COOKIE_NAME

PASSWORD = "parola-sigura-42"


async def attendee_sessions(db, registration_id: int) -> list:
    async with db.connection() as conn:
        return list(
            await conn.fetch_all(web_sessions.select().where(web_sessions.c.registration_id == registration_id))
        )


async def test_valid_join_link_logs_in_and_opens_the_stream(client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    response = await client.get(join_path(settings, event, reg))
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/events/{event.slug}/watch")
    assert COOKIE_NAME in response.headers["set-cookie"]
    [row] = await attendee_sessions(db, reg)
    assert row["kind"] == "attendee" and row["event_id"] == event.id and row["ip"] == "127.0.0.1"
    page = await client.get(f"/events/{event.slug}/watch")
    assert page.status_code == 200
    assert '<video id="stream"' in page.text and "/static/vendor/hls/hls.min.js" in page.text
    assert f'data-stream-url="{event.stream_url}"' in page.text
    assert 'data-heartbeat-seconds="30"' in page.text
    assert "<script>" not in page.text  # no inline script
    assert "frame-src 'none'" in page.headers["content-security-policy"]


async def test_a_join_links_session_lasts_the_maximum_or_until_the_links_expire(
    client, db, settings, create_event, create_registration
):
    for ended_ago, expected in ((-dt.timedelta(days=30), "max"), (dt.timedelta(hours=1), "links")):
        start = now().replace(microsecond=0) - ended_ago - dt.timedelta(hours=1)
        event = await load_event(db, await create_event(starts_at=start, ends_at=start + dt.timedelta(hours=1)))
        reg = await create_registration(event.id)
        client.cookies.clear()
        before = now()
        await join(client, settings, event, reg)
        [row] = await attendee_sessions(db, reg)
        if expected == "links":
            assert row["expires_at"] == event.join_link_expires_at
        else:
            assert before + dt.timedelta(hours=settings.session_max_hours) <= row["expires_at"]
            assert row["expires_at"] <= now() + dt.timedelta(hours=settings.session_max_hours)
        assert row["registration_id"] == reg and row["event_id"] == event.id and row["kind"] == "attendee"


async def test_redirects_name_the_address_the_browser_used(client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    for host in ("webinare.example.ro", "alt.example.org", "webinare.example.ro"):
        client.cookies.clear()
        response = await client.get(join_path(settings, event, await create_registration(event.id)),
                                    headers={"host": host})  # fmt: skip
        assert response.headers["location"] == f"http://{host}/events/{event.slug}/watch"


async def test_join_replaces_the_browsers_previous_session(client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    await join(client, settings, event, reg)
    rows = await attendee_sessions(db, reg)
    assert len(rows) == 2 and sum(r["revoked_at"] is None for r in rows) == 1


async def test_forged_expired_revoked_and_foreign_tokens_are_refused_clearly(
    client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now()))
    other = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    other_reg = await create_registration(other.id)
    good = join_path(settings, event, reg)
    cases = {
        "forged": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "garbage": f"/events/{event.slug}/join/not-a-token",
        "expired": join_path(settings, event, reg, expires=now() - dt.timedelta(seconds=1)),
        "revoked": join_path(settings, event, reg, version=0),
        "other event": join_path(settings, event, other_reg),
        "other event's page": join_path(settings, other, reg),
    }
    for name, path in cases.items():
        response = await client.get(path)
        assert response.status_code == 400, name
        assert "E-mail me my join link" in response.text, name
        assert f"/events/{event.slug}/send-link" in response.text or "send-link" in response.text
    assert await attendee_sessions(db, reg) == []
    assert (await client.get(f"/events/{event.slug}/watch")).status_code == 303


async def test_erased_and_refused_registrations_cannot_join(client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    erased = await create_registration(event.id, erased_at=now())
    rejected = await create_registration(event.id, status="rejected")
    cancelled = await create_registration(event.id, status="cancelled")
    assert (await client.get(join_path(settings, event, erased))).status_code == 400
    assert await attendee_sessions(db, erased) == []
    for reg in (rejected, cancelled):
        response = await client.get(join_path(settings, event, reg))
        assert response.status_code == 403
        assert "not approved" in response.text
        assert await attendee_sessions(db, reg) == []


async def test_simultaneous_join_links_each_start_their_own_session_and_refused_ones_none(
    app, db, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now()))
    other = await load_event(db, await create_event(**on_now(slug="other-event")))
    approved = [await create_registration(event.id) for _ in range(20)]
    erased = await create_registration(event.id, erased_at=now())
    rejected = await create_registration(event.id, status="rejected")
    foreign = await create_registration(other.id)
    links = [join_path(settings, event, reg) for reg in [*approved, erased, rejected, foreign]]
    browsers = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000 + i)), base_url="http://t")
        for i in range(len(links))
    ]
    try:
        responses = await asyncio.gather(*(b.get(link) for b, link in zip(browsers, links, strict=True)))
        assert [r.status_code for r in responses] == [303] * 20 + [400, 403, 400]
        pages = await asyncio.gather(*(b.get(f"/events/{event.slug}/watch") for b in browsers[:20]))
    finally:
        await asyncio.gather(*(b.aclose() for b in browsers))
    assert all(p.status_code == 200 and '<video id="stream"' in p.text for p in pages)
    assert len({r.cookies[COOKIE_NAME] for r in responses[:20]}) == 20
    for reg in approved:
        [row] = await attendee_sessions(db, reg)
        assert row["event_id"] == event.id
    for reg in (erased, rejected, foreign):
        assert await attendee_sessions(db, reg) == []
    if not db.is_sqlite:  # the join links of the moment share statements (queries.JoinStarts)
        assert app.state.join_starts.groups.groups < 23


async def test_pending_registration_sees_that_approval_is_awaited(
    client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now(approval="manual")))
    reg = await create_registration(event.id, status="pending")
    await join(client, settings, event, reg)
    page = await client.get(f"/events/{event.slug}/watch")
    assert page.status_code == 200
    assert "awaiting the organiser" in page.text and "<video" not in page.text


async def test_registration_rejected_after_login_gets_403(client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    async with db.transaction() as conn:
        await conn.execute(registrations.update().where(registrations.c.id == reg).values(status="rejected"))
    page = await client.get(f"/events/{event.slug}/watch")
    assert page.status_code == 403 and "<video" not in page.text


async def test_watch_without_a_session_for_this_event_goes_to_login(
    client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now()))
    other = await load_event(db, await create_event(**on_now()))
    response = await client.get(f"/events/{event.slug}/watch")
    assert response.status_code == 303 and response.headers["location"].endswith(f"/events/{event.slug}/login")
    await join(client, settings, other, await create_registration(other.id))
    response = await client.get(f"/events/{event.slug}/watch")  # logged in, but for another event
    assert response.status_code == 303


async def test_waiting_page_before_doors_open_with_a_countdown(client, db, settings, create_event, create_registration):
    start = dt.datetime(2030, 3, 5, 12, 0, tzinfo=dt.UTC)  # 14:00 in Bucharest
    event = await load_event(db, await create_event(starts_at=start, ends_at=start + dt.timedelta(hours=2)))
    await join(client, settings, event, await create_registration(event.id))
    page = await client.get(f"/events/{event.slug}/watch")
    assert page.status_code == 200
    assert "14:00" in page.text and 'id="countdown"' in page.text and "data-seconds-left=" in page.text
    assert "/static/js/countdown.js" in page.text and "<video" not in page.text


async def test_doors_open_before_the_start(client, db, settings, create_event, create_registration):
    start = now() + dt.timedelta(minutes=20)
    event = await load_event(db, await create_event(starts_at=start, ends_at=start + dt.timedelta(hours=1)))
    await join(client, settings, event, await create_registration(event.id))
    assert "<video" in (await client.get(f"/events/{event.slug}/watch")).text


async def test_over_page_after_the_end_and_grace(client, db, settings, create_event, create_registration):
    start = now() - dt.timedelta(hours=3)
    event = await load_event(db, await create_event(starts_at=start, ends_at=start + dt.timedelta(hours=2)))
    await join(client, settings, event, await create_registration(event.id))
    page = await client.get(f"/events/{event.slug}/watch")
    assert page.status_code == 200 and "This event is over" in page.text and "<video" not in page.text


async def test_embed_url_is_framed_and_allowed_by_csp_on_this_page_only(
    client, db, settings, create_event, create_registration
):
    embed = "https://player.example.com/embed/123?x=1"
    event = await load_event(db, await create_event(**on_now(stream_url="", embed_url=embed)))
    await join(client, settings, event, await create_registration(event.id))
    page = await client.get(f"/events/{event.slug}/watch")
    assert '<iframe id="stream" src="https://player.example.com/embed/123?x=1"' in page.text
    assert "frame-src https://player.example.com" in page.headers["content-security-policy"]
    assert "hls.min.js" not in page.text
    assert "frame-src 'none'" in (await client.get(f"/events/{event.slug}")).headers["content-security-policy"]


async def test_logout_ends_the_session_and_a_replayed_cookie_gets_the_login_page(
    client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    old_cookie = client.cookies.get(COOKIE_NAME)
    page = await client.get(f"/events/{event.slug}/watch")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post(f"/events/{event.slug}/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"].endswith(f"/events/{event.slug}?signed_out=1")
    assert "Max-Age=0" in response.headers["set-cookie"]
    told = await client.get(response.headers["location"])
    assert 'id="signed-out"' in told.text and "You are signed out." in told.text
    assert 'id="signed-out"' not in (await client.get(f"/events/{event.slug}")).text
    [row] = await attendee_sessions(db, reg)
    assert row["revoked_at"] is not None
    client.cookies.set(COOKIE_NAME, old_cookie)
    replay = await client.get(f"/events/{event.slug}/watch")
    assert replay.status_code == 303 and replay.headers["location"].endswith(f"/events/{event.slug}/login")


async def test_the_stream_page_is_rendered_once_but_each_attendee_gets_their_own_token_and_edits_show_at_once(
    app, client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now()))
    first, second = await create_registration(event.id), await create_registration(event.id)
    pages = {}
    for reg in (first, second):
        client.cookies.clear()
        await join(client, settings, event, reg)
        page = (await client.get(f"/events/{event.slug}/watch")).text
        pages[reg] = (client.cookies.get(COOKIE_NAME), page, csrf_from(page))
    (cookie_1, page_1, token_1), (_cookie_2, page_2, token_2) = pages[first], pages[second]
    assert token_1 != token_2 and app.state.pages.placeholder not in page_1 + page_2
    assert page_1.replace(token_1, "T") == page_2.replace(token_2, "T")  # the same page, each with their own token
    # Another attendee's token is refused: the second browser cannot log out with the first one's.
    assert (await client.post(f"/events/{event.slug}/logout", data={"csrf_token": token_1})).status_code == 403
    async with db.connection() as conn:
        edit = events.update().where(events.c.id == event.id).values(title="Ediția a doua", updated_at=now())
        await conn.execute(edit)
    client.cookies.set(COOKIE_NAME, cookie_1)
    edited = await client.get(f"/events/{event.slug}/watch")
    assert "<h1>Ediția a doua</h1>" in edited.text and csrf_from(edited.text) == token_1
    romanian = await client.get(f"/events/{event.slug}/watch?lang=ro")
    assert '<html lang="ro">' in romanian.text and "Deconectare" in romanian.text
    assert '<html lang="en">' in edited.text and "Deconectare" not in edited.text
    response = await client.post(f"/events/{event.slug}/logout", data={"csrf_token": csrf_from(romanian.text)})
    assert response.status_code == 303


async def test_logout_without_csrf_token_is_refused(client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    assert (await client.post(f"/events/{event.slug}/logout", data={})).status_code == 403
    [row] = await attendee_sessions(db, reg)
    assert row["revoked_at"] is None


async def _password_event(db, create_event, create_registration) -> tuple:
    event = await load_event(db, await create_event(**on_now(login="link_and_password")))
    reg = await create_registration(event.id, email="Ana.Pop@Example.org", password_hash=await hash_password(PASSWORD))
    return event, reg


async def test_login_with_password(client, db, create_event, create_registration):
    event, reg = await _password_event(db, create_event, create_registration)
    token = await csrf_for(client, f"/events/{event.slug}/login")
    response = await client.post(
        f"/events/{event.slug}/login", data={"email": "ana.pop@example.org", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303 and response.headers["location"].endswith("/watch")
    assert len(await attendee_sessions(db, reg)) == 1
    assert "<video" in (await client.get(f"/events/{event.slug}/watch")).text


async def test_wrong_password_and_unknown_address_get_the_same_answer(client, db, create_event, create_registration):
    event, reg = await _password_event(db, create_event, create_registration)
    token = await csrf_for(client, f"/events/{event.slug}/login")
    answers = []
    for email, password in (("ana.pop@example.org", "wrong-password"), ("nobody@example.org", PASSWORD)):
        response = await client.post(
            f"/events/{event.slug}/login", data={"email": email, "password": password, "csrf_token": token}
        )
        answers.append((response.status_code, response.text.replace(email, "")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400 and "Wrong e-mail address or password." in answers[0][1]
    assert await attendee_sessions(db, reg) == []


async def test_password_login_is_not_offered_for_link_only_events(client, db, create_event):
    event = await load_event(db, await create_event(**on_now(login="link")))
    page = await client.get(f"/events/{event.slug}/login")
    assert 'name="password"' not in page.text and "E-mail me my join link" in page.text
    token = await csrf_for(client, f"/events/{event.slug}/login")
    response = await client.post(
        f"/events/{event.slug}/login", data={"email": "a@example.org", "password": "x" * 10, "csrf_token": token}
    )
    assert response.status_code == 404


async def test_login_is_rate_limited(client, db, create_event, create_registration):
    event, _reg = await _password_event(db, create_event, create_registration)
    token = await csrf_for(client, f"/events/{event.slug}/login")
    data = {"email": "ana.pop@example.org", "password": "wrong-password", "csrf_token": token}
    statuses = [(await client.post(f"/events/{event.slug}/login", data=data)).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]  # failures only, then a growing delay (web/logins.py)
    response = await client.post(f"/events/{event.slug}/login", data={**data, "password": PASSWORD})
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0


async def test_send_link_gives_the_same_answer_and_mails_only_approved_registrants(
    client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now()))
    approved = await create_registration(event.id, email="ioana@example.org")
    await create_registration(event.id, email="pending@example.org", status="pending")
    token = await csrf_for(client, f"/events/{event.slug}/login")
    answers = []
    for email in ("IOANA@example.org", "nobody@example.org", "pending@example.org"):
        response = await client.post(f"/events/{event.slug}/send-link", data={"email": email, "csrf_token": token})
        answers.append((response.status_code, response.headers["location"]))
    assert len(set(answers)) == 1 and answers[0][0] == 303 and answers[0][1].endswith("/login?sent=1")
    [mail] = await outbox_rows(db, settings)
    assert mail["to_address"] == "ioana@example.org" and mail["registration_id"] == approved
    assert mail["kind"] == "join_link"
    assert join_path(settings, event, approved) in mail["body_text"]
    page = await client.get(answers[0][1])
    assert "If this address is registered" in page.text


async def test_send_link_with_a_bad_address_is_a_422_and_sends_nothing(client, db, create_event):
    event = await load_event(db, await create_event(**on_now()))
    token = await csrf_for(client, f"/events/{event.slug}/login")
    response = await client.post(
        f"/events/{event.slug}/send-link", data={"email": "not an address", "csrf_token": token}
    )
    assert response.status_code == 422 and "Enter a valid e-mail address." in response.text
    assert await outbox_rows(db) == []


async def test_send_link_is_rate_limited(client, db, create_event, create_registration, monkeypatch):
    MovedClock(monkeypatch).to(now())  # the six requests in one window of the limit, whenever the test runs
    event = await load_event(db, await create_event(**on_now()))
    await create_registration(event.id, email="ioana@example.org")
    token = await csrf_for(client, f"/events/{event.slug}/login")
    data = {"email": "ioana@example.org", "csrf_token": token}
    statuses = [(await client.post(f"/events/{event.slug}/send-link", data=data)).status_code for _ in range(6)]
    assert statuses == [303] * 5 + [429]
    assert len(await outbox_rows(db)) == 5
    response = await client.post(f"/events/{event.slug}/send-link", data=data)
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0


async def test_staff_session_is_not_an_attendee_session(client, db, create_event, create_staff):
    from tests.conftest import login_staff

    event = await load_event(db, await create_event(**on_now()))
    user = await create_staff("operator")
    await login_staff(client, user.email)
    response = await client.get(f"/events/{event.slug}/watch")
    assert response.status_code == 303


async def test_attendee_session_rows_store_no_raw_id(client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    raw = client.cookies.get(COOKIE_NAME)
    async with db.connection() as conn:
        hashes = [r[0] for r in await conn.fetch_all(sa.select(web_sessions.c.id_hash))]
    assert all(raw.split(".")[0] not in h for h in hashes)


async def test_stream_page_assets_are_served_with_the_hls_license_beside_them(client) -> None:
    for path in ("/static/js/watch.js", "/static/js/countdown.js", "/static/vendor/hls/hls.min.js"):
        assert (await client.get(path)).status_code == 200, path
    license_text = (await client.get("/static/vendor/hls/LICENSE")).text
    assert "Copyright" in license_text


# The join link and the stream page read their event and attendee in one query each (access/queries.py).


async def test_a_session_idle_too_long_gets_the_login_page_and_a_fresh_one_is_touched(
    client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    quiet = now() - dt.timedelta(minutes=5)  # past sessions.TOUCH_EVERY, within the idle limit
    async with db.transaction() as conn:
        await conn.execute(web_sessions.update().values(last_seen_at=quiet))
    assert (await client.get(f"/events/{event.slug}/watch")).status_code == 200
    [row] = await attendee_sessions(db, reg)
    assert row["last_seen_at"] > quiet + dt.timedelta(minutes=4)  # the page view was recorded
    idle = now() - dt.timedelta(minutes=settings.session_idle_minutes + 1)
    async with db.transaction() as conn:
        await conn.execute(web_sessions.update().values(last_seen_at=idle))
    page = await client.get(f"/events/{event.slug}/watch")
    assert page.status_code == 303 and page.headers["location"].endswith(f"/events/{event.slug}/login")


async def test_another_events_session_does_not_open_this_stream(
    client, db, settings, create_event, create_registration
):
    first = await load_event(db, await create_event(slug="first", **on_now()))
    second = await load_event(db, await create_event(slug="second", **on_now()))
    await join(client, settings, first, await create_registration(first.id))
    page = await client.get(f"/events/{second.slug}/watch")
    assert page.status_code == 303 and page.headers["location"].endswith("/events/second/login")
    foreign = await client.get(join_path(settings, second, await create_registration(first.id, email="x@example.org")))
    assert foreign.status_code == 400


async def test_join_link_and_stream_page_of_a_purged_event_are_404(
    client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    async with db.transaction() as conn:
        await conn.execute(sa.update(events).where(events.c.id == event.id).values(purged_at=now()))
    assert (await client.get(f"/events/{event.slug}/watch")).status_code == 404
    assert (await client.get(join_path(settings, event, reg))).status_code == 404
    client.cookies.clear()  # a browser without a session takes the one-statement way on PostgreSQL
    assert (await client.get(join_path(settings, event, reg))).status_code == 404
    assert len(await attendee_sessions(db, reg)) == 1  # only the one from before the purge
    token = join_path(settings, event, reg).rsplit("/", 1)[1]
    assert (await client.get(f"/events/nope/join/{token}")).status_code == 404


async def test_a_password_is_set_on_me_after_a_join_link_and_then_signs_in(
    client, db, settings, create_event, create_registration
):
    event = await load_event(db, await create_event(**on_now(login="link_and_password")))
    reg = await create_registration(event.id, email="ana.pop@example.org")
    token = await csrf_for(client, f"/events/{event.slug}/login")
    assert (await client.post(f"/events/{event.slug}/me/password", data={"csrf_token": token})).status_code == 303
    await join(client, settings, event, reg)
    page = await client.get(f"/events/{event.slug}/me")
    assert 'id="new-password"' in page.text
    token = csrf_from(page.text)
    for typed, again, message in (
        ("short", "short", "A password needs 8 to 128 characters."),
        ("long enough one", "another one", "The two passwords are not the same."),
        ("bad\x07password", "bad\x07password", "This contains characters that are not allowed."),
    ):
        bad = await client.post(
            f"/events/{event.slug}/me/password", data={"password": typed, "password_again": again, "csrf_token": token}
        )
        assert bad.status_code == 422 and message in bad.text and typed not in bad.text
        async with db.connection() as conn:
            assert await conn.fetch_val(sa.select(registrations.c.password_hash)) is None  # nothing stored
    ok = await client.post(
        f"/events/{event.slug}/me/password",
        data={"password": PASSWORD, "password_again": PASSWORD, "csrf_token": token},
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("/me?saved=password")
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as other:
        token = await csrf_for(other, f"/events/{event.slug}/login")
        login = await other.post(
            f"/events/{event.slug}/login",
            data={"email": "ana.pop@example.org", "password": PASSWORD, "csrf_token": token},
        )
        assert login.status_code == 303 and login.headers["location"].endswith("/watch")


async def test_link_only_events_offer_no_password_on_me(client, db, settings, create_event, create_registration):
    event = await load_event(db, await create_event(**on_now()))
    reg = await create_registration(event.id)
    await join(client, settings, event, reg)
    page = await client.get(f"/events/{event.slug}/me")
    assert 'id="new-password"' not in page.text
    data = {"password": PASSWORD, "password_again": PASSWORD, "csrf_token": csrf_from(page.text)}
    assert (await client.post(f"/events/{event.slug}/me/password", data=data)).status_code == 404
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(registrations.c.password_hash)) is None
