"""The event form's two consent texts (Romanian, English): a new event gets both by default, a change of one is a
new version of that language only (in the audit entry by name), and neither written is a 422 that stores nothing."""

from __future__ import annotations

from tests.admin.helpers import audit_entries, count
from tests.admin.test_events import event_form
from tests.conftest import csrf_for
from webinar.events import queries as event_queries
from webinar.events.services import DEFAULT_CONSENT_TEXT
from webinar.tables import consent_texts, events

RO, EN = DEFAULT_CONSENT_TEXT["ro"], DEFAULT_CONSENT_TEXT["en"]


async def test_the_new_event_form_offers_both_texts_labelled(operator_client, create_organisation) -> None:
    await create_organisation()
    page = await (await operator_client()).get("/admin/events/new")
    assert '<label for="consent_text_ro">Processing-consent text in Romanian</label>' in page.text
    assert '<label for="consent_text_en">Processing-consent text in English</label>' in page.text
    assert f">{RO}</textarea>" in page.text and f">{EN}</textarea>" in page.text


async def test_changing_one_language_through_the_form_versions_that_language_only(
    operator_client, db, create_organisation
) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    token = await csrf_for(http, "/admin/events/new")
    form = event_form(org_id, slug="doua-limbi", consent_text_ro=RO, consent_text_en=EN)
    assert (await http.post("/admin/events", data={**form, "csrf_token": token})).status_code == 303
    async with db.connection() as conn:
        event = await event_queries.by_slug(conn, "doua-limbi")
    assert event is not None
    token = await csrf_for(http, f"/admin/events/{event.id}/edit")
    changed = {**form, "consent_text_en": "I agree (new wording).", "csrf_token": token}
    assert (await http.post(f"/admin/events/{event.id}", data=changed)).status_code == 303
    async with db.connection() as conn:
        versions = await event_queries.consent_versions(conn, event.id)
    assert [(v.version, v.language, v.text) for v in versions] == [
        (3, "en", "I agree (new wording)."), (2, "en", EN), (1, "ro", RO),
    ]  # fmt: skip
    entry = (await audit_entries(db, "event.updated"))[-1]
    assert "consent_text_en" in entry["changed"] and "consent_text_ro" not in entry["changed"]
    page = await http.get(f"/admin/events/{event.id}/edit")
    assert "Version 3 · English" in page.text and "Version 1 · Romanian" in page.text
    summary = await http.get(f"/admin/events/{event.id}")
    assert "Romanian: version 1 of" in summary.text and "English: version 3 of" in summary.text


async def test_neither_text_is_a_422_and_nothing_is_stored(operator_client, db, create_organisation) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    token = await csrf_for(http, "/admin/events/new")
    form = event_form(org_id, slug="fara-text", consent_text_ro="  ", consent_text_en="")
    response = await http.post("/admin/events", data={**form, "csrf_token": token})
    assert response.status_code == 422
    assert "Write the consent text in at least one language." in response.text
    assert (await count(db, events), await count(db, consent_texts)) == (0, 0)
