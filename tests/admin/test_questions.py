"""An event's custom questions in the back office: add, edit, reorder, remove, preview; every bad input a 422
beside its field with nothing stored; an organiser sees only their own events' questions."""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count
from tests.conftest import csrf_for, login_staff
from tests.webinar.access_helpers import load_event
from tests.webinar.question_helpers import add_questions, answers_of
from tests.webinar.regutil import open_form, person
from tests.webinar.test_questions import error_of
from webinar.db import DB
from webinar.tables import questions


def question_form(**overrides: Any) -> dict[str, Any]:
    """Every field of the question form, filled in validly."""
    values = {"label_ro": "Specialitatea", "label_en": "Specialty", "help_ro": "", "help_en": "", "kind": "text",
              "options": "", "required": "on", "action": "add"}  # fmt: skip
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


@pytest.fixture
async def organiser(app: Any, create_organisation: Any, create_staff: Any) -> tuple[httpx.AsyncClient, int]:
    """An organiser's browser and their organisation."""
    org_id = await create_organisation()
    user = await create_staff("organiser", org_id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50003))
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    assert (await login_staff(http, user.email)).status_code == 303
    yield http, org_id
    await http.aclose()


async def _post(http: httpx.AsyncClient, event_id: int, **fields: Any) -> httpx.Response:
    path = f"/admin/events/{event_id}/questions"
    return await http.post(path, data={**fields, "csrf_token": await csrf_for(http, path)})


async def _labels(db: DB, event_id: int) -> list[str]:
    async with db.connection() as conn:
        rows = await conn.fetch_all(
            sa.select(questions.c.label_en)
            .where(questions.c.event_id == event_id, questions.c.removed_at.is_(None))
            .order_by(questions.c.position)
        )
    return [r["label_en"] for r in rows]


async def test_an_organiser_adds_a_question_and_the_form_asks_it(organiser, db, create_event, client) -> None:
    http, org_id = organiser
    event_id = await create_event(organisation_id=org_id, slug="cu-intrebari", language="ro")
    before = (await load_event(db, event_id)).updated_at
    assert "Custom questions" in (await http.get(f"/admin/events/{event_id}")).text
    response = await _post(http, event_id, **question_form(kind="choice", options="Da\n\n  Nu  \n"))
    assert response.status_code == 303 and response.headers["location"].endswith("?done=added")
    page = (await http.get(response.headers["location"])).text
    assert "The question was added." in page and "Specialitatea" in page and "2 options" in page
    assert '<option value="Nu">Nu</option>' in page  # in the preview, in the event's language
    assert "Specialitatea *" in page
    assert "Specialty *" in (await http.get(f"/admin/events/{event_id}/questions?preview=en")).text
    assert (await load_event(db, event_id)).updated_at > before  # kept copies of the form go stale
    public = (await client.get("/events/cu-intrebari")).text
    assert "Specialitatea *" in public and '<option value="Da">Da</option>' in public
    [entry] = await audit_entries(db, "question.added")
    assert entry["kind"] == "choice" and entry["_event_id"] == event_id


BAD = [
    ({"label_ro": ""}, "label_ro", "Give the question's label in Romanian, the event's language."),
    ({"label_ro": "x" * 201}, "label_ro", "Use at most 200 characters."),
    ({"label_en": "tab\x00nul"}, "label_en", "Remove the control characters from this field."),
    ({"help_ro": "h" * 1001}, "help_ro", "Use at most 1000 characters."),
    ({"kind": "slider"}, "kind", "Choose one of the options."),
    ({"kind": "choice", "options": ""}, "options",
     "A question with a list of choices needs its options: write one per line."),
    ({"kind": "multichoice", "options": " \n \n"}, "options",
     "A question with a list of choices needs its options: write one per line."),
    ({"kind": "choice", "options": "\n".join(f"Opțiunea {n}" for n in range(500))}, "options",
     "At most 100 options, one per line; this list has 500."),
    ({"kind": "multichoice", "options": "Scurtă\n" + "o" * 201}, "options",
     "An option has at most 200 characters; the one on line 2 has 201."),
    ({"kind": "choice", "options": "Da\nNu\nDa"}, "options", "Each option must be different: “Da” is there twice."),
    ({"kind": "choice", "options": "Da\tNu"}, "options", "Remove the control characters from this field."),
    ({"kind": "choice", "options": "x" * 100_001}, "options",
     "This list is far too long: at most 100 options of 200 characters."),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "message"), BAD, ids=[f"{f}-{n}" for n, (_c, f, _m) in enumerate(BAD)])
async def test_a_bad_question_is_a_422_beside_its_field_and_nothing_is_stored(
    organiser, db, create_event, change, field, message
) -> None:
    http, org_id = organiser
    event_id = await create_event(organisation_id=org_id, language="ro")
    before = (await load_event(db, event_id)).updated_at
    response = await _post(http, event_id, **question_form(**change))
    assert response.status_code == 422
    assert error_of(response.text, field) == message
    assert await count(db, questions) == 0 and (await load_event(db, event_id)).updated_at == before
    kept = change.get("label_ro", "Specialitatea")
    if field != "label_ro" and len(kept) < 300:
        assert f'value="{html.escape(kept)}"' in response.text  # what was typed is kept


async def test_the_label_in_the_events_language_is_the_required_one(organiser, db, create_event) -> None:
    http, org_id = organiser
    event_id = await create_event(organisation_id=org_id, language="en")
    refused = await _post(http, event_id, **question_form(label_en=""))
    assert refused.status_code == 422 and "Give the question&#39;s label in English" in refused.text
    assert (await _post(http, event_id, **question_form(label_ro=""))).status_code == 303
    assert await _labels(db, event_id) == ["Specialty"]


async def test_editing_a_question_never_rewrites_its_answers(organiser, db, create_event, client) -> None:
    http, org_id = organiser
    event_id = await create_event(organisation_id=org_id, slug="editare")
    [asked] = await add_questions(db, event_id, {"kind": "choice", "label_en": "Section", "options": "A\nB"})
    data = {**await open_form(client, "editare"), **person(), f"q_{asked}": "B"}
    assert (await client.post("/events/editare/register", data=data)).status_code == 303
    edit = await http.get(f"/admin/events/{event_id}/questions?edit={asked}")
    assert edit.status_code == 200 and 'value="Section"' in edit.text and "Save the question" in edit.text
    saved = await _post(
        http, event_id, **question_form(action="edit", question_id=str(asked), label_en="Ward", kind="choice",
                                        options="Alpha\nBeta")
    )  # fmt: skip
    assert saved.status_code == 303 and await _labels(db, event_id) == ["Ward"]
    assert await answers_of(db) == {asked: "B"}  # as it was given
    locked = await _post(
        http, event_id, **question_form(action="edit", question_id=str(asked), label_en="Ward", kind="text")
    )
    assert locked.status_code == 422 and "its kind can no longer change" in locked.text
    [entry] = await audit_entries(db, "question.updated")
    assert entry["changed"] == ["label_en", "label_ro", "options", "required"]


async def test_questions_move_up_and_down_and_removal_keeps_the_answers(organiser, db, create_event, client) -> None:
    http, org_id = organiser
    event_id = await create_event(organisation_id=org_id, slug="ordine")
    first, second, third = await add_questions(
        db, event_id, *({"kind": "text", "label_en": label} for label in ("One", "Two", "Three"))
    )
    assert (await _post(http, event_id, action="down", question_id=str(first))).status_code == 303
    assert await _labels(db, event_id) == ["Two", "One", "Three"]
    assert (await _post(http, event_id, action="up", question_id=str(third))).status_code == 303
    assert await _labels(db, event_id) == ["Two", "Three", "One"]
    assert (await _post(http, event_id, action="up", question_id=str(second))).status_code == 303  # already first
    assert await _labels(db, event_id) == ["Two", "Three", "One"]
    page = (await client.get("/events/ordine")).text
    assert page.index(f"q_{second}") < page.index(f"q_{third}") < page.index(f"q_{first}")

    data = {**await open_form(client, "ordine"), **person(), f"q_{third}": "kept answer"}
    assert (await client.post("/events/ordine/register", data=data)).status_code == 303
    removed = await _post(http, event_id, action="remove", question_id=str(third))
    assert removed.status_code == 303
    listing = (await http.get(f"/admin/events/{event_id}/questions")).text
    assert listing.index("Removed questions") < listing.index("Three")
    assert await _labels(db, event_id) == ["Two", "One"]
    assert f"q_{third}" not in (await client.get("/events/ordine")).text
    assert await answers_of(db) == {third: "kept answer"}
    again = await _post(http, event_id, action="remove", question_id=str(third))
    assert again.status_code == 404  # no longer asked: nothing to remove


async def test_another_events_or_organisations_question_is_a_404(organiser, db, create_event) -> None:
    http, org_id = organiser
    mine = await create_event(organisation_id=org_id)
    other_mine = await create_event(organisation_id=org_id)
    theirs = await create_event()
    [their_question] = await add_questions(db, theirs, {"kind": "text", "label_en": "Secret"})
    [sibling] = await add_questions(db, other_mine, {"kind": "text", "label_en": "Sibling"})
    assert (await http.get(f"/admin/events/{theirs}/questions")).status_code == 404
    token = await csrf_for(http, f"/admin/events/{mine}/questions")
    for question_id in (their_question, sibling, 0, "x", 2**70):
        for action in ("edit", "up", "remove"):
            data = {**question_form(action=action), "question_id": str(question_id), "csrf_token": token}
            assert (await http.post(f"/admin/events/{mine}/questions", data=data)).status_code == 404
    assert (await http.get(f"/admin/events/{mine}/questions?edit={their_question}")).status_code == 404
    assert (
        await http.post(f"/admin/events/{theirs}/questions", data={**question_form(), "csrf_token": token})
    ).status_code == 404
    assert await _labels(db, theirs) == ["Secret"] and await _labels(db, mine) == []
    bad = await http.post(f"/admin/events/{mine}/questions", data={"action": "explode", "csrf_token": token})
    assert bad.status_code == 400
