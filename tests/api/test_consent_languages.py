"""The API and the consent text per language: an event lists its current text in each language, and a registration
with consent `given` takes the current version of either language and records which; an old or made-up version is
a 422 on `consent_version` with nothing stored."""

from __future__ import annotations

import sqlalchemy as sa

from tests.admin.helpers import count
from webinar.events.services import DEFAULT_CONSENT_TEXT, _add_consent_version
from webinar.tables import consent_records, outbox, registrations

PERSON = {"first_name": "Ana", "last_name": "Pop", "age_confirmed": True, "consent": "given"}


async def test_either_language_version_is_accepted_and_recorded_with_its_language(
    create_organisation, create_event, create_token, api_client, db
):
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id, language="ro", consent_text_en=DEFAULT_CONSENT_TEXT["en"])
    async with api_client(await create_token(org_id)) as api:
        event = (await api.get(f"/events/{event_id}")).json()
        assert event["consent_version"] == 1  # the event's language's
        assert [(t["language"], t["version"], t["text"]) for t in event["consent_texts"]] == [
            ("ro", 1, DEFAULT_CONSENT_TEXT["ro"]), ("en", 2, DEFAULT_CONSENT_TEXT["en"]),
        ]  # fmt: skip
        path = f"/events/{event_id}/registrations"
        for email, version in (("ro@example.org", 1), ("en@example.org", 2)):
            created = await api.post(path, json=PERSON | {"email": email, "consent_version": version})
            assert created.status_code == 201, created.text
    async with db.connection() as conn:
        recorded = await conn.fetch_all(
            sa.select(registrations.c.email, consent_records.c.text_version, consent_records.c.text_language)
            .join(consent_records, consent_records.c.registration_id == registrations.c.id)
            .where(consent_records.c.purpose == "processing")
            .order_by(registrations.c.id)
        )
    assert [(r["email"], r["text_version"], r["text_language"]) for r in recorded] == [
        ("ro@example.org", 1, "ro"),
        ("en@example.org", 2, "en"),
    ]


async def test_an_old_or_made_up_version_is_refused_with_nothing_stored(
    create_organisation, create_event, create_token, api_client, db
):
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id, language="ro", consent_text_en="I agree.")
    async with api_client(await create_token(org_id)) as api:
        async with db.transaction() as conn:
            await _add_consent_version(conn, event_id, "en", "I agree (new wording).")  # English version 3
        event = (await api.get(f"/events/{event_id}")).json()
        assert [t["version"] for t in event["consent_texts"]] == [1, 3]
        for version in (2, 4, 99):  # the English text's old version, one not yet written, a made-up one
            refused = await api.post(
                f"/events/{event_id}/registrations",
                json=PERSON | {"email": "x@example.org", "consent_version": version},
            )
            assert refused.status_code == 422, refused.text
            assert "consent_version" in refused.json()["errors"]
    assert (await count(db, registrations), await count(db, consent_records), await count(db, outbox)) == (0, 0, 0)
