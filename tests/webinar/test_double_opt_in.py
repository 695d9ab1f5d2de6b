"""Double opt-in (SPEC §15), through the real app and a real SMTP server on both engines: a registration for an event
with `confirm_email` waits `unconfirmed`, its e-mail carries the confirmation link (a GET shows a button, the POST
confirms); unconfirmed ones hold a seat but are not registered in the counts or the registered report, cannot join,
and lapse after 24 hours, giving their seat to the waiting list."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from tests.conftest import csrf_from
from tests.webinar.moved_clock import MovedClock
from tests.webinar.regutil import open_form, outbox_rows, person, registration_rows
from webinar.db import DB
from webinar.events import queries as event_queries
from webinar.mail.sender import deliver_due
from webinar.registration import confirm
from webinar.registration.notifications import compose_queued

CONFIRM_RE = re.compile(r"http://testserver(/events/[\w-]+/confirm/[\w.\-]+)")
JOIN_RE = re.compile(r"http://testserver/events/[\w-]+/join/[\w.\-]+")


async def _register(client: httpx.AsyncClient, slug: str, email: str = "ana@example.org") -> httpx.Response:
    hidden = await open_form(client, slug)
    return await client.post(f"/events/{slug}/register", data={**person(email=email), **hidden})


async def _confirm_path(db: DB, smtp_settings, smtp_server, n: int = 1) -> str:
    await deliver_due(smtp_settings, db, compose_queued)
    text = smtp_server.messages[n - 1].message.get_body(("plain",)).get_content()
    match = CONFIRM_RE.search(text)
    assert match, text
    assert not JOIN_RE.search(text)  # no join link before the address is confirmed
    return match.group(1)


async def _status(db: DB, email: str = "ana@example.org") -> str:
    return next(r["status"] for r in await registration_rows(db) if r["email"] == email)


@pytest.mark.parametrize("approval, after", [("auto", "approved"), ("manual", "pending")])
async def test_a_registration_waits_for_its_link_then_gets_its_status_and_e_mail(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings, approval: str, after: str
) -> None:
    event_id = await create_event(slug="optin", confirm_email=True, approval=approval)
    response = await _register(client, "optin")
    assert response.status_code == 303 and response.headers["location"].endswith("/events/optin/registered")
    assert await _status(db) == "unconfirmed"
    path = await _confirm_path(db, smtp_settings, smtp_server)
    assert "Confirm your registration" in smtp_server.messages[0].message["Subject"]
    async with db.connection() as conn:
        counts = await event_queries.registration_counts(conn, event_id)
    assert (counts.registered, counts.approved, counts.pending, counts.unconfirmed) == (0, 0, 0, 1)

    page = await client.get(path)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and 'id="confirm-registration"' in page.text
    assert await _status(db) == "unconfirmed"
    done = await client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200 and 'id="confirmed"' in done.text
    assert await _status(db) == after
    await deliver_due(smtp_settings, db, compose_queued)
    second = smtp_server.messages[1].message.get_body(("plain",)).get_content()
    assert bool(JOIN_RE.search(second)) is (after == "approved")  # the join link comes with the approval
    again = await client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert "already confirmed" in again.text and len(await outbox_rows(db)) == 2


async def test_unconfirmed_registrations_are_not_exported_as_registered_and_cannot_join(
    client: httpx.AsyncClient, create_event, db: DB, settings, operator_client
) -> None:
    event_id = await create_event(slug="optin-report", confirm_email=True)
    await _register(client, "optin-report", "waiting@example.org")
    staff = await operator_client()
    report = await staff.get(f"/admin/events/{event_id}/reports/registered.csv")
    assert report.status_code == 200 and "waiting@example.org" not in report.text
    page = await staff.get(f"/admin/events/{event_id}")
    assert page.status_code == 200 and 'id="count-unconfirmed"' in page.text
    from tests.webinar.access_helpers import join_path, load_event

    [reg] = await registration_rows(db)
    event = await load_event(db, event_id)
    join = await client.get(join_path(settings, event, reg["id"]))
    assert join.status_code == 403  # a join link, had it leaked, does not let an unconfirmed registration in
    watch = await client.get("/events/optin-report/watch")
    assert watch.status_code == 303 and watch.headers["location"].endswith("/events/optin-report/login")


async def test_unconfirmed_hold_a_seat_for_24_hours_then_lapse_and_the_waiting_list_moves(
    client: httpx.AsyncClient, create_event, db: DB, settings, monkeypatch, smtp_server, smtp_settings
) -> None:
    await create_event(slug="optin-full", confirm_email=True, capacity=1, waitlist=True)
    await _register(client, "optin-full", "first@example.org")
    await _register(client, "optin-full", "second@example.org")
    assert await _status(db, "first@example.org") == "unconfirmed"
    assert await _status(db, "second@example.org") == "waitlisted"  # the unconfirmed one holds the seat
    path = await _confirm_path(db, smtp_settings, smtp_server)
    assert await confirm.lapse_due(db, settings) == 0
    clock = MovedClock(monkeypatch)
    clock.forward(dt.timedelta(hours=24, minutes=1))
    assert await confirm.lapse_due(db, settings) == 1
    assert await _status(db, "first@example.org") == "cancelled"
    assert await _status(db, "second@example.org") == "approved"  # promoted into the freed seat
    page = await client.get(path)
    assert page.status_code == 400 and "has lapsed" in page.text
    assert await confirm.lapse_due(db, settings) == 0


async def test_registering_again_while_unconfirmed_sends_the_link_again(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    await create_event(slug="optin-again", confirm_email=True)
    await _register(client, "optin-again")
    again = await _register(client, "optin-again")
    assert again.status_code == 303 and len(await registration_rows(db)) == 1
    assert [m["kind"] for m in await outbox_rows(db)] == ["confirm_registration"]  # not twice within 10 minutes
    assert (await _confirm_path(db, smtp_settings, smtp_server)).startswith("/events/optin-again/confirm/")


@pytest.mark.parametrize("token", ["nonsense", "eyJmb3JnZWQiOjF9.AAAA"])
async def test_a_forged_confirmation_link_is_refused_clearly(client, create_event, db: DB, token: str) -> None:
    await create_event(slug="optin-forged", confirm_email=True)
    await _register(client, "optin-forged")
    page = await client.get(f"/events/optin-forged/confirm/{token}")
    assert page.status_code == 400 and "cannot be used" in page.text and "<form" not in page.text.split("<main")[-1]
    csrf = csrf_from((await client.get("/events/optin-forged")).text)
    response = await client.post(f"/events/optin-forged/confirm/{token}", data={"csrf_token": csrf})
    assert response.status_code == 400 and await _status(db) == "unconfirmed"


async def test_without_double_opt_in_nothing_changes(client: httpx.AsyncClient, create_event, db: DB) -> None:
    await create_event(slug="no-optin")
    await _register(client, "no-optin")
    assert await _status(db) == "approved"
    assert [m["kind"] for m in await outbox_rows(db)] == ["confirmation"]
