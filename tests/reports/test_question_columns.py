"""The registered report ends each row with the event's questions: one column per question in order, headed by its
label in the event's language, a multichoice joined with "; ", a removed question's answers kept; CSV and XLSX."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from reports.exporters import EXPORTERS
from tests.reports.conftest import StaffClient, parse_csv, parse_xlsx
from tests.webinar.question_helpers import EVERY_KIND, GOOD_ANSWERS, add_questions, answered
from tests.webinar.regutil import open_form, person
from webinar.clock import now
from webinar.tables import questions

FIXED = list(EXPORTERS["registered"].header)


async def _registered(client: Any, slug: str, **answers: Any) -> None:
    data = {**await open_form(client, slug), **person(**answers.pop("who", {})), **answers}
    response = await client.post(f"/events/{slug}/register", data=data)
    assert response.status_code == 303, response.text[:500]


async def test_answers_follow_the_fixed_columns_headed_in_the_events_language(
    client, db, create_organisation, create_event, staff_client: StaffClient
) -> None:
    org = await create_organisation()
    event_id = await create_event(organisation_id=org, slug="raport-ro", language="ro")
    ids = await add_questions(db, event_id, *EVERY_KIND)
    await _registered(client, "raport-ro", **answered(ids, **GOOD_ANSWERS))
    await _registered(
        client, "raport-ro", who={"email": "b@example.org"}, **answered(ids, text="-2+3", choice="Pediatrie")
    )
    http = await staff_client("organiser", org)
    rows = parse_csv(await http.get(f"/admin/events/{event_id}/reports/registered.csv"))
    labels = [spec["label_ro"] for spec in EVERY_KIND]
    assert rows[0] == FIXED + labels
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Subiecte de interes"] == "Diagnostic; Prevenție"  # in the options' order
    assert first["Întrebări pentru lector"] == "Prima întrebare\nA doua întrebare"
    assert (first["Doresc certificat"], first["Ani de experiență"], first["Data nașterii"]) == (
        "yes",
        "12.5",
        "1980-02-29",
    )
    second = dict(zip(rows[0], rows[2], strict=True))
    assert second["Specialitatea"] == "'-2+3"  # neutralised like every other cell
    assert second["Doresc certificat"] == "no" and second["Subiecte de interes"] == ""

    semicolon = parse_csv(await http.get(f"/admin/events/{event_id}/reports/registered.csv?sep=semicolon"), ";")
    assert semicolon[1] == rows[1]
    _sheet, cells = parse_xlsx(await http.get(f"/admin/events/{event_id}/reports/registered.xlsx"))
    assert list(cells[0]) == FIXED + labels and cells[1][len(FIXED) + 3] == "Diagnostic; Prevenție"


async def test_a_removed_question_keeps_its_column_while_its_answers_are_held(
    client, db, create_organisation, create_event, staff_client: StaffClient
) -> None:
    org = await create_organisation()
    event_id = await create_event(organisation_id=org, slug="scoase")
    answered_one, nobody, asked = await add_questions(
        db, event_id, *({"kind": "text", "label_en": label} for label in ("Answered", "Nobody", "Asked"))
    )
    await _registered(client, "scoase", **{f"q_{answered_one}": "kept", f"q_{asked}": "now"})
    async with db.transaction() as conn:
        await conn.execute(
            questions.update().where(questions.c.id.in_([answered_one, nobody])).values(removed_at=now())
        )
        last = await conn.fetch_val(sa.select(sa.func.max(questions.c.position)))
        await conn.execute(questions.update().where(questions.c.id == asked).values(position=last + 1))
    http = await staff_client("organiser", org)
    rows = parse_csv(await http.get(f"/admin/events/{event_id}/reports/registered.csv"))
    assert rows[0] == [*FIXED, "Answered", "Asked"]  # a removed question nobody answered has no column
    assert rows[1][len(FIXED) :] == ["kept", "now"]


async def test_an_event_without_questions_keeps_the_spec_header(
    client, create_organisation, create_event, staff_client
):
    org = await create_organisation()
    event_id = await create_event(organisation_id=org, slug="fara")
    await _registered(client, "fara")
    http = await staff_client("organiser", org)
    rows = parse_csv(await http.get(f"/admin/events/{event_id}/reports/registered.csv"))
    assert rows[0] == FIXED and len(rows[1]) == len(FIXED)
