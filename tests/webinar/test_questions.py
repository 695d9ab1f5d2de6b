"""Custom questions on the public registration form: shown after the personal fields, validated on the server
(422 beside the field, what was typed kept, nothing stored), and written with the registration on both paths."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from tests.webinar.access_helpers import load_event
from tests.webinar.question_helpers import (
    EVERY_KIND,
    GOOD_ANSWERS,
    STORED,
    add_questions,
    answer_count,
    answered,
    answers_of,
)
from tests.webinar.regutil import counts, open_form, person, registration_rows
from webinar.db import DB
from webinar.registration import questionnaire
from webinar.registration.services import Actor


def error_of(page: str, name: str) -> str | None:
    """The message shown beside a question, if any."""
    match = re.search(rf'<p class="error" id="{name}-error">([^<]*)</p>', page)
    return html.unescape(match.group(1)) if match else None


async def test_the_form_asks_each_question_after_the_personal_fields_in_the_events_language(
    client: httpx.AsyncClient, db: DB, create_event: Any
) -> None:
    event_id = await create_event(slug="intrebari", language="ro")
    ids = await add_questions(db, event_id, *EVERY_KIND)
    page = (await client.get("/events/intrebari")).text
    first = page.index(f'name="q_{ids[0]}"')
    assert page.index('name="phone"' if 'name="phone"' in page else 'name="organisation"') < first
    assert first < page.index('name="consent_processing"')
    positions = [page.index(f'name="q_{i}"') for i in ids]
    assert positions == sorted(positions)  # in the organiser's order
    assert "Specialitatea *" in page and "Ca în legitimație" in page and "Specialty" not in page
    assert '<option value="Pediatrie">Pediatrie</option>' in page
    assert page.count(f'name="q_{ids[3]}" type="checkbox"') == 3  # one box per option
    assert f'id="q_{ids[6]}" name="q_{ids[6]}" type="date"' in page
    english = (await client.get("/events/intrebari?lang=en")).text
    assert "Specialty *" in english and "As on your badge" in english  # the visitor's language


async def test_every_kind_is_stored_as_text(client: httpx.AsyncClient, db: DB, create_event: Any) -> None:
    event_id = await create_event(slug="toate")
    ids = await add_questions(db, event_id, *EVERY_KIND)
    data = {**await open_form(client, "toate"), **person(), **answered(ids, **GOOD_ANSWERS)}
    response = await client.post("/events/toate/register", data=data)
    assert response.status_code == 303, response.text[:500]
    kinds = [spec["kind"] for spec in EVERY_KIND]
    assert await answers_of(db) == {ids[kinds.index(kind)]: value for kind, value in STORED.items()}


async def test_optional_questions_left_empty_store_nothing_but_a_checkbox_says_no(
    client: httpx.AsyncClient, db: DB, create_event: Any
) -> None:
    event_id = await create_event(slug="goale")
    ids = await add_questions(db, event_id, *EVERY_KIND)
    data = {**await open_form(client, "goale"), **person(), **answered(ids, text="x", choice="Cardiologie")}
    assert (await client.post("/events/goale/register", data=data)).status_code == 303
    stored = await answers_of(db)
    assert stored == {ids[0]: "x", ids[2]: "Cardiologie", ids[4]: "no"}


BAD = [
    ("text", "", "Please answer this question."),
    ("text", "x" * 201, "Please use at most 200 characters."),
    ("text", "nul\x00here", "This contains characters that are not allowed."),
    ("text", "bidi\u202eoverride", "This contains characters that are not allowed."),
    ("textarea", "y" * 2001, "Please use at most 2000 characters."),
    ("textarea", "bell\x07", "This contains characters that are not allowed."),
    ("choice", "", "Please answer this question."),
    ("choice", "Chirurgie", "Please choose one of the options."),
    ("multichoice", ["Diagnostic", "Altceva"], "Please choose among the options shown."),
    ("number", "douăzeci", "Please enter a number, like 12 or 2.5."),
    ("number", "1e9", "Please enter a number, like 12 or 2.5."),
    ("date", "05/03/1980", "Please enter a date as YYYY-MM-DD, for example 2026-03-05."),
    ("date", "1800-01-01", "Please enter a date as YYYY-MM-DD, for example 2026-03-05."),
    ("date", "2023-02-29", "This date does not exist."),
]


@pytest.mark.parametrize(("kind", "value", "message"), BAD, ids=[f"{k}-{n}" for n, (k, _v, _m) in enumerate(BAD)])
async def test_a_bad_answer_is_a_422_beside_its_question_and_nothing_is_stored(
    client: httpx.AsyncClient, db: DB, create_event: Any, kind: str, value: Any, message: str
) -> None:
    event_id = await create_event(slug="rele")
    ids = await add_questions(db, event_id, *EVERY_KIND)
    name = answered(ids, **{kind: None}).popitem()[0]
    data = {**await open_form(client, "rele"), **person(), **answered(ids, **(GOOD_ANSWERS | {kind: value}))}
    before = await counts(db)
    response = await client.post("/events/rele/register", data=data)
    assert response.status_code == 422
    assert error_of(response.text, name) == message
    assert f'href="#{name}"' in response.text  # in the summary too, linking to the question
    assert await counts(db) == before and await answer_count(db) == 0
    # What was typed is kept, for every other question and for this one (as the page can show it).
    assert html.escape(GOOD_ANSWERS["text"]) in response.text or kind == "text"
    if kind in ("text", "number", "date") and "\x00" not in value and "\u202e" not in value:
        assert f'value="{html.escape(value)}"' in response.text


async def test_required_boxes_and_lists_must_be_answered(client: httpx.AsyncClient, db: DB, create_event: Any) -> None:
    event_id = await create_event(slug="obligatorii")
    box, many = await add_questions(
        db, event_id,
        {"kind": "checkbox", "label_en": "I accept the rules", "required": True},
        {"kind": "multichoice", "label_en": "Days", "options": "Monday\nTuesday", "required": True},
    )  # fmt: skip
    response = await client.post(
        "/events/obligatorii/register", data={**await open_form(client, "obligatorii"), **person()}
    )
    assert response.status_code == 422
    assert error_of(response.text, f"q_{box}") == "Please tick this box to go on."
    assert error_of(response.text, f"q_{many}") == "Please choose at least one option."
    assert await registration_rows(db) == []


async def test_a_removed_question_is_no_longer_asked_and_its_answers_stay(
    client: httpx.AsyncClient, db: DB, create_event: Any
) -> None:
    event_id = await create_event(slug="scoasa")
    kept, gone = await add_questions(db, event_id, {"kind": "text", "label_en": "Kept"}, EVERY_KIND[0])
    data = {**await open_form(client, "scoasa"), **person(), f"q_{kept}": "a", f"q_{gone}": "b"}
    assert (await client.post("/events/scoasa/register", data=data)).status_code == 303
    event = await load_event(db, event_id)  # removed as the back office removes one
    assert await questionnaire.remove(db, event, gone, Actor(None, "test", "127.0.0.1"))
    page = (await client.get("/events/scoasa")).text
    assert f'name="q_{kept}"' in page and f'name="q_{gone}"' not in page
    data = {**await open_form(client, "scoasa"), **person(email="alta@example.org"), f"q_{gone}": "ignored"}
    assert (await client.post("/events/scoasa/register", data=data)).status_code == 303  # no longer required
    first, second = await registration_rows(db)
    assert await answers_of(db, first["id"]) == {kept: "a", gone: "b"} and await answers_of(db, second["id"]) == {}


async def test_a_changed_question_set_is_noticed_by_the_lock_free_path(
    client: httpx.AsyncClient, db: DB, create_event: Any, app: Any
) -> None:
    await create_event(slug="proaspat")
    writer = app.state.registrar.writer
    hidden = await open_form(client, "proaspat")
    assert (await client.post("/events/proaspat/register", data={**hidden, **person()})).status_code == 303
    assert writer.writes == 1  # the kept copy of the event (without questions) is now warm
    event_id = (await registration_rows(db))[0]["event_id"]
    [asked] = await add_questions(db, event_id, {"kind": "text", "label_en": "Licence", "required": True})
    response = await client.post("/events/proaspat/register", data={**hidden, **person(email="b@example.org")})
    assert response.status_code == 422 and error_of(response.text, f"q_{asked}") == "Please answer this question."
    assert writer.writes == 1 and len(await registration_rows(db)) == 1
    data = {**hidden, **person(email="b@example.org"), f"q_{asked}": "CMR 1234"}
    assert (await client.post("/events/proaspat/register", data=data)).status_code == 303
    assert sorted((await answers_of(db)).values()) == ["CMR 1234"]
