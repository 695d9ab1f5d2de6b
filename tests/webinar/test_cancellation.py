"""Cancellation by the attendee through the real app: from /me and from the link in their e-mails; what it ends, what
it frees, what it sends; and every bad attempt (tampered, expired, reused, another's, twice) changes nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import sqlalchemy as sa

from tests.admin.helpers import audit_entries
from tests.conftest import csrf_for, csrf_from
from tests.webinar.access_helpers import join, join_path, load_event, on_now
from tests.webinar.privacy_helpers import register, register_and_join, registration
from tests.webinar.regutil import open_form, outbox_rows, person, registration_rows
from webinar.clock import now
from webinar.db import DB
from webinar.events.queries import Event
from webinar.links.tokens import CANCEL, JOIN, make_token
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.tables import audit_log, consent_records, outbox, viewing_sessions, web_sessions
from webinar.web.cookies import COOKIE_NAME

CANCEL_RE = re.compile(r"http://testserver(/events/[\w-]+/cancel/[\w.\-]+)")


def cancel_path(
    settings: Settings, event: Event, reg_id: int, version: int = 1, expires: dt.datetime | None = None, purpose=CANCEL
) -> str:
    """The cancel link of a registration, as its e-mails carry it (or a forged variant of it)."""
    token = make_token(str(settings.secret_key), purpose, reg_id, version, expires or event.ends_at)
    return f"/events/{event.slug}/cancel/{token}"


async def _snapshot(db: DB) -> tuple[list[dict[str, Any]], int, int]:
    """Everything a refused cancellation must leave alone: the registrations, the outbox, the audit log."""
    async with db.connection() as conn:
        mails = int(await conn.fetch_val(sa.select(sa.func.count()).select_from(outbox)))
        audits = int(await conn.fetch_val(sa.select(sa.func.count()).select_from(audit_log)))
    return [dict(r._mapping) for r in await registration_rows(db)], mails, audits


async def _live_sessions(db: DB, reg_id: int) -> int:
    async with db.connection() as conn:
        query = sa.select(sa.func.count()).where(
            web_sessions.c.registration_id == reg_id, web_sessions.c.revoked_at.is_(None)
        )
        return int(await conn.fetch_val(query))


async def test_cancelling_from_me_ends_everything_frees_the_seat_and_acknowledges(
    client: httpx.AsyncClient, create_event, create_registration, create_viewing_session, db: DB, settings,
    smtp_server, smtp_settings, operator_client,
) -> None:  # fmt: skip
    event_id = await create_event(slug="me-cancel", capacity=1, waitlist=True, **on_now())
    event, reg = await register_and_join(client, db, settings, event_id, email="ana@example.org")
    waiting = await create_registration(event_id, email="next@example.org", status="waitlisted", language="en")
    viewing = await create_viewing_session(event_id, reg, now() - dt.timedelta(minutes=5))
    me = await client.get(f"/events/{event.slug}/me")
    assert 'id="cancel-registration"' in me.text
    form = await client.get(f"/events/{event.slug}/me/cancel")
    assert form.status_code == 200 and "Cancel my registration now" in form.text
    response = await client.post(f"/events/{event.slug}/me/cancel", data={"csrf_token": csrf_from(form.text)})
    assert response.status_code == 303 and response.headers["location"].endswith(f"/events/{event.slug}/cancelled")
    assert "is cancelled" in (await client.get(response.headers["location"])).text
    row = await registration(db, reg)
    assert row["status"] == "cancelled" and row["token_version"] == 2 and row["email"] == "ana@example.org"
    assert await _live_sessions(db, reg) == 0
    async with db.connection() as conn:
        ended = await conn.fetch_one(viewing_sessions.select().where(viewing_sessions.c.id == viewing))
    assert ended["ended_at"] is not None and ended["end_reason"] == "logout"
    assert (await client.get(f"/events/{event.slug}/me")).status_code == 303  # signed out
    assert (await client.get(join_path(settings, event, reg))).status_code == 400  # the join link is revoked
    assert (await registration(db, waiting))["status"] == "approved"  # the seat went to the next in line
    [entry] = await audit_entries(db, "registration.cancelled")
    assert (entry["from"], entry["via"], entry["_actor"]) == ("approved", "me", "attendee")
    await deliver_due(smtp_settings, db, compose_queued)
    by_kind = {m.message["Subject"].split(":")[0]: m for m in smtp_server.messages}
    ack = by_kind["Your registration is cancelled"]
    assert ack.rcpt_tos == ["ana@example.org"] and "no longer works" in ack.message.get_body(("plain",)).get_content()
    assert by_kind["A seat is yours"].rcpt_tos == ["next@example.org"]
    http = await operator_client()
    listed = await http.get(f"/admin/events/{event_id}/registrants", params={"status": "cancelled"})
    assert "ana@example.org" in listed.text and "next@example.org" not in listed.text


async def test_cancelling_twice_from_me_says_it_is_done_and_changes_nothing(
    client: httpx.AsyncClient, create_event, db: DB, settings
) -> None:
    event, reg = await register_and_join(client, db, settings, await create_event(slug="twice", capacity=5))
    old_cookie = client.cookies.get(COOKIE_NAME)
    token = await csrf_for(client, f"/events/{event.slug}/me/cancel")
    assert (await client.post(f"/events/{event.slug}/me/cancel", data={"csrf_token": token})).status_code == 303
    before = await _snapshot(db)
    client.cookies.set(COOKIE_NAME, old_cookie)  # a double-click: the second POST carries the old cookie and token
    again = await client.post(f"/events/{event.slug}/me/cancel", data={"csrf_token": token})
    assert again.status_code == 303 and again.headers["location"].endswith("/cancelled")
    assert await _snapshot(db) == before
    assert (await registration(db, reg))["status"] == "cancelled"


async def test_me_cancel_needs_a_session_and_csrf_and_touches_only_the_signed_in_registration(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, settings
) -> None:
    event_id = await create_event(slug="mine")
    other = await create_registration(event_id, email="other@example.org")
    event = await load_event(db, event_id)
    token = await csrf_for(client, f"/events/{event.slug}/login")
    before = await _snapshot(db)
    anonymous = await client.post(f"/events/{event.slug}/me/cancel", data={"csrf_token": token, "id": str(other)})
    assert anonymous.status_code == 303 and anonymous.headers["location"].endswith("/login")
    assert (await client.get(f"/events/{event.slug}/me/cancel")).status_code == 303
    assert await _snapshot(db) == before
    mine = await create_registration(event_id, email="mine@example.org")
    await join(client, settings, event, mine)
    no_csrf = await client.post(f"/events/{event.slug}/me/cancel", data={"id": str(other)})
    assert no_csrf.status_code == 403
    token = await csrf_for(client, f"/events/{event.slug}/me/cancel")
    await client.post(f"/events/{event.slug}/me/cancel", data={"csrf_token": token, "id": str(other)})
    assert (await registration(db, mine))["status"] == "cancelled"
    assert (await registration(db, other))["status"] == "approved"


async def test_the_link_in_the_confirmation_shows_a_button_and_only_its_post_cancels(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    event_id = await create_event(slug="by-link")
    event = await load_event(db, event_id)
    reg = await register(client, db, event)
    await deliver_due(smtp_settings, db, compose_queued)
    [confirmation] = smtp_server.messages
    text = confirmation.message.get_body(("plain",)).get_content()
    html = confirmation.message.get_body(("html",)).get_content()
    path = CANCEL_RE.search(text).group(1)
    assert path in html
    page = await client.get(path)
    assert page.status_code == 200 and 'id="confirm-cancel"' in page.text and 'method="post"' in page.text
    assert (await registration(db, reg))["status"] == "approved"  # a GET (a mail scanner) changes nothing
    before = await _snapshot(db)
    assert (await client.post(path, data={})).status_code == 403  # no CSRF token
    assert await _snapshot(db) == before
    done = await client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200 and "is cancelled" in done.text
    assert (await registration(db, reg))["status"] == "cancelled"
    [entry] = await audit_entries(db, "registration.cancelled")
    assert entry["via"] == "link"
    after = await _snapshot(db)
    reused = await client.get(path)
    assert reused.status_code == 200 and "already cancelled" in reused.text and 'id="confirm-cancel"' not in reused.text
    again = await client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 200 and "already cancelled" in again.text
    assert await _snapshot(db) == after


async def test_tampered_expired_foreign_and_wrong_purpose_links_give_a_clear_page_and_change_nothing(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, settings
) -> None:
    event = await load_event(db, await create_event(slug="links"))
    elsewhere = await load_event(db, await create_event(slug="elsewhere"))
    reg = await create_registration(event.id)
    good = cancel_path(settings, event, reg)
    bad = [
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),  # tampered signature
        cancel_path(settings, event, reg, expires=now() - dt.timedelta(minutes=1)),  # expired
        cancel_path(settings, event, reg, version=2),  # a version it never had
        cancel_path(settings, event, reg, purpose=JOIN),  # a join token is no cancel token
        cancel_path(settings, elsewhere, reg),  # this registration's link at another event's address
        f"/events/{event.slug}/cancel/not-a-token",
    ]
    before = await _snapshot(db)
    token = await csrf_for(client, f"/events/{event.slug}/login")
    for path in bad:
        page = await client.get(path)
        assert page.status_code == 400 and "cannot be used" in page.text and 'id="confirm-cancel"' not in page.text, (
            path
        )
        posted = await client.post(path, data={"csrf_token": token})
        assert posted.status_code == 400 and "Nothing has changed" in posted.text, path
    assert await _snapshot(db) == before
    assert (await client.get(good)).status_code == 200


async def test_a_rejected_registration_cannot_be_cancelled_and_an_ended_event_says_it_is_over(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, settings
) -> None:
    event = await load_event(db, await create_event(slug="refused"))
    rejected = await create_registration(event.id, status="rejected")
    assert (await client.get(cancel_path(settings, event, rejected))).status_code == 400
    start = now() - dt.timedelta(hours=3)
    past = await load_event(db, await create_event(slug="past", starts_at=start, ends_at=start + dt.timedelta(hours=1)))
    attendee = await create_registration(past.id)
    await join(client, settings, past, attendee)
    assert 'id="cancel-registration"' not in (await client.get(f"/events/{past.slug}/me")).text
    before = await _snapshot(db)
    token = await csrf_for(client, f"/events/{past.slug}/me")
    over = await client.post(f"/events/{past.slug}/me/cancel", data={"csrf_token": token})
    assert over.status_code == 409 and "This event is over" in over.text
    assert await _snapshot(db) == before


async def test_a_pending_cancellation_promotes_to_pending_and_a_waitlisted_one_frees_no_seat(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, settings
) -> None:
    event = await load_event(db, await create_event(slug="manual", capacity=1, waitlist=True, approval="manual"))
    holder = await create_registration(event.id, status="pending")
    first = await create_registration(event.id, status="waitlisted")
    second = await create_registration(event.id, status="waitlisted")
    third = await create_registration(event.id, status="waitlisted")
    token = await csrf_for(client, f"/events/{event.slug}/login")
    await client.post(cancel_path(settings, event, second), data={"csrf_token": token})  # leaves the line
    assert [(await registration(db, r))["status"] for r in (holder, first, second, third)] == [
        "pending", "waitlisted", "cancelled", "waitlisted",
    ]  # fmt: skip
    await client.post(cancel_path(settings, event, holder), data={"csrf_token": token})
    assert [(await registration(db, r))["status"] for r in (holder, first, third)] == [
        "cancelled", "pending", "waitlisted",
    ]  # fmt: skip
    mails = [(m["registration_id"], m["kind"]) for m in await outbox_rows(db, settings)]
    assert mails == [(second, "cancelled"), (holder, "cancelled"), (first, "promoted")]
    [promoted] = [m for m in await outbox_rows(db) if m["kind"] == "promoted"]
    assert promoted["ics"] is None  # pending: no join link, no calendar invitation yet


async def test_the_acknowledgement_is_in_the_registrants_language(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, settings
) -> None:
    event = await load_event(db, await create_event(slug="limba", language="en"))
    reg = await create_registration(event.id, language="ro", first_name="Ștefan")
    token = await csrf_for(client, f"/events/{event.slug}/login")
    await client.post(cancel_path(settings, event, reg), data={"csrf_token": token})
    [ack] = await outbox_rows(db, settings)
    assert ack["subject"].startswith("Înscrierea dumneavoastră a fost anulată")
    assert "Bună ziua, Ștefan," in ack["body_text"]


async def test_someone_who_cancelled_registers_again_at_the_back_of_the_line(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, settings, smtp_server, smtp_settings
) -> None:
    event = await load_event(db, await create_event(slug="again", capacity=1, waitlist=True))
    ana = await register(client, db, event, email="ana@example.org", first_name="Ana")
    ion = await create_registration(event.id, email="ion@example.org", status="waitlisted")
    token = await csrf_for(client, f"/events/{event.slug}/login")
    await client.post(cancel_path(settings, event, ana), data={"csrf_token": token})
    assert (await registration(db, ion))["status"] == "approved"  # Ion took the freed seat
    maria = await create_registration(event.id, email="maria@example.org", status="waitlisted")

    form = {**await open_form(client, event.slug), **person(email="ANA@example.org", first_name="Ana-Maria")}
    response = await client.post(f"/events/{event.slug}/register", data=form)
    assert response.status_code == 303
    row = await registration(db, ana)  # the same registration, not a second one for the address
    assert (row["status"], row["first_name"], row["token_version"]) == ("waitlisted", "Ana-Maria", 2)
    assert len([r for r in await registration_rows(db) if r.email_normalised == "ana@example.org"]) == 1
    async with db.connection() as conn:
        consents = await conn.fetch_all(consent_records.select().where(consent_records.c.registration_id == ana))
    assert [c["purpose"] for c in consents].count("processing") == 2  # the consent given then and the one now
    [entry] = await audit_entries(db, "registration.registered_again")
    assert entry["status"] == "waitlisted"

    await deliver_due(smtp_settings, db, compose_queued)
    waitlisted = [m for m in smtp_server.messages if "ana@example.org" in m.message["To"].lower()][-1]
    assert "number 2 in line" in waitlisted.message.get_body(("plain",)).get_content()  # behind Maria
    await client.post(cancel_path(settings, event, ion), data={"csrf_token": token})
    assert [(await registration(db, r))["status"] for r in (maria, ana)] == ["approved", "waitlisted"]
    assert (await client.get(join_path(settings, event, ana, version=1))).status_code == 400  # old links stay dead


async def test_a_registration_that_was_not_cancelled_is_not_overwritten_by_a_second_form(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    event = await load_event(db, await create_event(slug="twice"))
    ana = await register(client, db, event, email="ana@example.org", first_name="Ana")
    form = {**await open_form(client, event.slug), **person(email="ana@example.org", first_name="Impostor")}
    assert (await client.post(f"/events/{event.slug}/register", data=form)).status_code == 303
    row = await registration(db, ana)
    assert (row["status"], row["first_name"]) == ("approved", "Ana")
