"""Updates and cancellation of an event, through the real back office over HTTP and a real SMTP server: who is
e-mailed, in which language, and what their calendar gets (same UID, higher SEQUENCE, REQUEST or CANCEL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import icalendar
import pytest
import sqlalchemy as sa

from admin.forms import event_values
from tests.admin.helpers import audit_entries
from tests.conftest import csrf_for, csrf_from, login_staff
from tests.webinar.access_helpers import join, join_path, load_event, on_now, presence_socket, sessions_of
from tests.webinar.moved_clock import MovedClock
from tests.webinar.regutil import counts, open_form, outbox_rows, person, registration_rows
from webinar.clock import now
from webinar.db import DB
from webinar.events import queries as event_queries
from webinar.mail.sender import deliver_due
from webinar.registration import notices
from webinar.registration.notifications import compose_queued
from webinar.tables import outbox, registrations
from webinar.text import normalise_email, search_key


def _on_the_minute(**overrides: Any) -> dict[str, Any]:
    """An event a week ahead at whole minutes, as the event form writes times (a form that shows 10:00 for 10:00:37
    would change the time when saved unchanged)."""
    start = now().replace(second=0, microsecond=0) + dt.timedelta(days=7)
    return {"starts_at": start, "ends_at": start + dt.timedelta(hours=2)} | overrides


def _calendar(received: Any) -> tuple[str, icalendar.Event]:
    """The text/calendar part of a received message: its MIME method and its one VEVENT, parsed."""
    [part] = [p for p in received.message.walk() if p.get_content_type() == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(part.get_content())
    assert calendar["METHOD"] == part.get_param("method")  # the MIME part repeats the calendar's method
    [event] = calendar.walk("VEVENT")
    return part.get_param("method"), event


def _to(smtp_server: Any, address: str) -> list[Any]:
    return [m for m in smtp_server.messages if m.rcpt_tos == [address]]


async def _edit(http: httpx.AsyncClient, db: DB, event_id: int, **changes: Any) -> httpx.Response:
    """POST the event's edit form with its current values and `changes` (times as the form writes them)."""
    event = await load_event(db, event_id)
    async with db.connection() as conn:
        consents = await event_queries.current_consents(conn, event_id)
    values = event_values(event, consents) | changes
    form = {k: ("1" if v is True else str(v)) for k, v in values.items() if v is not False and v is not None}
    token = await csrf_for(http, f"/admin/events/{event_id}/edit")
    return await http.post(f"/admin/events/{event_id}", data={**form, "csrf_token": token})


async def _cancel(http: httpx.AsyncClient, event_id: int, confirm: bool = True) -> httpx.Response:
    token = csrf_from((await http.get(f"/admin/events/{event_id}")).text)
    data = {"csrf_token": token} | ({"confirm": "yes"} if confirm else {})
    return await http.post(f"/admin/events/{event_id}/cancel", data=data)


async def _add(db: DB, event_id: int, n: int, status: str = "approved", language: str = "ro") -> None:
    """`n` registrants in one statement (the factory's row, many times over)."""
    at = now()
    rows = []
    for i in range(n):
        email = f"{status}-{language}-{i}@example.org"
        rows.append(
            {"event_id": event_id, "email": email, "email_normalised": normalise_email(email), "first_name": "Ioana",
             "last_name": "Țepeș", "search_text": search_key("Ioana", "Țepeș", email), "status": status,
             "language": language, "created_at": at, "updated_at": at}
        )  # fmt: skip
    async with db.transaction() as conn:
        await conn.execute(registrations.insert().values(rows))


async def _register(client: httpx.AsyncClient, slug: str, **overrides: str) -> None:
    hidden = await open_form(client, slug)
    response = await client.post(f"/events/{slug}/register", data={**person(**overrides), **hidden})
    assert response.status_code == 303, response.text[:300]


async def test_a_new_time_moves_every_approved_registrants_calendar_entry(
    client: httpx.AsyncClient, create_event, create_registration, db: DB, smtp_server, smtp_settings, operator_client
) -> None:
    event_id = await create_event(slug="muta", title="Curs de cardiologie", language="ro")
    await _register(client, "muta")  # approved, in Romanian: the page's language
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    _, first = _calendar(smtp_server.messages[0])
    assert first["SEQUENCE"] == 0
    english = await create_registration(event_id, email="ann@example.org", first_name="Ann", language="en")
    for status in ("pending", "cancelled", "rejected"):  # (a waitlisted one is in test_cancelling…: with seats)
        await create_registration(event_id, email=f"{status}@example.org", status=status)

    http = await operator_client()
    response = await _edit(http, db, event_id, starts_at="2031-05-06T18:00", ends_at="2031-05-06T20:30")
    assert response.status_code == 303
    event = await load_event(db, event_id)
    assert event.ics_sequence == 1 and event.starts_at == dt.datetime(2031, 5, 6, 15, 0, tzinfo=dt.UTC)
    updates = [r for r in await outbox_rows(db) if r["kind"] == "update"]
    assert sorted(r["to_address"] for r in updates) == ["ann@example.org", "stefan.popescu@example.org"]
    assert all(r["subject"] == "" and r["status"] == "queued" for r in updates)  # the request rendered nothing
    [entry] = await audit_entries(db, "event.updated")
    assert entry["updates_queued"] == 2 and {"starts_at", "ends_at"} <= set(entry["changed"])

    assert await deliver_due(smtp_settings, db, compose_queued) == 2
    [_, ro] = _to(smtp_server, "stefan.popescu@example.org")
    [en] = _to(smtp_server, "ann@example.org")
    assert ro.message["Subject"] == "Modificare: Curs de cardiologie"
    assert en.message["Subject"] == "Changed: Curs de cardiologie"
    assert "18:00" in ro.message.get_body(("plain",)).get_content()  # in the event's time zone
    method, moved = _calendar(ro)
    assert method == "REQUEST" and moved["UID"] == first["UID"] and moved["SEQUENCE"] == 1
    assert moved.decoded("DTSTART") == dt.datetime(2031, 5, 6, 15, 0, tzinfo=dt.UTC)
    assert moved.walk("VALARM")[0]["DESCRIPTION"] == "Începe în 15 minute: Curs de cardiologie"
    text = ro.message.get_body(("plain",)).get_content()
    assert "/events/muta/join/" in text and "/events/muta/cancel/" in text  # still theirs, and a way out
    _, theirs = _calendar(en)
    assert theirs["UID"] == f"event-{event_id}-registration-{english}@webinar.test" != moved["UID"]

    # A confirmation written after the update carries the current SEQUENCE with the newcomer's own UID.
    await _register(client, "muta", email="late@example.org")
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    [late] = _to(smtp_server, "late@example.org")
    assert _calendar(late)[1]["SEQUENCE"] == 1


async def test_a_new_stream_sends_an_update_but_a_new_title_does_not(
    create_event, create_registration, db: DB, operator_client
) -> None:
    event_id = await create_event(slug="flux", **_on_the_minute())
    await create_registration(event_id)
    http = await operator_client()
    assert (await _edit(http, db, event_id, title="Alt titlu", description="Altceva.")).status_code == 303
    assert [r["kind"] for r in await outbox_rows(db)] == [] and (await load_event(db, event_id)).ics_sequence == 0
    assert "updates_queued" not in (await audit_entries(db, "event.updated"))[-1]
    new_stream = "https://stream.example.org/other/index.m3u8"
    assert (await _edit(http, db, event_id, stream_url=new_stream)).status_code == 303
    assert [r["kind"] for r in await outbox_rows(db)] == ["update"]
    assert (await load_event(db, event_id)).ics_sequence == 1


async def test_a_second_change_supersedes_the_update_still_queued(
    create_event, create_registration, db: DB, smtp_server, smtp_settings, operator_client
) -> None:
    event_id = await create_event(slug="dublu")
    await create_registration(event_id, email="ana@example.org")
    http = await operator_client()
    await _edit(http, db, event_id, starts_at="2031-01-10T10:00", ends_at="2031-01-10T11:00")
    await _edit(http, db, event_id, starts_at="2031-01-11T10:00", ends_at="2031-01-11T11:00")
    rows = await outbox_rows(db)
    assert [(r["status"], r["last_error"]) for r in rows] == [
        ("cancelled", "superseded by a later update"),
        ("queued", None),
    ]
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    [received] = smtp_server.messages
    _, entry = _calendar(received)
    assert entry["SEQUENCE"] == 2 and entry.decoded("DTSTART") == dt.datetime(2031, 1, 11, 8, 0, tzinfo=dt.UTC)


async def test_thousands_of_registrants_are_queued_by_one_request_that_renders_nothing(
    create_event, db: DB, operator_client
) -> None:
    event_id = await create_event(slug="mare", **_on_the_minute())
    await _add(db, event_id, 3000, language="ro")
    await _add(db, event_id, 500, language="en")
    await _add(db, event_id, 200, status="pending")
    http = await operator_client()
    assert (await _edit(http, db, event_id, embed_url="https://player.example.org/live")).status_code == 303
    async with db.connection() as conn:
        row = await conn.fetch_one(
            sa.select(
                sa.func.count(), sa.func.count(sa.distinct(outbox.c.message_id)),
                sa.func.count(sa.distinct(outbox.c.registration_id)), sa.func.max(sa.func.length(outbox.c.subject)),
            ).where(outbox.c.kind == "update")
        )  # fmt: skip
    assert [row[i] for i in range(4)] == [3500, 3500, 3500, 0]
    assert (await audit_entries(db, "event.updated"))[-1]["updates_queued"] == 3500


async def test_cancelling_an_event_closes_it_and_tells_everyone_registered_or_waiting(
    app, client: httpx.AsyncClient, create_event, create_registration, create_staff, db: DB, settings, smtp_server,
    smtp_settings,
) -> None:  # fmt: skip
    event_id = await create_event(slug="anulat", title="Seminar de farmacologie", language="ro")
    await _register(client, "anulat")
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    _, confirmed = _calendar(smtp_server.messages[0])
    [reg] = await registration_rows(db)
    event = await load_event(db, event_id)
    await join(client, settings, event, reg["id"])  # a browser already logged in as the attendee
    assert (await client.get("/events/anulat/watch")).status_code == 200
    ids = {s: await create_registration(event_id, email=f"{s}@example.org", status=s, language="en")
           for s in ("pending", "waitlisted", "cancelled", "rejected")}  # fmt: skip
    await _register(client, "anulat", email="late@example.org")  # its confirmation is still queued

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50004))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as operator:  # their own browser
        user = await create_staff("operator")
        assert (await login_staff(operator, user.email)).status_code == 303
        page = await operator.get(f"/admin/events/{event_id}")
        assert 'id="cancel-event"' in page.text and "4 people registered or waiting" in page.text
        before = await counts(db)
        unticked = await _cancel(operator, event_id, confirm=False)
        assert unticked.status_code == 422 and 'id="confirm-error"' in unticked.text
        assert await counts(db) == before and not (await load_event(db, event_id)).cancelled
        no_csrf = await operator.post(f"/admin/events/{event_id}/cancel", data={"confirm": "yes"})
        assert no_csrf.status_code == 403 and not (await load_event(db, event_id)).cancelled
        response = await _cancel(operator, event_id)
        assert response.status_code == 303
        cancelled = await load_event(db, event_id)
        assert cancelled.cancelled and cancelled.cancelled_at is not None and cancelled.ics_sequence == 1
        page = await operator.get(f"/admin/events/{event_id}")
        assert 'id="event-cancelled"' in page.text and 'id="cancel-event"' not in page.text
        assert (await _cancel(operator, event_id)).status_code == 303  # twice: nothing more is sent
        [entry] = await audit_entries(db, "event.cancelled")
        assert entry["cancellations_queued"] == 4

    # The public side: the page says so, the form is closed, the links and the stream page stop working.
    public = await client.get("/events/anulat")
    assert 'id="event-cancelled"' in public.text and 'id="cancelled-notice"' in public.text
    assert 'name="consent_version"' not in public.text
    assert (await client.get("/events/anulat/watch")).status_code == 410
    assert (await client.get(join_path(settings, event, reg["id"]))).status_code == 410
    before = await counts(db)
    refused = await client.post("/events/anulat/register", data=person(email="new@example.org"))
    assert refused.status_code in (403, 409) and await counts(db) == before

    rows = await outbox_rows(db)
    cancellations = sorted(r["to_address"] for r in rows if r["kind"] == "event_cancelled")
    assert cancellations == ["late@example.org", "pending@example.org", "stefan.popescu@example.org",
                             "waitlisted@example.org"]  # fmt: skip
    assert ids  # the cancelled and the rejected are not told again
    await deliver_due(smtp_settings, db, compose_queued)
    [late_confirmation] = [r for r in await outbox_rows(db) if r["kind"] == "confirmation" and r["status"] != "sent"]
    assert (late_confirmation["status"], late_confirmation["last_error"]) == ("cancelled", "the event was cancelled")
    [_, ro] = _to(smtp_server, "stefan.popescu@example.org")
    assert ro.message["Subject"] == "Anulat: Seminar de farmacologie"
    body = ro.message.get_body(("plain",)).get_content()
    assert "a fost anulat de organizator" in body and "/join/" not in body and "/cancel/" not in body
    method, entry_ics = _calendar(ro)
    assert method == "CANCEL" and entry_ics["UID"] == confirmed["UID"]
    assert entry_ics["SEQUENCE"] == 1 and entry_ics["STATUS"] == "CANCELLED"
    [en] = _to(smtp_server, "pending@example.org")
    assert en.message["Subject"] == "Cancelled: Seminar de farmacologie" and _calendar(en)[0] == "CANCEL"
    assert len(smtp_server.messages) == 1 + 4


async def test_an_event_that_is_over_cannot_be_cancelled(
    create_event, create_registration, db: DB, operator_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = now() + dt.timedelta(minutes=2)  # short, so that its end comes before the staff session idles out
    event_id = await create_event(slug="gata", starts_at=start, ends_at=start + dt.timedelta(minutes=15))
    await create_registration(event_id)
    http = await operator_client()
    page = await http.get(f"/admin/events/{event_id}")
    assert 'id="cancel-event"' in page.text
    token = csrf_from(page.text)
    MovedClock(monkeypatch).to(start + dt.timedelta(minutes=20))  # the event is over now
    page = await http.get(f"/admin/events/{event_id}")
    assert page.status_code == 200 and 'id="cancel-event"' not in page.text
    response = await http.post(f"/admin/events/{event_id}/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 409 and "can no longer be cancelled" in response.text
    assert not (await load_event(db, event_id)).cancelled and await outbox_rows(db) == []


async def test_a_cancelled_event_opens_no_viewing_session_and_sends_no_join_link(
    app, client: httpx.AsyncClient, create_event, create_registration, db: DB, settings, operator_client
) -> None:
    event = await load_event(db, await create_event(slug="oprit", **on_now()))
    reg = await create_registration(event.id, email="ana@example.org")
    await join(client, settings, event, reg)  # logged in before the cancellation
    async with db.transaction() as conn:
        await notices.cancel_event(conn, settings, event.id)
    ws = presence_socket(app, client, event)
    assert (await ws.connect())["type"] == "websocket.close"
    await ws.finished()
    assert await sessions_of(db, reg) == []
    before = [r["id"] for r in await outbox_rows(db)]
    assert len(before) == 1  # the cancellation
    token = csrf_from((await client.get("/events/oprit/login")).text)
    sent = await client.post("/events/oprit/send-link", data={"email": "ana@example.org", "csrf_token": token})
    assert (
        sent.status_code == 303 and [r["id"] for r in await outbox_rows(db)] == before
    )  # the same answer, and no link that fails
