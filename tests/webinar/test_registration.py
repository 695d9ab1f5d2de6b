"""Registering for an event: the form, every rule of SPEC §3.2, proof of consent and the first e-mail."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata

import httpx
import pytest
import sqlalchemy as sa

from tests.webinar.regutil import counts, open_form, outbox_rows, person, registration_rows
from webinar.clock import now
from webinar.db import DB
from webinar.events.services import DEFAULT_CONSENT_TEXT
from webinar.settings import Settings
from webinar.tables import consent_records, events


async def test_event_page_shows_an_accessible_form(client: httpx.AsyncClient, create_event) -> None:
    await create_event(slug="form", field_phone="required", field_member_id="hidden")
    html = (await client.get("/events/form")).text
    assert '<label for="first_name">' in html and '<label for="email">' in html
    assert 'name="phone"' in html and 'name="member_id"' not in html
    assert DEFAULT_CONSENT_TEXT["ro"] in html
    assert 'name="consent_marketing" type="checkbox" value="on">' in html  # not ticked
    assert 'name="website"' in html and 'name="age_confirmed"' in html
    assert 'name="password"' not in html  # login by link only


async def test_auto_approval_registers_with_proof_of_consent_and_a_confirmation(
    client: httpx.AsyncClient, create_event, db: DB, settings: Settings
) -> None:
    await create_event(slug="auto")
    hidden = await open_form(client, "auto")
    response = await client.post(
        "/events/auto/register",
        data={**person(consent_marketing="on"), **hidden},
        headers={"user-agent": "Firefox/Test"},
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("/events/auto/registered")
    page = await client.get(response.headers["location"])
    assert page.status_code == 200 and "join link" in page.text
    [reg] = await registration_rows(db)
    assert reg["status"] == "approved" and reg["email_normalised"] == "stefan.popescu@example.org"
    assert reg["search_text"] == "stefan popescu stefan.popescu@example.org"
    assert reg["marketing_opt_in"] is True and reg["password_hash"] is None
    async with db.connection() as conn:
        records = await conn.fetch_all(consent_records.select().order_by(consent_records.c.id))
    assert [r["purpose"] for r in records] == ["processing", "marketing", "age"]
    processing = records[0]
    assert processing["text_version"] == 1
    assert processing["text_sha256"] == hashlib.sha256(DEFAULT_CONSENT_TEXT["ro"].encode()).hexdigest()
    assert processing["ip"] == "127.0.0.1" and processing["user_agent"] == "Firefox/Test"
    assert abs((processing["recorded_at"] - now()).total_seconds()) < 60
    [queued] = await outbox_rows(db)
    assert queued["subject"] == queued["body_text"] == ""  # the request renders nothing: the sender writes it
    [mail] = await outbox_rows(db, settings)
    assert mail["kind"] == "confirmation" and mail["to_address"] == "stefan.popescu@example.org"
    assert mail["ics"] and "BEGIN:VEVENT" in mail["ics"] and "/events/auto/join/" in mail["body_text"]


async def test_marketing_unticked_records_no_marketing_consent(client: httpx.AsyncClient, create_event, db) -> None:
    await create_event(slug="nomkt", min_age=None)
    hidden = await open_form(client, "nomkt")
    response = await client.post("/events/nomkt/register", data={**person(age_confirmed=None), **hidden})
    assert response.status_code == 303
    async with db.connection() as conn:
        purposes = [r["purpose"] for r in await conn.fetch_all(consent_records.select())]
    assert purposes == ["processing"]


async def test_manual_approval_is_pending_with_a_received_mail_without_join_link(
    client: httpx.AsyncClient, create_event, db: DB, settings: Settings
) -> None:
    await create_event(slug="manual", approval="manual")
    hidden = await open_form(client, "manual")
    assert (await client.post("/events/manual/register", data={**person(), **hidden})).status_code == 303
    [reg] = await registration_rows(db)
    assert reg["status"] == "pending"
    [mail] = await outbox_rows(db, settings)
    assert mail["kind"] == "received" and mail["ics"] is None
    assert "/join/" not in mail["body_text"] and "/join/" not in mail["body_html"]


async def test_cedilla_and_comma_below_names_are_both_accepted_and_stored_nfc(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="diacritics")
    decomposed = unicodedata.normalize("NFD", "Ăna-Maria")
    for first, last, email in [("Ştefan", "Ţăran", "a@example.org"), (decomposed, "Țăran", "b@example.org")]:
        hidden = await open_form(client, "diacritics")
        data = {**person(first_name=first, last_name=last, email=email), **hidden}
        assert (await client.post("/events/diacritics/register", data=data)).status_code == 303
    rows = await registration_rows(db)
    assert [r["first_name"] for r in rows] == ["Ştefan", "Ăna-Maria"]
    assert rows[1]["first_name"] == unicodedata.normalize("NFC", decomposed)
    assert rows[0]["search_text"].startswith("stefan taran")


BAD_INPUT = [
    ("missing consent", {"consent_processing": None}, "consent_processing"),
    ("missing age confirmation", {"age_confirmed": None}, "age_confirmed"),
    ("bad e-mail", {"email": "not-an-address"}, "email"),
    ("255-char e-mail", {"email": "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "c" * 7}, "email"),
    ("101-char name", {"first_name": "Ș" * 101}, "first_name"),
    ("empty name", {"last_name": "   "}, "last_name"),
    ("name with NUL", {"first_name": "Ana\x00"}, "first_name"),
    ("name with a control character", {"last_name": "X\x1bY"}, "last_name"),
    ("name with CR LF", {"last_name": "X\r\nBcc: someone@example.org"}, "last_name"),
    ("phone with letters", {"phone": "+40 72 ABC 1234"}, "phone"),
    ("phone with too few digits", {"phone": "12 34"}, "phone"),
    ("42-char phone (past its column width)", {"phone": "+40" + " 7 " * 12 + " 77"}, "phone"),
    ("missing required event field", {"phone": ""}, "phone"),
    ("201-char organisation", {"organisation": "o" * 201}, "organisation"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
async def test_bad_input_is_422_with_the_message_beside_the_field_and_nothing_stored(
    client: httpx.AsyncClient, create_event, db: DB, case: str, change: dict, field: str
) -> None:
    await create_event(slug="bad", field_phone="required")
    hidden = await open_form(client, "bad")
    data = {**person(phone="+40 (721) 123-456"), **change, **hidden}
    data = {k: v for k, v in data.items() if v is not None}
    response = await client.post("/events/bad/register", data=data)
    assert response.status_code == 422
    html = response.text
    assert f'id="{field}-error"' in html and f'aria-describedby="{field}-error"' in html
    assert f'href="#{field}"' in html  # the error summary links to the field
    assert 'value="Inginer"' in html  # typed values kept
    assert await counts(db) == (0, 0, 0)


async def test_the_form_offers_no_password_and_ignores_one_sent_anyway(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    # Anyone may register with any address: a password set here would be a password for someone else's mailbox
    # (it is set on /me, after a join link: tests/webinar/test_access.py).
    await create_event(slug="pw", login="link_and_password")
    hidden = await open_form(client, "pw")
    page = (await client.get("/events/pw")).text
    assert 'name="password"' not in page and 'id="password-later"' in page
    ok = await client.post("/events/pw/register", data={**person(password="a long passphrase"), **hidden})
    assert ok.status_code == 303
    [reg] = await registration_rows(db)
    assert reg["password_hash"] is None


async def test_password_is_ignored_when_the_event_has_link_login_only(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="nopw", login="link")
    hidden = await open_form(client, "nopw")
    assert (await client.post("/events/nopw/register", data={**person(password="x"), **hidden})).status_code == 303
    [reg] = await registration_rows(db)
    assert reg["password_hash"] is None


async def test_missing_csrf_token_is_403_and_nothing_stored(client: httpx.AsyncClient, create_event, db: DB) -> None:
    await create_event(slug="csrf")
    hidden = await open_form(client, "csrf")
    response = await client.post(
        "/events/csrf/register", data={**person(), "consent_version": hidden["consent_version"]}
    )
    assert response.status_code == 403
    assert await counts(db) == (0, 0, 0)


async def test_honeypot_answers_like_success_and_stores_nothing(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="bot")
    hidden = await open_form(client, "bot")
    response = await client.post("/events/bot/register", data={**person(website="http://spam.example"), **hidden})
    assert response.status_code == 303 and response.headers["location"].endswith("/events/bot/registered")
    assert await counts(db) == (0, 0, 0)


async def test_already_registered_gets_the_same_answer_one_row_and_one_notice(
    client: httpx.AsyncClient, create_event, db: DB, settings: Settings
) -> None:
    await create_event(slug="dup")
    hidden = await open_form(client, "dup")
    first = await client.post("/events/dup/register", data={**person(), **hidden})
    again = await client.post("/events/dup/register", data={**person(email="Stefan.POPESCU@example.org"), **hidden})
    third = await client.post("/events/dup/register", data={**person(), **hidden})
    assert first.status_code == again.status_code == third.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert len(await registration_rows(db)) == 1
    kinds = [m["kind"] for m in await outbox_rows(db)]
    assert kinds == ["confirmation", "already_registered"]  # the third attempt within 10 minutes sends nothing
    notice = (await outbox_rows(db, settings))[1]
    assert notice["to_address"] == "stefan.popescu@example.org" and "/events/dup/join/" in notice["body_text"]


async def test_already_registered_pending_notice_tells_the_status_without_a_link(
    client: httpx.AsyncClient, create_event, db: DB, settings: Settings
) -> None:
    await create_event(slug="duppending", approval="manual")
    hidden = await open_form(client, "duppending")
    for _ in range(2):
        assert (await client.post("/events/duppending/register", data={**person(), **hidden})).status_code == 303
    notice = (await outbox_rows(db, settings))[1]
    assert notice["kind"] == "already_registered"
    assert "/join/" not in notice["body_text"] and "approval" in notice["body_text"]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"registration_opens_at": now() + dt.timedelta(days=1)}, "Registration opens on"),
        ({"registration_closes_at": now() - dt.timedelta(minutes=1)}, "Registration for this event is closed"),
        (
            {"starts_at": now() - dt.timedelta(hours=3), "ends_at": now() - dt.timedelta(hours=1)},
            "This event is over",
        ),
    ],
    ids=["not-yet-open", "closed", "over"],
)
async def test_outside_the_window_the_page_says_so_and_a_post_is_409(
    client: httpx.AsyncClient, create_event, db: DB, window: dict, message: str
) -> None:
    await create_event(slug="window", language="en", **window)
    page = await client.get("/events/window")
    assert page.status_code == 200 and message in page.text and 'name="first_name"' not in page.text
    token = await _token(client)
    response = await client.post(
        "/events/window/register", data={**person(), "csrf_token": token, "consent_version": "1"}
    )
    assert response.status_code == 409 and message in response.text
    assert await counts(db) == (0, 0, 0)


async def _token(client: httpx.AsyncClient) -> str:
    from tests.conftest import csrf_for

    return await csrf_for(client, "/admin/login")


async def test_full_event_says_so_and_refuses_more(
    client: httpx.AsyncClient, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event(slug="full", capacity=2, language="en")
    await create_registration(event_id, status="approved")
    hidden = await open_form(client, "full")
    assert (await client.post("/events/full/register", data={**person(), **hidden})).status_code == 303
    page = await client.get("/events/full")
    assert "This event is full" in page.text and 'name="first_name"' not in page.text
    late = await client.post("/events/full/register", data={**person(email="late@example.org"), **hidden})
    assert late.status_code == 409 and "This event is full" in late.text
    assert len(await registration_rows(db)) == 2


async def test_rejected_and_cancelled_do_not_hold_seats(
    client: httpx.AsyncClient, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event(slug="seats", capacity=1)
    await create_registration(event_id, status="rejected")
    await create_registration(event_id, status="cancelled")
    hidden = await open_form(client, "seats")
    assert (await client.post("/events/seats/register", data={**person(), **hidden})).status_code == 303


async def test_changed_consent_text_re_shows_the_form_with_the_new_text(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    from webinar.events import queries as event_queries
    from webinar.events import services as event_services
    from webinar.events.services import _add_consent_version

    event_id = await create_event(slug="consent")
    hidden = await open_form(client, "consent")
    async with db.transaction() as conn:
        await _add_consent_version(conn, event_id, "ro", "Textul nou al consimțământului.")
        assert (await event_queries.current_consents(conn, event_id)).of("ro").version == 2
    assert event_services  # the module under test for versions
    response = await client.post("/events/consent/register", data={**person(), **hidden})
    assert response.status_code == 422
    assert "Textul nou al consimțământului." in response.text and 'name="consent_version" value="2"' in response.text
    assert await counts(db) == (0, 0, 0)


async def test_registrations_past_the_soft_threshold_need_a_proof_of_work(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="limit")
    hidden = await open_form(client, "limit")
    for _ in range(20):  # bad forms count too
        response = await client.post("/events/limit/register", data={**person(email="bad"), **hidden})
        assert response.status_code == 422
    response = await client.post("/events/limit/register", data={**person(), **hidden})
    assert response.status_code == 422 and "automatic check" in response.text and "<altcha-widget" in response.text
    assert await counts(db) == (0, 0, 0)


async def test_unknown_event_registration_is_404(client: httpx.AsyncClient) -> None:
    token = await _token(client)
    response = await client.post("/events/nope/register", data={**person(), "csrf_token": token})
    assert response.status_code == 404


async def test_search_text_is_stored_for_accent_free_search(client: httpx.AsyncClient, create_event, db) -> None:
    await create_event(slug="search")
    hidden = await open_form(client, "search")
    data = {**person(first_name="Ioana", last_name="Mureșan", email="IOANA@Example.org"), **hidden}
    assert (await client.post("/events/search/register", data=data)).status_code == 303
    async with db.connection() as conn:
        text = await conn.fetch_val(sa.text("SELECT search_text FROM registrations"))
    assert text == "ioana muresan ioana@example.org"


# The hot path keeps each event's context for a while (registration/batch.py, `Contexts`): each test below
# registers once so that the copy is kept, changes the event behind it, and checks nothing is stored on the copy.


# An event with a capacity never takes the hot path: the general path must not decide on the kept copy either.
@pytest.mark.parametrize("capacity", [None, 10], ids=["hot-path", "general-path"])
async def test_a_closed_window_is_seen_at_once_despite_the_kept_copy(
    client: httpx.AsyncClient, create_event, db: DB, capacity: int | None
) -> None:
    event_id = await create_event(slug="kept-window", language="en", capacity=capacity)
    hidden = await open_form(client, "kept-window")
    assert (await client.post("/events/kept-window/register", data={**person(), **hidden})).status_code == 303
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(events)
            .where(events.c.id == event_id)
            .values(registration_closes_at=now() - dt.timedelta(minutes=1), updated_at=now())
        )
    late = await client.post("/events/kept-window/register", data={**person(email="late@example.org"), **hidden})
    assert late.status_code == 409 and "Registration for this event is closed." in late.text
    assert len(await registration_rows(db)) == 1


async def test_a_purged_event_is_404_despite_the_kept_copy(client: httpx.AsyncClient, create_event, db: DB) -> None:
    event_id = await create_event(slug="kept-purge", language="en")
    hidden = await open_form(client, "kept-purge")
    assert (await client.post("/events/kept-purge/register", data={**person(), **hidden})).status_code == 303
    async with db.transaction() as conn:  # purging does not touch updated_at
        await conn.execute(sa.update(events).where(events.c.id == event_id).values(purged_at=now()))
    late = await client.post("/events/kept-purge/register", data={**person(email="late@example.org"), **hidden})
    assert late.status_code == 404
    assert (await counts(db))[0] == 1


async def test_a_new_consent_text_is_shown_despite_the_kept_copy(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    from webinar.events.services import _add_consent_version

    event_id = await create_event(slug="kept-consent")
    hidden = await open_form(client, "kept-consent")
    assert (await client.post("/events/kept-consent/register", data={**person(), **hidden})).status_code == 303
    async with db.transaction() as conn:  # a new version does not touch the event row
        await _add_consent_version(conn, event_id, "ro", "Al doilea text al consimțământului.")
    late = await client.post("/events/kept-consent/register", data={**person(email="late@example.org"), **hidden})
    assert late.status_code == 422 and 'name="consent_version" value="2"' in late.text
    assert len(await registration_rows(db)) == 1
    again = await client.post(
        "/events/kept-consent/register", data={**person(email="late@example.org"), **hidden, "consent_version": "2"}
    )
    assert again.status_code == 303 and len(await registration_rows(db)) == 2


async def test_each_post_counts_once_against_the_rate_limit(client: httpx.AsyncClient, create_event, db: DB) -> None:
    await create_event(slug="count-once")
    hidden = await open_form(client, "count-once")
    for n in range(20):  # the first new, then repeats (hot path, then the general path), then new ones again
        email = "same@example.org" if n < 10 else f"new{n}@example.org"
        response = await client.post("/events/count-once/register", data={**person(email=email), **hidden})
        assert response.status_code == 303, n
    over = await client.post("/events/count-once/register", data={**person(email="over@example.org"), **hidden})
    assert over.status_code == 422 and "automatic check" in over.text  # the 21st needs a proof of work
    assert len(await registration_rows(db)) == 11


async def test_the_hot_path_registers_on_a_kept_copy_and_refuses_a_stale_one(app, create_event, db: DB) -> None:
    from starlette.datastructures import FormData

    from webinar.clock import now as clock_now
    from webinar.registration import batch, forms, rows
    from webinar.registration.rows import RequestMeta
    from webinar.web.ratelimit import Limit

    event_id = await create_event(slug="hot")
    ctx = await batch.Contexts().get(db, "hot")
    assert ctx is not None and ctx.consents and batch.may_write(ctx.event, ctx.consents)
    consent = ctx.consents.of("ro")
    meta, limit = RequestMeta("10.0.0.1", "test"), Limit("register:test", 20, dt.timedelta(minutes=10), "s" * 32)
    writer = batch.Writer(db)

    async def attempt(email: str) -> str:
        assert ctx is not None and consent is not None
        form = FormData({**person(email=email), "consent_version": str(consent.version)})
        data, errors = forms.parse(form, ctx.event, ctx.consents, ctx.questions)
        assert data is not None, errors
        new = rows.new_registration(app.state.settings, ctx.event, consent, data, meta, "en", clock_now())
        return await writer.write(batch.Submission(new, ctx.event.updated_at, data.consent_version, limit))

    assert await attempt("first@example.org") == batch.REGISTERED  # the copy's updated_at matches the row's
    assert await attempt("first@example.org") == batch.NOT_NEW
    async with db.transaction() as conn:
        await conn.execute(sa.update(events).where(events.c.id == event_id).values(updated_at=now()))
    assert await attempt("second@example.org") == batch.STALE
    assert (await counts(db))[0] == 1


async def test_the_per_address_limit_takes_an_ipv6_64_as_one_address(app, create_event, db: DB) -> None:
    await create_event(slug="six")

    def browser(ip: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 4000)), base_url="http://testserver"
        )

    for n in range(20):  # a host picks any address of its /64: each attempt from another one
        async with browser(f"2001:db8:aa:bb::{n + 1:x}") as http:
            hidden = await open_form(http, "six")
            assert (await http.post("/events/six/register", data={**person(email="bad"), **hidden})).status_code == 422
    async with browser("2001:db8:aa:bb:1234:5678:9abc:def0") as http:
        hidden = await open_form(http, "six")
        over = await http.post("/events/six/register", data={**person(), **hidden})
        assert over.status_code == 422 and "automatic check" in over.text  # the /64's 21st needs a proof of work
    async with browser("2001:db8:aa:bc::1") as http:  # the next /64 is someone else
        hidden = await open_form(http, "six")
        assert (await http.post("/events/six/register", data={**person(), **hidden})).status_code == 303
    assert (await counts(db))[0] == 1
