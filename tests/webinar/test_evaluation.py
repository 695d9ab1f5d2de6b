"""The final evaluation (SPEC §13) over HTTP on both engines: the organiser sets the test in the back office, an
approved attendee takes it once after the end from /me, scored on the server; completion certificates for those who
qualify and pass, participation ones (without credits) otherwise; every bad input a clear error with nothing stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from tests.conftest import csrf_from, login_staff
from tests.webinar.access_helpers import join, load_event, on_now
from tests.webinar.evaluation_helpers import answers, set_test, stored_test, take
from webinar import clock
from webinar.db import DB
from webinar.tables import audit_log, evaluation_answers, evaluation_options, evaluation_questions, evaluation_results


@pytest.fixture
async def organiser(app: Any, create_organisation: Any, create_staff: Any) -> tuple[httpx.AsyncClient, int]:
    """An organiser's browser and their organisation."""
    org_id = await create_organisation()
    user = await create_staff("organiser", org_id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50007))
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    assert (await login_staff(http, user.email)).status_code == 303
    yield http, org_id
    await http.aclose()


def _past(**fields: Any) -> dict[str, Any]:
    """An event that ended an hour ago after two hours live, issuing certificates with credits."""
    start = clock.now().replace(microsecond=0) - dt.timedelta(hours=3)
    values = {
        "starts_at": start, "ends_at": start + dt.timedelta(hours=2), "certificates": True,
        "certificate_series": "CFR-2026", "credits": "3 credite EFC", "attendance_minutes": 90, "language": "ro",
    }  # fmt: skip
    return values | fields


async def _attendee(
    app: Any, db: DB, settings: Any, event_id: int, create_registration: Any, create_viewing_session: Any, minutes=100
) -> tuple[httpx.AsyncClient, int]:
    """A signed-in attendee's own browser, who watched `minutes` live."""
    event = await load_event(db, event_id)
    reg = await create_registration(event_id, first_name="Ioana", last_name="Țăranu")
    if minutes:
        start = event.starts_at + dt.timedelta(minutes=5)
        await create_viewing_session(event_id, reg, start, start + dt.timedelta(minutes=minutes))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await join(http, settings, event, reg)
    return http, reg


async def _count(db: DB, table: sa.Table) -> int:
    async with db.connection() as conn:
        return int(await conn.fetch_val(sa.select(sa.func.count()).select_from(table)))


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def test_the_organiser_sets_the_test_and_sees_it_as_text_and_as_participants_see_it(
    organiser, db, create_event
) -> None:
    http, org = organiser
    event_id = await create_event(organisation_id=org, **_past())
    assert (await http.get(f"/admin/events/{event_id}")).text.count(f"/admin/events/{event_id}/evaluation") == 1
    response = await set_test(http, event_id)
    assert response.status_code == 303 and response.headers["location"].endswith("?saved=1")
    test = await stored_test(db, event_id)
    assert [q.text for q in test] == ["Ce organ pompează sângele?", "Care sunt vitamine liposolubile?",
                                      "Câte camere are inima?"]  # fmt: skip
    assert [[(o.text, o.correct) for o in q.options] for q in test][1] == [
        ("Vitamina A", True), ("Vitamina D", True), ("Vitamina C", False)
    ]  # fmt: skip
    assert [q.multiple for q in test] == [False, True, False]
    event = await load_event(db, event_id)
    assert event.evaluation and event.evaluation_pass_mark == 60
    page = await http.get(f"/admin/events/{event_id}/evaluation?saved=1")
    assert "* Inima" in page.text and 'id="evaluation-preview"' in page.text and "Vitamina D" in page.text
    # Saved again, changed: the old questions are replaced, not added to.
    assert (await set_test(http, event_id, questions="Da sau nu?\n* Da\n- Nu", pass_mark="100")).status_code == 303
    assert [q.text for q in await stored_test(db, event_id)] == ["Da sau nu?"]
    async with db.connection() as conn:
        saved = await conn.fetch_all(
            sa.select(audit_log.c.details_json).where(audit_log.c.action == "evaluation.saved")
        )
    assert len(saved) == 2 and '"pass_mark": 100' in saved[1][0]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"questions": "Întrebare?\n- A\n- B"}, "questions", "Line 1: mark at least one option"),
        ({"questions": "Întrebare?\n* A\nB"}, "questions", "Line 3: an option starts with *"),
        ({"questions": "Întrebare?\n* A"}, "questions", "Line 1: a question has between 2 and 10 options"),
        ({"questions": "Întrebare?\n* A\n- A"}, "questions", "Line 3: this question already has the option"),
        ({"questions": "* A\n- B"}, "questions", "Line 1: a question comes first"),
        ({"questions": ""}, "questions", "An evaluation needs at least one question."),
        ({"questions": "Q?\n* \x00A\n- B"}, "questions", "Remove the control characters"),
        ({"pass_mark": "0"}, "pass_mark", "Give the pass mark as a whole percentage from 1 to 100."),
        ({"pass_mark": "101"}, "pass_mark", "Give the pass mark as a whole percentage from 1 to 100."),
        ({"pass_mark": "7x"}, "pass_mark", "Give the pass mark as a whole percentage from 1 to 100."),
    ],
)
async def test_a_bad_test_is_a_422_beside_its_field_and_nothing_is_stored(
    organiser, db, create_event, fields, field, message
) -> None:
    http, org = organiser
    event_id = await create_event(organisation_id=org, **_past())
    response = await set_test(http, event_id, **fields)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text.replace("&#34;", '"')
    assert await _count(db, evaluation_questions) == 0 and await _count(db, evaluation_options) == 0
    assert not (await load_event(db, event_id)).evaluation


async def test_another_organisations_evaluation_is_a_404(organiser, db, create_event) -> None:
    http, _org = organiser
    other = await create_event(**_past())
    assert (await http.get(f"/admin/events/{other}/evaluation")).status_code == 404


async def test_qualifying_and_passing_gives_a_completion_certificate_with_the_credits(
    app, organiser, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    http, org = organiser
    event_id = await create_event(organisation_id=org, **_past())
    await set_test(http, event_id)
    attendee, reg = await _attendee(app, db, settings, event_id, create_registration, create_viewing_session)
    me = await attendee.get(f"/events/{(await load_event(db, event_id)).slug}/me")
    assert 'id="take-evaluation"' in me.text
    slug = (await load_event(db, event_id)).slug
    page = await attendee.get(f"/events/{slug}/me/evaluation")
    assert "Ce organ pompează sângele?" in page.text and 'type="checkbox"' in page.text and 'type="radio"' in page.text
    assert "correct" not in page.text.split('id="evaluation-form"')[1]  # the right answers never reach the page
    test = await stored_test(db, event_id)
    response = await take(attendee, slug, answers(test, right=2))  # 2 of 3: 66 %, pass mark 60
    assert response.status_code == 303 and response.headers["location"].endswith(f"/events/{slug}/me#evaluation")
    async with db.connection() as conn:
        [result] = await conn.fetch_all(sa.select(evaluation_results))
        chosen = await conn.fetch_all(sa.select(evaluation_answers.c.option_id))
    assert (result["registration_id"], result["score"], result["passed"]) == (reg, 66, True)
    assert len(chosen) == 1 + 2 + 1  # the second question's two options
    me = await attendee.get(f"/events/{slug}/me")
    assert 'id="evaluation-result"' in me.text and "66 %" in me.text and 'id="take-evaluation"' not in me.text
    pdf = await attendee.get(f"/events/{slug}/me/certificate.pdf")
    assert pdf.status_code == 200
    text = _text(pdf.content)
    assert "CERTIFICAT DE ABSOLVIRE" in text and "3 credite EFC" in text and "Ioana Țăranu" in text
    await attendee.aclose()


async def test_failing_or_skipping_gives_a_participation_certificate_without_credits_until_passing(
    app, organiser, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    http, org = organiser
    event_id = await create_event(organisation_id=org, **_past())
    await set_test(http, event_id)
    slug = (await load_event(db, event_id)).slug
    test = await stored_test(db, event_id)
    skipper, _reg = await _attendee(app, db, settings, event_id, create_registration, create_viewing_session)
    skipped = _text((await skipper.get(f"/events/{slug}/me/certificate.pdf")).content)
    assert "CERTIFICAT DE PARTICIPARE" in skipped and "3 credite EFC" not in skipped
    # Taking it later and passing makes the same certificate (same number) one of completion.
    assert (await take(skipper, slug, answers(test, right=3))).status_code == 303
    passed = _text((await skipper.get(f"/events/{slug}/me/certificate.pdf")).content)
    assert "CERTIFICAT DE ABSOLVIRE" in passed and "3 credite EFC" in passed
    number = next(line for line in skipped.splitlines() if "CFR-2026-1-" in line)
    assert number in passed
    failer, reg = await _attendee(app, db, settings, event_id, create_registration, create_viewing_session)
    assert (await take(failer, slug, answers(test, right=1))).status_code == 303  # 33 %: below 60
    failed = _text((await failer.get(f"/events/{slug}/me/certificate.pdf")).content)
    assert "CERTIFICAT DE PARTICIPARE" in failed and "3 credite EFC" not in failed
    me = await failer.get(f"/events/{slug}/me")
    assert "33 %" in me.text and "nepromovat" in me.text
    registrant = await http.get(f"/admin/events/{event_id}/registrants/{reg}")  # the organiser sees the result too
    assert 'id="evaluation-score"' in registrant.text and "33 %" in registrant.text
    register = (await http.get(f"/admin/events/{event_id}/certificates")).text  # the organiser sees each one's kind
    assert register.count("<td>completion</td>") == 1 and register.count("<td>participation</td>") == 1
    # Not qualifying (too few minutes) is still a 403, whatever the evaluation.
    late, _reg = await _attendee(app, db, settings, event_id, create_registration, create_viewing_session, minutes=20)
    assert (await take(late, slug, answers(test, right=3))).status_code == 303
    assert (await late.get(f"/events/{slug}/me/certificate.pdf")).status_code == 403
    for browser in (skipper, failer, late):
        await browser.aclose()


async def test_bad_answers_are_a_422_beside_the_question_and_nothing_is_stored(
    app, organiser, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    http, org = organiser
    event_id = await create_event(organisation_id=org, **_past(language="en"))
    other_id = await create_event(organisation_id=org, **_past(language="en"))
    await set_test(http, event_id)
    await set_test(http, other_id, questions="Altă întrebare?\n* Da\n- Nu")
    slug = (await load_event(db, event_id)).slug
    test, [foreign] = await stored_test(db, event_id), await stored_test(db, other_id)
    attendee, _reg = await _attendee(app, db, settings, event_id, create_registration, create_viewing_session)
    good = answers(test, right=3)
    first, second = (f"q{q.id}" for q in test[:2])
    bad = {
        "unknown option": (good | {first: ["999999"]}, first, "That is not one of this question's options."),
        "another question's option": (good | {first: [str(test[2].options[0].id)]}, first, "not one of this question"),
        "another event's option": (good | {first: [str(foreign.options[0].id)]}, first, "not one of this question"),
        "not a number": (good | {first: ["x"]}, first, "not one of this question"),
        "two for a one-answer question": (
            good | {first: [str(o.id) for o in test[0].options[:2]]},
            first,
            "Choose one answer to this question.",
        ),
        "unanswered": ({k: v for k, v in good.items() if k != second}, second, "Answer this question."),
        "another event's question": (
            good | {f"q{foreign.id}": [str(foreign.options[0].id)]},
            "form",
            "This form does not match the evaluation",
        ),
    }
    for case, (form, field, message) in bad.items():
        response = await take(attendee, slug, form)
        assert response.status_code == 422, case
        assert message in response.text.replace("&#39;", "'"), case
        if field != "form":
            assert f'id="{field}-error"' in response.text, case
        assert await _count(db, evaluation_results) == 0 and await _count(db, evaluation_answers) == 0, case
    await attendee.aclose()


async def test_answering_twice_is_refused_and_the_first_answers_stay(
    app, organiser, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    http, org = organiser
    event_id = await create_event(organisation_id=org, **_past(language="en"))
    await set_test(http, event_id)
    slug = (await load_event(db, event_id)).slug
    test = await stored_test(db, event_id)
    attendee, _reg = await _attendee(app, db, settings, event_id, create_registration, create_viewing_session)
    page = await attendee.get(f"/events/{slug}/me/evaluation")
    assert (await take(attendee, slug, answers(test, right=1))).status_code == 303
    # The same form posted again (a second tab, the back button): refused, the first result kept.
    again = await attendee.post(
        f"/events/{slug}/me/evaluation", data={**answers(test, right=3), "csrf_token": csrf_from(page.text)}
    )
    assert again.status_code == 409 and "only once" in again.text
    assert (await attendee.get(f"/events/{slug}/me/evaluation")).status_code == 409
    async with db.connection() as conn:
        assert [r["score"] for r in await conn.fetch_all(sa.select(evaluation_results.c.score))] == [33]
    # Once taken, the organiser can no longer change the test.
    locked = await set_test(http, event_id, questions="Nouă?\n* Da\n- Nu")
    assert locked.status_code == 422 and "can no longer change" in locked.text
    assert len(await stored_test(db, event_id)) == 3
    await attendee.aclose()


async def test_before_the_end_without_a_session_or_an_evaluation_nothing_can_be_taken(
    app, organiser, client, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    http, org = organiser
    ongoing = await create_event(organisation_id=org, **on_now(certificates=False, language="en"))
    await set_test(http, ongoing)
    slug = (await load_event(db, ongoing)).slug
    test = await stored_test(db, ongoing)
    attendee, _reg = await _attendee(app, db, settings, ongoing, create_registration, create_viewing_session, 0)
    assert "opens here when the event ends" in (await attendee.get(f"/events/{slug}/me")).text
    early = await attendee.get(f"/events/{slug}/me/evaluation")
    assert early.status_code == 403 and "opens when the event ends" in early.text
    me = await attendee.get(f"/events/{slug}/me")
    posted = await attendee.post(
        f"/events/{slug}/me/evaluation", data={**answers(test, 3), "csrf_token": csrf_from(me.text)}
    )
    assert posted.status_code == 403
    # Signed in to another event (someone else's registration there): this event's evaluation does not exist for them.
    past = await create_event(organisation_id=org, **_past(language="en"))
    await set_test(http, past)
    past_slug = (await load_event(db, past)).slug
    assert (await attendee.get(f"/events/{past_slug}/me/evaluation")).status_code == 404
    assert (await client.get(f"/events/{past_slug}/me/evaluation")).status_code == 404  # no session at all
    # An event without an evaluation: 404.
    plain = await create_event(organisation_id=org, **_past(language="en"))
    other, _reg = await _attendee(app, db, settings, plain, create_registration, create_viewing_session)
    assert (await other.get(f"/events/{(await load_event(db, plain)).slug}/me/evaluation")).status_code == 404
    assert await _count(db, evaluation_results) == 0
    await attendee.aclose()
    await other.aclose()


async def test_two_tabs_sending_at_the_same_moment_store_one_result(
    app, organiser, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    http, org = organiser
    event_id = await create_event(organisation_id=org, **_past(language="en"))
    await set_test(http, event_id)
    slug = (await load_event(db, event_id)).slug
    test = await stored_test(db, event_id)
    attendee, _reg = await _attendee(app, db, settings, event_id, create_registration, create_viewing_session)
    page = await attendee.get(f"/events/{slug}/me/evaluation")
    token = csrf_from(page.text)
    sent = await asyncio.gather(
        *(
            attendee.post(f"/events/{slug}/me/evaluation", data={**answers(test, right), "csrf_token": token})
            for right in (1, 3)
        )
    )
    assert sorted(r.status_code for r in sent) == [303, 409]
    async with db.connection() as conn:
        [result] = await conn.fetch_all(sa.select(evaluation_results.c.score))
        chosen = await conn.fetch_all(sa.select(evaluation_answers.c.option_id))
    assert result[0] in (33, 100) and len(chosen) == (3 if result[0] == 33 else 4)  # one tab's answers, whole
    await attendee.aclose()
