"""Events through the back-office forms: create, edit (consent versions), validation, the event's page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.admin.helpers import audit_entries, count
from tests.conftest import csrf_for
from webinar.events import queries as event_queries
from webinar.events.services import DEFAULT_CONSENT_TEXT
from webinar.tables import consent_texts, events


def event_form(organisation_id: int, /, **overrides: Any) -> dict[str, str]:
    """Every field of the event form, filled in validly."""
    values = {
        "organisation_id": str(organisation_id),
        "title": "Conferința Națională 2030",
        "slug": "",
        "description": "Despre știință.\n\nȘi tehnologie.",
        "language": "ro",
        "timezone": "Europe/Bucharest",
        "starts_at": "2030-03-05T14:00",
        "ends_at": "2030-03-05T16:30",
        "registration_opens_at": "",
        "registration_closes_at": "2030-03-05T12:00",
        "doors_open_minutes": "30",
        "stream_url": "https://stream.example.org/live/index.m3u8",
        "embed_url": "",
        "capacity": "",
        "approval": "auto",
        "login": "link",
        "field_job_title": "optional",
        "field_member_id": "hidden",
        "field_organisation": "required",
        "field_phone": "hidden",
        "min_age": "16",
        "consent_text_ro": DEFAULT_CONSENT_TEXT["ro"],
        "consent_text_en": "",
        "retention_days": "90",
        "listed": "1",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


async def _post_new(http, organisation_id: int, /, **overrides: Any):
    token = await csrf_for(http, "/admin/events/new")
    return await http.post("/admin/events", data={**event_form(organisation_id, **overrides), "csrf_token": token})


async def test_operator_creates_an_event_and_its_public_page_answers(
    operator_client, db, create_organisation, client
) -> None:
    org_id = await create_organisation(name="Institutul de Fizică")
    http = await operator_client()
    response = await _post_new(http, org_id)
    assert response.status_code == 303
    async with db.connection() as conn:
        event = await event_queries.by_slug(conn, "conferinta-nationala-2030")
        assert event is not None
        consent = (await event_queries.current_consents(conn, event.id)).of("ro")
    assert response.headers["location"].endswith(f"/admin/events/{event.id}")
    # 14:00 in Bucharest in March is EET (UTC+2); 12:00 closes the registration two hours earlier.
    assert event.starts_at == dt.datetime(2030, 3, 5, 12, 0, tzinfo=dt.UTC)
    assert event.ends_at == dt.datetime(2030, 3, 5, 14, 30, tzinfo=dt.UTC)
    assert event.registration_closes_at == dt.datetime(2030, 3, 5, 10, 0, tzinfo=dt.UTC)
    assert event.registration_opens_at is None and event.capacity is None and event.min_age == 16
    assert event.field_organisation == "required" and event.listed is True
    assert consent is not None and consent.version == 1 and consent.text == DEFAULT_CONSENT_TEXT["ro"]
    assert (await client.get("/events/conferinta-nationala-2030")).status_code == 200
    page = await http.get(f"/admin/events/{event.id}")
    assert page.status_code == 200
    assert "Conferința Națională 2030" in page.text and "/events/conferinta-nationala-2030" in page.text
    assert [e["slug"] for e in await audit_entries(db, "event.created")] == ["conferinta-nationala-2030"]


async def test_empty_slug_of_a_taken_title_gets_a_free_one(
    operator_client, db, create_event, create_organisation
) -> None:
    org_id = await create_organisation()
    await create_event(slug="webinar", title="Webinar", organisation_id=org_id)
    http = await operator_client()
    response = await _post_new(http, org_id, title="Webinar", slug="")
    assert response.status_code == 303
    async with db.connection() as conn:
        assert await event_queries.by_slug(conn, "webinar-2") is not None


async def test_summer_time_and_the_repeated_autumn_hour(operator_client, db, create_organisation) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    # 2030-10-27 03:30 happens twice in Bucharest; the first one (EEST, UTC+3) is meant.
    response = await _post_new(
        http, org_id, slug="autumn", starts_at="2030-10-27T03:30", ends_at="2030-10-27T05:00", registration_closes_at=""
    )
    assert response.status_code == 303
    async with db.connection() as conn:
        event = await event_queries.by_slug(conn, "autumn")
    assert event is not None
    assert event.starts_at == dt.datetime(2030, 10, 27, 0, 30, tzinfo=dt.UTC)
    assert event.ends_at == dt.datetime(2030, 10, 27, 3, 0, tzinfo=dt.UTC)  # after the change: EET, UTC+2


BAD_EVENTS = [
    ({"ends_at": "2030-03-05T13:00"}, "The event must end after it starts."),
    ({"timezone": "Europe/Atlantis"}, "Choose a time zone from the list"),
    ({"slug": "Not A Slug"}, "Use only lower-case letters"),
    ({"starts_at": "2030-03-31T03:30", "ends_at": "2030-03-31T05:00", "registration_closes_at": ""}, "does not exist"),
    ({"starts_at": "05.03.2030 14:00"}, "Enter a date and time as YYYY-MM-DDTHH:MM."),
    ({"starts_at": "2030-02-30T14:00"}, "This date does not exist."),
    ({"registration_closes_at": "2030-03-05T17:00"}, "Registration must close by the time the event ends."),
    ({"stream_url": "http://stream.example.org/live.m3u8"}, "The address must start with https://."),
    ({"stream_url": "https://stream.example.org/live.mp4"}, "ending in .m3u8"),
    ({"stream_url": "", "embed_url": ""}, "Give a stream address (.m3u8) or an address to embed."),
    ({"embed_url": "javascript:alert(1)"}, "Enter a valid address."),
    ({"capacity": "0"}, "Enter a whole number from 1 to 1000000."),
    ({"doors_open_minutes": "1441"}, "Enter a whole number from 0 to 1440."),
    ({"retention_days": "0"}, "Enter a whole number from 1 to 3650."),
    ({"min_age": "9" * 5000}, "Enter a whole number from 1 to 120."),
    ({"language": "fr"}, "Choose one of the options."),
    ({"field_phone": "sometimes"}, "Choose one of the options."),
    ({"consent_text_ro": "", "consent_text_en": ""}, "Write the consent text in at least one language."),
    ({"title": "Bad\x00title"}, "Remove the control characters from this field."),
    ({"organisation_id": "999999"}, "Choose the organisation."),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_EVENTS)
async def test_bad_event_is_422_with_the_message_and_nothing_stored(
    operator_client, db, create_organisation, overrides, message
) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(http, org_id, **overrides)
    assert response.status_code == 422
    assert message in response.text
    assert 'value="Conferința Națională 2030"' in response.text or "title" in overrides  # values kept
    assert await count(db, events) == 0
    assert await count(db, consent_texts) == 0


async def test_taken_slug_is_a_field_error_not_a_conflict(
    operator_client, db, create_event, create_organisation
) -> None:
    org_id = await create_organisation()
    await create_event(slug="taken", organisation_id=org_id)
    http = await operator_client()
    response = await _post_new(http, org_id, slug="taken")
    assert response.status_code == 422
    assert "Another event already uses this address (slug)" in response.text
    assert await count(db, events) == 1


async def test_local_stream_over_http_is_allowed(operator_client, db, create_organisation) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(http, org_id, stream_url="http://127.0.0.1:8080/hls/index.m3u8")
    assert response.status_code == 303


async def test_editing_the_consent_text_adds_version_2_and_keeps_1(operator_client, db, create_event) -> None:
    event_id = await create_event(slug="edited", title="Before")
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
    assert event is not None
    http = await operator_client()
    page = await http.get(f"/admin/events/{event_id}/edit")
    assert page.status_code == 200
    assert 'value="Before"' in page.text and "Version 1" in page.text
    new_text = "Sunt de acord cu prelucrarea datelor mele (text nou)."
    form = event_form(event.organisation_id, title="After", slug="edited", consent_text_ro=new_text)
    token = await csrf_for(http, f"/admin/events/{event_id}/edit")
    response = await http.post(f"/admin/events/{event_id}", data={**form, "csrf_token": token})
    assert response.status_code == 303
    async with db.connection() as conn:
        versions = await event_queries.consent_versions(conn, event_id)
        changed = await event_queries.by_id(conn, event_id)
    assert [(v.version, v.language, v.text) for v in versions] == [
        (2, "ro", new_text),
        (1, "ro", DEFAULT_CONSENT_TEXT["ro"]),
    ]
    assert changed is not None and changed.title == "After"
    entry = (await audit_entries(db, "event.updated"))[-1]
    assert entry["_event_id"] == event_id
    assert {"title", "consent_text_ro", "starts_at"} <= set(entry["changed"]) and "slug" not in entry["changed"]
    page = await http.get(f"/admin/events/{event_id}/edit")
    assert "Version 2" in page.text and "Version 1" in page.text


async def test_bad_edit_is_422_and_changes_nothing(operator_client, db, create_event) -> None:
    event_id = await create_event(slug="kept", title="Kept")
    async with db.connection() as conn:
        before = await event_queries.by_id(conn, event_id)
    assert before is not None
    http = await operator_client()
    token = await csrf_for(http, f"/admin/events/{event_id}/edit")
    form = event_form(
        before.organisation_id, title="Changed", ends_at="2030-03-05T10:00", consent_text_ro="Other text."
    )
    response = await http.post(f"/admin/events/{event_id}", data={**form, "csrf_token": token})
    assert response.status_code == 422
    assert "The event must end after it starts." in response.text
    async with db.connection() as conn:
        assert await event_queries.by_id(conn, event_id) == before
    assert await count(db, consent_texts) == 1


async def test_edit_form_shows_times_in_the_event_time_zone(operator_client, create_event) -> None:
    start = dt.datetime(2030, 7, 1, 11, 0, tzinfo=dt.UTC)  # 14:00 EEST
    event_id = await create_event(starts_at=start, ends_at=start + dt.timedelta(hours=1))
    http = await operator_client()
    page = await http.get(f"/admin/events/{event_id}/edit")
    assert 'value="2030-07-01T14:00"' in page.text and 'value="2030-07-01T15:00"' in page.text


async def test_unknown_event_is_404(operator_client) -> None:
    http = await operator_client()
    for path in ("/admin/events/424242", "/admin/events/424242/edit", f"/admin/events/{2**64}"):
        assert (await http.get(path)).status_code == 404


async def test_paragraphs_typed_in_a_browser_keep_their_crlf_blank_lines(
    operator_client, db, create_organisation, client
) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    typed = {
        "description": "Despre știință.\r\n\r\nȘi tehnologie.\r\nPe același rând.",
        "consent_text_ro": "Unu.\r\nDoi.",
    }
    response = await _post_new(http, org_id, slug="crlf", **typed)
    assert response.status_code == 303
    async with db.connection() as conn:
        event = await event_queries.by_slug(conn, "crlf")
        assert event is not None
        consent = (await event_queries.current_consents(conn, event.id)).of("ro")
    assert event.description == "Despre știință.\n\nȘi tehnologie.\nPe același rând."
    assert consent is not None and consent.text == "Unu.\nDoi."
    page = await client.get("/events/crlf")
    assert "<p>Despre știință.</p><p>Și tehnologie.\nPe același rând.</p>" in page.text
    # Saving the same text again, as a browser sends it, is no new consent version.
    token = await csrf_for(http, f"/admin/events/{event.id}/edit")
    form = event_form(org_id, slug="crlf", **typed)
    assert (await http.post(f"/admin/events/{event.id}", data={**form, "csrf_token": token})).status_code == 303
    assert await count(db, consent_texts, consent_texts.c.event_id == event.id) == 1


async def test_a_description_stored_with_crlf_still_shows_its_paragraphs(db, create_event, client) -> None:
    event_id = await create_event(slug="old-crlf")
    async with db.connection() as conn:
        await conn.execute(events.update().where(events.c.id == event_id).values(description="Unu.\r\n \r\nDoi."))
    assert "<p>Unu.</p><p>Doi.</p>" in (await client.get("/events/old-crlf")).text
