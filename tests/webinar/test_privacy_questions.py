"""The attendee's answers to the custom questions: on /me (shown, and corrected by the same rules), in
export.json, and on the organiser's registrant page."""

from __future__ import annotations

import html
from typing import Any

import httpx

from tests.conftest import csrf_for, login_staff
from tests.webinar.privacy_helpers import register_and_join
from tests.webinar.question_helpers import EVERY_KIND, GOOD_ANSWERS, add_questions, answered, answers_of
from tests.webinar.test_questions import error_of
from webinar.clock import now
from webinar.db import DB
from webinar.tables import questions

PERSON = {"first_name": "Ioana", "last_name": "Marin", "email": "ioana@example.org"}


async def _registered(
    client: httpx.AsyncClient, db: DB, settings: Any, create_event: Any
) -> tuple[Any, int, list[int]]:
    event_id = await create_event(language="ro")
    ids = await add_questions(db, event_id, *EVERY_KIND)
    event, reg = await register_and_join(client, db, settings, event_id, **PERSON, **answered(ids, **GOOD_ANSWERS))
    return event, reg, ids


async def test_me_shows_the_answers_and_corrects_them_by_the_same_rules(
    client: httpx.AsyncClient, db: DB, settings: Any, create_event: Any
) -> None:
    event, reg, ids = await _registered(client, db, settings, create_event)
    me = f"/events/{event.slug}/me"
    page = (await client.get(me)).text
    assert "Specialitatea" in page and "Cardiologie intervențională" in page and "Diagnostic; Prevenție" in page
    assert '<option value="Pediatrie" selected>' in page  # the correction form holds the stored answers
    assert f'name="q_{ids[3]}" type="checkbox" value="Diagnostic" checked' in page
    assert "Doresc certificat</th><td>da</td>" in page  # the checkbox's yes, in Romanian
    before = await answers_of(db, reg)

    form = {**PERSON, **answered(ids, **GOOD_ANSWERS), "csrf_token": await csrf_for(client, me)}
    refused = await client.post(me, data={**form, **answered(ids, date="1980/01/13", choice="Altceva")})
    assert refused.status_code == 422
    assert error_of(refused.text, f"q_{ids[6]}") == "Vă rugăm să scrieți data ca AAAA-LL-ZZ, de exemplu 2026-03-05."
    assert error_of(refused.text, f"q_{ids[2]}") is not None and 'value="1980/01/13"' in refused.text
    assert await answers_of(db, reg) == before  # nothing changed

    corrected = {**form, **answered(ids, text="Neurologie", multichoice=["Tratament"], checkbox=None, number="")}
    corrected = {k: v for k, v in corrected.items() if v is not None}
    saved = await client.post(me, data=corrected)
    assert saved.status_code == 303, saved.text[:500]
    after = await answers_of(db, reg)
    assert after[ids[0]] == "Neurologie" and after[ids[3]] == "Tratament" and after[ids[4]] == "no"
    assert ids[5] not in after and after[ids[6]] == before[ids[6]]  # left empty: no answer; the rest as it was


async def test_a_removed_questions_answer_is_shown_but_not_asked_on_me(
    client: httpx.AsyncClient, db: DB, settings: Any, create_event: Any
) -> None:
    event, reg, ids = await _registered(client, db, settings, create_event)
    async with db.transaction() as conn:
        await conn.execute(questions.update().where(questions.c.id == ids[0]).values(removed_at=now()))
    me = f"/events/{event.slug}/me"
    page = (await client.get(me)).text
    assert "Cardiologie intervențională" in page and f'name="q_{ids[0]}"' not in page
    form = {**PERSON, **answered(ids, **GOOD_ANSWERS), "csrf_token": await csrf_for(client, me)}
    assert (await client.post(me, data=form)).status_code == 303
    assert (await answers_of(db, reg))[ids[0]] == "Cardiologie intervențională"  # kept as it was


async def test_export_json_holds_the_answers(
    client: httpx.AsyncClient, db: DB, settings: Any, create_event: Any
) -> None:
    event, _reg, ids = await _registered(client, db, settings, create_event)
    exported = (await client.get(f"/events/{event.slug}/me/export.json")).json()
    by_label = {a["label_en"]: a for a in exported["answers"]}
    assert by_label["Topics"]["answer"] == ["Diagnostic", "Prevenție"]
    assert by_label["Specialty"] == {
        "question": "Specialitatea", "label_ro": "Specialitatea", "label_en": "Specialty", "kind": "text",
        "answer": "Cardiologie intervențională", "question_removed": False,
    }  # fmt: skip
    assert len(exported["answers"]) == len(ids)  # the checkbox's answer too


async def test_the_registrant_page_shows_the_answers(
    client: httpx.AsyncClient, db: DB, settings: Any, create_event: Any, create_staff: Any, app: Any
) -> None:
    event, reg, _ids = await _registered(client, db, settings, create_event)
    operator = await create_staff("operator")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as staff:
        assert (await login_staff(staff, operator.email)).status_code == 303
        page = (await staff.get(f"/admin/events/{event.id}/registrants/{reg}")).text
    assert "Specialty" in page and "Cardiologie intervențională" in page and "Diagnostic; Prevenție" in page
    assert html.escape("Prima întrebare\nA doua întrebare") in page
