"""10,000 people import in one go on both engines, every one of them with their consent basis and answers (the
time it takes is measured by hand, not here: docs/registration.md)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count
from tests.admin.import_helpers import HEADER, confirm, csv_bytes, people, token_of, upload
from tests.webinar.question_helpers import add_questions
from webinar.tables import answers, consent_records, import_uploads, outbox, registrations

N = 10_000


async def test_ten_thousand_rows_are_all_imported(importer, db, create_event) -> None:
    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id)
    [specialty] = await add_questions(db, event_id, {"kind": "text", "label_en": "Specialty"})
    rows = [[*row, "Cardiologie"] for row in people(N)]
    content = csv_bytes([[*HEADER, "Specialty"], *rows], delimiter=";")
    preview = await upload(http, event_id, content)
    assert preview.status_code == 200 and "Import 10,000 people" in preview.text
    assert "9,800 more rows like these" in preview.text  # the page shows a sample, and every refused row
    response = await confirm(http, event_id, token_of(preview), emails="send")
    assert response.status_code == 303
    assert await count(db, registrations, registrations.c.event_id == event_id) == N
    assert await count(db, consent_records, consent_records.c.action == "imported") == N
    assert await count(db, answers, answers.c.question_id == specialty) == N
    assert await count(db, outbox, outbox.c.kind == "confirmation") == N
    assert await count(db, import_uploads) == 0
    async with db.connection() as conn:
        emails = {r[0] for r in await conn.fetch_all(sa.select(registrations.c.email))}
    assert emails == {f"persoana{i}@example.org" for i in range(1, N + 1)}
    [entry] = await audit_entries(db, "registrations.imported")
    assert entry["rows"] == N and entry["approved"] == N
