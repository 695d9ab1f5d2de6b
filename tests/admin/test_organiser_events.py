"""Organisers' own events: an operator's setting per organisation lets them create, edit, duplicate and cancel them.

The matrix: the setting off (today's rights), on (their organisation's events only), and an operator, on both
engines, through the real app."""

from __future__ import annotations

import re
from typing import Any

import httpx
import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count
from tests.admin.test_events import event_form
from tests.conftest import csrf_for, login_staff
from webinar.clock import now
from webinar.db import DB
from webinar.tables import (
    consent_texts,
    email_templates,
    evaluation_options,
    evaluation_questions,
    events,
    organisations,
    questions,
    registrations,
)

EDITING = ("/admin/events/new", "/admin/events/{id}/edit", "/admin/events/{id}/duplicate")


async def _organiser(app: Any, create_staff: Any, organisation_id: int) -> httpx.AsyncClient:
    """An organiser of the organisation, logged in, in a browser of their own."""
    user = await create_staff("organiser", organisation_id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50006))
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    assert (await login_staff(http, user.email)).status_code == 303
    return http


async def _allow(http: httpx.AsyncClient, organisation_id: int, allowed: bool) -> httpx.Response:
    """The operator ticks, or unticks, the organisation's box on the organisations page."""
    token = await csrf_for(http, "/admin/organisations")
    data = {"csrf_token": token, **({"organisers_edit_events": "yes"} if allowed else {})}
    return await http.post(f"/admin/organisations/{organisation_id}/event-editing", data=data)


async def _post(http: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    return await http.post(path, data={**data, "csrf_token": await csrf_for(http, "/admin/")})


async def test_without_the_setting_organisers_keep_what_they_had(
    app, operator_client, create_staff, create_organisation, create_event, db: DB
) -> None:
    mine = await create_organisation()
    own = await create_event(organisation_id=mine, title="Al nostru")
    http = await _organiser(app, create_staff, mine)
    try:
        assert "/admin/events/new" not in (await http.get("/admin/")).text
        page = (await http.get(f"/admin/events/{own}")).text
        assert f"/admin/events/{own}/edit" not in page and f"/admin/events/{own}/duplicate" not in page
        for path in EDITING:
            assert (await http.get(path.format(id=own))).status_code == 404, path
        for path, data in (
            ("/admin/events", event_form(mine, title="Nou")),
            (f"/admin/events/{own}", event_form(mine, title="Schimbat")),
            (f"/admin/events/{own}/duplicate", event_form(mine, title="Copie")),
            (f"/admin/events/{own}/cancel", {"confirm": "yes"}),
        ):
            assert (await _post(http, path, data)).status_code == 404, path
        assert await count(db, events) == 1
        async with db.connection() as conn:
            assert await conn.fetch_val(sa.select(events.c.status).where(events.c.id == own)) == "scheduled"
    finally:
        await http.aclose()


async def test_with_the_setting_an_organiser_edits_their_organisations_events_only(
    app, operator_client, create_staff, create_organisation, create_event, db: DB
) -> None:
    mine, theirs = await create_organisation(), await create_organisation()
    own = await create_event(organisation_id=mine, title="Al nostru")
    other = await create_event(organisation_id=theirs, title="Al altora")
    operator = await operator_client()
    assert (await _allow(operator, mine, True)).status_code == 303
    assert 'name="organisers_edit_events" value="yes" checked' in (await operator.get("/admin/organisations")).text
    [entry] = await audit_entries(db, "organisation.updated")
    assert entry["organisers_edit_events"] is True
    http = await _organiser(app, create_staff, mine)
    try:
        assert "/admin/events/new" in (await http.get("/admin/")).text
        assert f"/admin/events/{own}/edit" in (await http.get(f"/admin/events/{own}")).text
        for path in EDITING:
            assert (await http.get(path.format(id=own))).status_code == 200, path
            if "{id}" in path:
                assert (await http.get(path.format(id=other))).status_code == 404, path

        # On the day: the stream's address changes, audited under the organiser's name.
        new_stream = "https://stream.example.org/backup/index.m3u8"
        response = await _post(http, f"/admin/events/{own}", event_form(mine, title="Al nostru", stream_url=new_stream))
        assert response.status_code == 303, response.text[-2000:]
        async with db.connection() as conn:
            assert await conn.fetch_val(sa.select(events.c.stream_url).where(events.c.id == own)) == new_stream
        [updated] = await audit_entries(db, "event.updated")
        assert updated["_actor"].startswith("organiser-") and "stream_url" in updated["changed"]

        # Their organisation only: another's event is a 404, and an event is not moved to another organisation.
        for path in (f"/admin/events/{other}", f"/admin/events/{other}/duplicate", f"/admin/events/{other}/cancel"):
            response = await _post(http, path, {**event_form(theirs, title="Deturnat"), "confirm": "yes"})
            assert response.status_code == 404, path
        moved = await _post(http, f"/admin/events/{own}", event_form(theirs, title="Mutat"))
        assert moved.status_code == 422 and 'id="organisation_id-error"' in moved.text
        created = await _post(http, "/admin/events", event_form(theirs, title="Pentru alții"))
        assert created.status_code == 422
        assert await count(db, events, events.c.title.in_(["Deturnat", "Mutat", "Pentru alții"])) == 0
        form = (await http.get("/admin/events/new")).text
        assert f'<option value="{mine}"' in form and f'<option value="{theirs}"' not in form

        created = await _post(http, "/admin/events", event_form(mine, title="Al doilea nostru"))
        assert created.status_code == 303
        assert await count(db, events, events.c.organisation_id == mine) == 2

        # The operator takes the right back: the pages are 404s again, at the next request.
        assert (await _allow(operator, mine, False)).status_code == 303
        assert (await http.get(f"/admin/events/{own}/edit")).status_code == 404
    finally:
        await http.aclose()


async def test_the_setting_is_the_operators_alone(app, create_staff, create_organisation, db: DB) -> None:
    mine = await create_organisation()
    http = await _organiser(app, create_staff, mine)
    try:
        token = await csrf_for(http, "/admin/")
        data = {"csrf_token": token, "organisers_edit_events": "yes"}
        assert (await http.post(f"/admin/organisations/{mine}/event-editing", data=data)).status_code == 404
        async with db.connection() as conn:
            query = sa.select(organisations.c.organisers_edit_events).where(organisations.c.id == mine)
            assert await conn.fetch_val(query) is False
    finally:
        await http.aclose()


async def test_an_unknown_organisation_is_a_404(operator_client) -> None:
    http = await operator_client()
    assert (await _allow(http, 987654, True)).status_code == 404


async def _set_up(db: DB, event_id: int) -> None:
    """Custom questions (one removed), e-mail texts and a final evaluation of the event."""
    at = now()
    async with db.transaction() as conn:
        for position, (label, removed) in enumerate((("Specialitatea", None), ("Veche", at), ("Oraș", None))):
            await conn.execute(
                questions.insert().values(
                    event_id=event_id, label_ro=label, label_en=label, kind="text", position=position,
                    removed_at=removed, created_at=at, updated_at=at,
                )
            )  # fmt: skip
        await conn.execute(
            email_templates.insert().values(
                event_id=event_id, kind="confirmation", language="ro", subject="Bun venit, {first_name}",
                body="Linkul: {join_link}", updated_by="cineva@example.org", updated_at=at,
            )
        )  # fmt: skip
        question_id = await conn.fetch_val(
            evaluation_questions.insert().values(event_id=event_id, position=1, text="2+2?")
            .returning(evaluation_questions.c.id)
        )  # fmt: skip
        for position, (option, correct) in enumerate((("4", True), ("5", False)), start=1):
            await conn.execute(
                evaluation_options.insert().values(
                    question_id=question_id, position=position, text=option, correct=correct
                )
            )
        await conn.execute(
            events.update().where(events.c.id == event_id).values(evaluation=True, evaluation_pass_mark=80)
        )


async def test_a_copy_takes_the_setup_not_the_people_and_asks_for_its_dates(
    operator_client, create_event, create_organisation, create_registration, db: DB
) -> None:
    org = await create_organisation()
    source = await create_event(organisation_id=org, title="Școala de vară", slug="scoala", capacity=40)
    await _set_up(db, source)
    await create_registration(source)
    http = await operator_client()
    form = (await http.get(f"/admin/events/{source}/duplicate")).text
    assert 'value="Școala de vară"' in form and 'id="copy-notice"' in form
    for name in ("starts_at", "ends_at", "slug"):
        assert f'name="{name}" type="' in form and f'id="{name}" name="{name}"' in form
        assert re.search(f'id="{name}" name="{name}" type="[a-z-]+" value=""', form), name

    # Dates to be set: without them, a 422 beside each, and nothing is stored.
    undated = event_form(org, title="Școala de vară", starts_at="", ends_at="", registration_closes_at="")
    response = await _post(http, f"/admin/events/{source}/duplicate", undated)
    assert response.status_code == 422 and 'id="starts_at-error"' in response.text
    assert await count(db, events) == 1

    dated = event_form(org, title="Școala de vară", starts_at="2031-07-01T10:00", ends_at="2031-07-01T12:00",
                       capacity="40", registration_closes_at="")  # fmt: skip
    response = await _post(http, f"/admin/events/{source}/duplicate", dated)
    assert response.status_code == 303, response.text[-2000:]
    copy = int(response.headers["location"].split("/")[-2])
    assert response.headers["location"].endswith(f"/admin/events/{copy}/edit")
    assert (await http.get(response.headers["location"])).status_code == 200
    async with db.connection() as conn:
        row = await conn.fetch_one(events.select().where(events.c.id == copy))
        labels = await conn.fetch_all(
            sa.select(questions.c.label_ro, questions.c.removed_at).where(questions.c.event_id == copy)
            .order_by(questions.c.position)
        )  # fmt: skip
        texts = await conn.fetch_all(email_templates.select().where(email_templates.c.event_id == copy))
        options = await conn.fetch_all(
            sa.select(evaluation_options.c.text, evaluation_options.c.correct)
            .join(evaluation_questions)
            .where(evaluation_questions.c.event_id == copy)
            .order_by(evaluation_options.c.position)
        )
        versions = await conn.fetch_val(sa.select(sa.func.count()).where(consent_texts.c.event_id == copy))
    assert row["slug"] == "scoala-de-vara" and row["capacity"] == 40 and row["organisation_id"] == org
    assert (row["evaluation"], row["evaluation_pass_mark"]) == (True, 80)
    assert [(r["label_ro"], r["removed_at"]) for r in labels] == [("Specialitatea", None), ("Oraș", None)]
    assert [(t["kind"], t["subject"]) for t in texts] == [("confirmation", "Bun venit, {first_name}")]
    assert [(o["text"], o["correct"]) for o in options] == [("4", True), ("5", False)]
    assert versions == 1
    assert await count(db, registrations, registrations.c.event_id == copy) == 0
    [entry] = await audit_entries(db, "event.duplicated")
    assert entry["copied_from"] == source and entry["_event_id"] == copy


async def test_an_organiser_with_the_setting_copies_their_own_event(
    app, operator_client, create_staff, create_organisation, create_event, db: DB
) -> None:
    mine = await create_organisation()
    own = await create_event(organisation_id=mine, title="Atelier")
    operator = await operator_client()
    await _allow(operator, mine, True)
    http = await _organiser(app, create_staff, mine)
    try:
        data = event_form(mine, title="Atelier", starts_at="2031-01-10T10:00", ends_at="2031-01-10T11:00",
                          registration_closes_at="")  # fmt: skip
        response = await _post(http, f"/admin/events/{own}/duplicate", data)
        assert response.status_code == 303
        [entry] = await audit_entries(db, "event.duplicated")
        assert entry["_actor"].startswith("organiser-")
    finally:
        await http.aclose()
