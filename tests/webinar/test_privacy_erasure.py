"""Erasure by the attendee leaves no trace of them anywhere; retention erases events past their period."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import csrf_for
from tests.webinar.access_helpers import join_path, load_event
from tests.webinar.privacy_helpers import audit_actions, register_and_join, registration
from tests.webinar.question_helpers import add_questions
from webinar.clock import now
from webinar.evaluation import queries as evaluation_queries
from webinar.evaluation.queries import QuestionInput
from webinar.jobs import release_lease, take_lease
from webinar.privacy import retention
from webinar.tables import (
    answers,
    consent_records,
    evaluation_answers,
    evaluation_results,
    metadata,
    outbox,
    presence_checks,
    questions,
    registrations,
    viewing_sessions,
    web_sessions,
)
from webinar.web.cookies import COOKIE_NAME

IP = "198.51.100.23"
AGENT = "Mozilla/5.0 (Zenovia's laptop)"
PERSON = {
    "first_name": "Zenovia",
    "last_name": "Bărbulescu",
    "email": "Zenovia.Barbulescu@example.net",
    "phone": "+40 744 123 987",
    "job_title": "Farmacistă-șefă",
    "organisation": "Spitalul Județean Zalău",
}
# Their answers to the event's custom questions, a removed question's too: their own words, gone with them.
ANSWERS = {"specialty": "Farmacie clinică Zalău", "story": "Lucrez în spital de 12 ani", "removed": "Secret vechi"}
# Their presence checks (SPEC §13): when they were shown one and answered it, recognisable by the microseconds.
CHECK_SHOWN = dt.datetime(2026, 11, 20, 10, 17, 3, 424242, tzinfo=dt.UTC)
CHECK_ANSWERED = dt.datetime(2026, 11, 20, 10, 17, 9, 535353, tzinfo=dt.UTC)
# Their final evaluation (SPEC §13): when they sent it, recognisable by the microseconds; the options they chose.
EVALUATED = dt.datetime(2026, 11, 20, 12, 30, 1, 646464, tzinfo=dt.UTC)
TRACES = [*PERSON.values(), PERSON["email"].casefold(), IP, AGENT, *ANSWERS.values(), "424242", "535353", "646464"]


@pytest.fixture
async def visitor(app) -> httpx.AsyncClient:
    """A browser at its own, recognisable address."""
    transport = httpx.ASGITransport(app=app, client=(IP, 4321))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"user-agent": AGENT}
    ) as http:
        yield http


async def dump(db) -> str:
    """Every row of every table, stringified."""
    parts = []
    async with db.connection() as conn:
        for table in metadata.sorted_tables:
            for row in await conn.fetch_all(sa.select(table)):
                parts.append(f"{table.name}: {tuple(row._mapping.values())!r}")
    return "\n".join(parts)


async def test_erasure_leaves_no_trace_of_the_person_in_the_whole_database(
    visitor, db, settings, create_event, create_viewing_session
):
    event_id = await create_event(language="en", field_phone="optional")
    specialty, story, removed = await add_questions(
        db, event_id, *({"kind": kind, "label_en": kind} for kind in ("text", "textarea", "text"))
    )
    replies = {
        f"q_{specialty}": ANSWERS["specialty"],
        f"q_{story}": ANSWERS["story"],
        f"q_{removed}": ANSWERS["removed"],
    }
    event, reg = await register_and_join(visitor, db, settings, event_id, consent_marketing="on", **PERSON, **replies)
    async with db.transaction() as conn:
        await conn.execute(questions.update().where(questions.c.id == removed).values(removed_at=now()))
    await create_viewing_session(
        event.id, reg, now() - dt.timedelta(minutes=30), now() - dt.timedelta(minutes=5), ip=IP, user_agent=AGENT
    )
    async with db.transaction() as conn:
        await conn.execute(
            presence_checks.insert().values(
                event_id=event.id, registration_id=reg, number=1, due_at=CHECK_SHOWN,
                answer_by=CHECK_SHOWN + dt.timedelta(seconds=60), shown_at=CHECK_SHOWN, answered_at=CHECK_ANSWERED,
            )
        )  # fmt: skip
    async with db.transaction() as conn:
        await evaluation_queries.replace_test(
            conn, event.id, [QuestionInput("Doza?", (("5 mg", True), ("50 mg", False)))]
        )
        [question] = await evaluation_queries.test_of(conn, event.id)
        result = evaluation_queries.Result(score=100, passed=True, submitted_at=EVALUATED)
        await evaluation_queries.insert_result(conn, event.id, reg, result, frozenset({question.options[0].id}))
    exported = (await visitor.get(f"/events/{event.slug}/me/export.json")).json()
    assert exported["evaluation"] == {
        "score": 100, "passed": True, "submitted_at": EVALUATED.isoformat(),
        "answers": [{"question": "Doza?", "chosen": ["5 mg"]}],
    }  # fmt: skip
    assert [c["answered_at"] for c in exported["presence_checks"]] == [CHECK_ANSWERED.isoformat()]
    assert exported["attendance"]["presence_checks_answered"] == 1
    token = await csrf_for(visitor, f"/events/{event.slug}/login")
    await visitor.post(f"/events/{event.slug}/send-link", data={"email": PERSON["email"], "csrf_token": token})
    before = await dump(db)
    assert [t for t in TRACES if t not in before] == []  # the test can fail: everything was there

    token = await csrf_for(visitor, f"/events/{event.slug}/me/erase")
    response = await visitor.post(f"/events/{event.slug}/me/erase", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"].endswith("/me/erased")

    after = await dump(db)
    found = [trace for trace in TRACES if trace.casefold() in after.casefold()]
    assert found == []
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(answers)) == 0
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(presence_checks)) == 0
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(questions)) == 3  # the questions stay
        for gone in (evaluation_results, evaluation_answers):  # the evaluation's questions stay too
            assert await conn.fetch_val(sa.select(sa.func.count()).select_from(gone)) == 0
    row = await registration(db, reg)
    assert row["erased_at"] is not None and row["status"] == "cancelled" and row["search_text"] == ""
    [entry] = [a for a in await audit_actions(db, reg) if a["action"] == "registration.erased"]
    assert entry["actor"] == "attendee" and entry["ip"] is None and '"attendee"' in entry["details_json"]


async def test_erasure_keeps_session_times_and_consent_facts_without_identity(
    client, db, settings, create_event, create_viewing_session
):
    event, reg = await register_and_join(client, db, settings, await create_event(language="en"))
    start = now() - dt.timedelta(hours=1)
    await create_viewing_session(event.id, reg, start, start + dt.timedelta(minutes=40))
    open_id = await create_viewing_session(event.id, reg, now() - dt.timedelta(minutes=2))
    token = await csrf_for(client, f"/events/{event.slug}/me/erase")
    await client.post(f"/events/{event.slug}/me/erase", data={"csrf_token": token})
    async with db.connection() as conn:
        sessions = await conn.fetch_all(viewing_sessions.select().where(viewing_sessions.c.registration_id == reg))
        consents = await conn.fetch_all(consent_records.select().where(consent_records.c.registration_id == reg))
        mails = await conn.fetch_all(outbox.select().where(outbox.c.registration_id == reg))
    assert len(sessions) == 2 and all(s["ip"] is None and s["user_agent"] is None for s in sessions)
    assert all(s["ended_at"] is not None for s in sessions)  # the open one was closed
    assert next(s for s in sessions if s["id"] != open_id)["ended_at"] == start + dt.timedelta(minutes=40)
    assert {c["purpose"] for c in consents} == {"processing", "age"}
    assert all(
        c["ip"] is None and c["user_agent"] is None and c["text_sha256"]
        for c in consents
        if c["purpose"] == "processing"
    )
    assert [m["status"] for m in mails] == ["cancelled"] and mails[0]["to_address"] == "erased"


async def test_after_erasure_the_old_link_and_session_no_longer_work(client, db, settings, create_event):
    event, reg = await register_and_join(client, db, settings, await create_event(language="en"))
    old_cookie = client.cookies.get(COOKIE_NAME)
    token = await csrf_for(client, f"/events/{event.slug}/me/erase")
    erased = await client.post(f"/events/{event.slug}/me/erase", data={"csrf_token": token})
    assert erased.status_code == 303
    page = await client.get(erased.headers["location"])
    assert page.status_code == 200 and "erased" in page.text
    assert (await client.get(join_path(settings, event, reg))).status_code == 400
    assert (await client.get(join_path(settings, event, reg, version=2))).status_code == 400
    client.cookies.set(COOKIE_NAME, old_cookie)
    for path in ("me", "watch", "me/export.json"):
        response = await client.get(f"/events/{event.slug}/{path}")
        assert response.status_code == 303 and urlsplit(response.headers["location"]).path.endswith("/login")
    # A second click on the button (same old cookie) is told it is done, not asked to sign in.
    again = await client.post(f"/events/{event.slug}/me/erase", data={"csrf_token": token})
    assert again.status_code == 303 and again.headers["location"].endswith("/me/erased")
    async with db.connection() as conn:
        live = await conn.fetch_val(
            sa.select(sa.func.count()).where(web_sessions.c.registration_id == reg, web_sessions.c.revoked_at.is_(None))
        )
    assert live == 0


async def test_erase_without_csrf_token_erases_nothing(client, db, settings, create_event):
    event, reg = await register_and_join(client, db, settings, await create_event(language="en"))
    response = await client.post(f"/events/{event.slug}/me/erase", data={})
    assert response.status_code == 403
    assert (await registration(db, reg))["erased_at"] is None


async def test_erase_page_says_what_will_happen(client, db, settings, create_event):
    event, _reg = await register_and_join(client, db, settings, await create_event(language="en"))
    page = await client.get(f"/events/{event.slug}/me/erase")
    assert page.status_code == 200 and "cannot be undone" in page.text and 'method="post"' in page.text


async def _ended(create_event, days_ago: float, retention_days: int = 30) -> int:
    end = now().replace(microsecond=0) - dt.timedelta(days=days_ago)
    return await create_event(
        language="en", starts_at=end - dt.timedelta(hours=2), ends_at=end, retention_days=retention_days
    )


async def test_retention_purges_past_the_period_and_keeps_the_rest(
    db, create_event, create_registration, create_viewing_session
):
    old = await _ended(create_event, 31)
    recent = await _ended(create_event, 29)
    old_reg = await create_registration(old, email="vechi@example.org", phone="+40 700 000 001")
    recent_reg = await create_registration(recent, email="recent@example.org")
    [old_question] = await add_questions(db, old, {"kind": "text", "label_en": "Old"})
    [recent_question] = await add_questions(db, recent, {"kind": "text", "label_en": "Recent"})
    async with db.transaction() as conn:
        await conn.execute(answers.insert().values(registration_id=old_reg, question_id=old_question, value="vechi"))
        await conn.execute(
            answers.insert().values(registration_id=recent_reg, question_id=recent_question, value="recent")
        )
    await create_viewing_session(old, old_reg, now() - dt.timedelta(days=31, hours=1), now() - dt.timedelta(days=31))
    async with db.transaction() as conn:
        for event_id, reg_id in ((old, old_reg), (recent, recent_reg)):
            shown = now() - dt.timedelta(days=31, minutes=30)
            await conn.execute(
                presence_checks.insert().values(
                    event_id=event_id, registration_id=reg_id, number=1, due_at=shown,
                    answer_by=shown + dt.timedelta(seconds=60), shown_at=shown, answered_at=shown,
                )
            )  # fmt: skip
            await evaluation_queries.replace_test(conn, event_id, [QuestionInput("Q?", (("Da", True), ("Nu", False)))])
            [question] = await evaluation_queries.test_of(conn, event_id)
            result = evaluation_queries.Result(score=0, passed=False, submitted_at=shown)
            await evaluation_queries.insert_result(conn, event_id, reg_id, result, frozenset({question.options[1].id}))
    summary = await retention.purge_due(db)
    assert (summary.events, summary.registrations) == (1, 1)
    gone, kept = await registration(db, old_reg), await registration(db, recent_reg)
    assert gone["erased_at"] is not None and gone["email"] is None and gone["phone"] is None
    assert gone["status"] == "approved"  # after the event: the totals keep their count
    assert kept["erased_at"] is None and kept["email"] == "recent@example.org"
    async with db.connection() as conn:
        left = await conn.fetch_all(sa.select(answers.c.registration_id, answers.c.value))
    assert [(r["registration_id"], r["value"]) for r in left] == [(recent_reg, "recent")]  # the answers go too
    async with db.connection() as conn:
        checked = await conn.fetch_all(sa.select(presence_checks.c.registration_id))
    assert [r["registration_id"] for r in checked] == [recent_reg]  # and the presence checks
    async with db.connection() as conn:
        for table in (evaluation_results, evaluation_answers):  # and the final evaluation
            assert [r[0] for r in await conn.fetch_all(sa.select(table.c.registration_id))] == [recent_reg]
    assert (await load_event(db, old)).purged_at is None
    entries = [a for a in await audit_actions(db, event_id=old) if a["action"] == "event.retention_purged"]
    assert len(entries) == 1 and '"erased": 1' in entries[0]["details_json"]
    assert (await retention.purge_due(db)).registrations == 0  # idempotent
    # Moving the clock (not the data) two days on reaches the other event too.
    later = await retention.purge_due(db, at=now() + dt.timedelta(days=2))
    assert later.registrations == 1 and (await registration(db, recent_reg))["erased_at"] is not None


async def test_the_daily_lease_lets_one_worker_run_per_day(db):
    at, job = now(), retention.JOB
    assert await take_lease(db, job, owner="a", at=at) is True
    assert await take_lease(db, job, owner="b", at=at) is False  # held
    await release_lease(db, job, owner="a", ran=True)
    assert await take_lease(db, job, owner="b", at=now()) is False  # ran less than a day ago
    assert await take_lease(db, job, owner="b", at=now() + dt.timedelta(hours=25)) is True
    # A crashed holder's lease lapses by itself.
    assert await take_lease(db, job, owner="c", at=now() + dt.timedelta(hours=25, minutes=10)) is False
    assert await take_lease(db, job, owner="c", at=now() + dt.timedelta(hours=25, minutes=31)) is True


async def test_webinar_purge_runs(settings, db, create_event, create_registration):
    from webinar.worker import jobs, run_purge

    old = await _ended(create_event, 40)
    reg = await create_registration(old)
    message = await run_purge(settings)
    assert "1 registration(s) erased in 1 event(s)" in message
    assert (await registration(db, reg))["erased_at"] is not None
    assert retention.JOB in jobs()
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).where(registrations.c.email.is_not(None))) == 0
