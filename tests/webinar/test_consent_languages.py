"""The processing-consent text in each language (ro, en): the form shows the page's language's text (else the other
language's, saying so), and a tick records the text shown — its version, hash and language — through both write
paths, on /me, in export.json, on the back office's registrant page and through the API."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import event_input
from tests.webinar.access_helpers import join_path, load_event
from tests.webinar.privacy_helpers import register
from tests.webinar.regutil import counts, open_form, person
from webinar.db import DB
from webinar.events import queries as event_queries
from webinar.events import services as event_services
from webinar.events.services import DEFAULT_CONSENT_TEXT
from webinar.tables import consent_records, registrations

RO, EN = DEFAULT_CONSENT_TEXT["ro"], DEFAULT_CONSENT_TEXT["en"]
STALE = "The consent text changed while you were filling in the form."


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def _processing(db: DB) -> list[dict[str, Any]]:
    """Every processing consent recorded, with the language of its registration, oldest first."""
    async with db.connection() as conn:
        rows = await conn.fetch_all(
            sa.select(
                consent_records.c.text_version, consent_records.c.text_sha256, consent_records.c.text_language,
                registrations.c.language.label("registration_language"),
            )
            .join(registrations, registrations.c.id == consent_records.c.registration_id)
            .where(consent_records.c.purpose == "processing")
            .order_by(consent_records.c.id)
        )  # fmt: skip
    return [dict(r._mapping) for r in rows]


async def _edit_texts(db: DB, event_id: int, ro: str, en: str) -> None:
    """Save the event with these consent texts, as the back office's form does (tests/admin/test_events.py)."""
    event = await load_event(db, event_id)
    data = event_input(
        event.organisation_id, slug=event.slug, capacity=event.capacity, consent_text_ro=ro, consent_text_en=en
    )
    async with db.transaction() as conn:
        await event_services.update_event(conn, event_id, data)


@pytest.mark.parametrize("capacity", [None, 100], ids=["lock-free", "locked"])
async def test_an_english_visitor_sees_and_records_the_english_text(
    client: httpx.AsyncClient, db: DB, create_event, capacity: int | None
) -> None:
    await create_event(slug="both", consent_text_en=EN, capacity=capacity)  # ro: version 1, en: version 2
    page = await client.get("/events/both?lang=en")
    assert EN in page.text and RO not in page.text and 'lang="en"' in page.text
    assert 'id="consent-language"' not in page.text  # no fallback to explain
    hidden = await open_form(client, "both")
    assert hidden["consent_version"] == "2"
    response = await client.post("/events/both/register", data={**person(), **hidden})
    assert response.status_code == 303, response.text[:500]
    assert await _processing(db) == [
        {"text_version": 2, "text_sha256": _sha(EN), "text_language": "en", "registration_language": "en"}
    ]


@pytest.mark.parametrize("capacity", [None, 100], ids=["lock-free", "locked"])
async def test_a_romanian_visitor_sees_and_records_the_romanian_text(
    client: httpx.AsyncClient, db: DB, create_event, capacity: int | None
) -> None:
    await create_event(slug="ambele", consent_text_en=EN, capacity=capacity)
    page = await client.get("/events/ambele?lang=ro")
    assert RO in page.text and EN not in page.text
    hidden = await open_form(client, "ambele")
    assert hidden["consent_version"] == "1"
    assert (await client.post("/events/ambele/register", data={**person(), **hidden})).status_code == 303
    assert await _processing(db) == [
        {"text_version": 1, "text_sha256": _sha(RO), "text_language": "ro", "registration_language": "ro"}
    ]


async def test_a_page_without_a_text_in_its_language_shows_the_other_and_records_it(
    client: httpx.AsyncClient, db: DB, create_event
) -> None:
    await create_event(slug="doar-ro", language="ro")  # the organiser wrote only the Romanian text
    page = await client.get("/events/doar-ro?lang=en")
    assert RO in page.text and 'lang="ro"' in page.text
    assert "The organiser wrote this text only in Romanian." in page.text
    hidden = await open_form(client, "doar-ro")
    assert (await client.post("/events/doar-ro/register", data={**person(), **hidden})).status_code == 303
    assert await _processing(db) == [
        {"text_version": 1, "text_sha256": _sha(RO), "text_language": "ro", "registration_language": "en"}
    ]
    await create_event(slug="doar-en", consent_text_ro="", consent_text_en=EN)
    romanian = await client.get("/events/doar-en?lang=ro")
    assert EN in romanian.text and "Organizatorul a scris acest text doar în engleză." in romanian.text


async def test_a_change_of_one_language_is_a_new_version_of_that_language_only(
    client: httpx.AsyncClient, db: DB, create_event
) -> None:
    event_id = await create_event(slug="versiuni", consent_text_en=EN)
    await _edit_texts(db, event_id, RO, "I agree (new wording).")
    await _edit_texts(db, event_id, RO, "I agree (new wording).")  # the same again: no version
    async with db.connection() as conn:
        versions = await event_queries.consent_versions(conn, event_id)
        current = await event_queries.current_consents(conn, event_id)
    assert [(v.version, v.language) for v in versions] == [(3, "en"), (2, "en"), (1, "ro")]
    assert [(t.version, t.language, t.text) for t in current.texts] == [
        (1, "ro", RO), (3, "en", "I agree (new wording).")
    ]  # fmt: skip
    await client.get("/events/versiuni?lang=ro")
    assert (await open_form(client, "versiuni"))["consent_version"] == "1"  # the Romanian page is as it was
    await client.get("/events/versiuni?lang=en")
    assert (await open_form(client, "versiuni"))["consent_version"] == "3"
    await _edit_texts(db, event_id, RO, "")  # the English text removed: the English page falls back
    page = await client.get("/events/versiuni")
    assert "The organiser wrote this text only in Romanian." in page.text
    assert (await open_form(client, "versiuni"))["consent_version"] == "1"


@pytest.mark.parametrize("capacity", [None, 100], ids=["lock-free", "locked"])
async def test_an_old_removed_or_made_up_version_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, db: DB, create_event, capacity: int | None
) -> None:
    event_id = await create_event(slug="vechi", consent_text_en=EN, capacity=capacity)
    await client.get("/events/vechi?lang=en")
    hidden = await open_form(client, "vechi")  # the English text, version 2
    await _edit_texts(db, event_id, RO, "I agree (changed while you typed).")  # English version 3
    for version in (hidden["consent_version"], "999", "-1", "1e3", "٣", ""):
        response = await client.post("/events/vechi/register", data={**person(), **hidden, "consent_version": version})
        assert response.status_code == 422, version
        assert STALE in response.text and "I agree (changed while you typed)." in response.text
        assert 'name="consent_version" value="3"' in response.text  # the text shown now is the one to tick
    await _edit_texts(db, event_id, RO, "")  # removed: its last version is refused too
    response = await client.post("/events/vechi/register", data={**person(), **hidden, "consent_version": "3"})
    assert response.status_code == 422 and STALE in response.text
    assert await counts(db) == (0, 0, 0)


async def test_me_export_and_the_back_office_show_the_language_of_the_text_ticked(
    client: httpx.AsyncClient, db: DB, settings, create_event, operator_client
) -> None:
    event_id = await create_event(slug="export", consent_text_en=EN)
    event = await load_event(db, event_id)
    await client.get("/events/export?lang=en")
    reg_id = await register(client, db, event)
    assert (await client.get(join_path(settings, event, reg_id))).status_code == 303
    me = await client.get("/events/export/me")
    assert "consent text version 2, in English" in me.text and f'<blockquote lang="en">{EN}</blockquote>' in me.text
    export = json.loads((await client.get("/events/export/me/export.json")).text)
    [processing] = [c for c in export["consents"] if c["purpose"] == "processing"]
    assert (processing["text_version"], processing["text_language"], processing["text"]) == (2, "en", EN)
    assert processing["text_sha256"] == _sha(EN)
    staff = await operator_client()
    page = await staff.get(f"/admin/events/{event_id}/registrants/{reg_id}")
    assert page.status_code == 200 and "<th>Language</th>" in page.text and "<td>English</td>" in page.text
    edit = await staff.get(f"/admin/events/{event_id}/edit")
    assert "Processing-consent text in Romanian" in edit.text and "Processing-consent text in English" in edit.text
    assert f">{EN}</textarea>" in edit.text and f">{RO}</textarea>" in edit.text
