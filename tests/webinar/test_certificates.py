"""Certificates (SPEC §13): issued on the first download after the end to a person who qualifies, the same number
afterwards, a 403 with the reason otherwise; the PDF's text (pypdf) carries the exact name in any script; the public
verification page shows valid or revoked, the event, its date and the initials only; erasure revokes and blanks."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re

import httpx
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from tests.conftest import csrf_for, login_staff
from tests.reports.conftest import parse_csv
from tests.webinar.access_helpers import join, load_event
from tests.webinar.moved_clock import MovedClock
from tests.webinar.test_privacy_erasure import dump
from webinar import clock
from webinar.certificates import numbers
from webinar.privacy import retention
from webinar.tables import audit_log, certificates

SERIES = "CMSR-2026/0413"
NAME = ("Ștefan", "Țuțuianu-Răcăreanu")


def _past(**fields):
    """An event that ended an hour ago, after two hours live, issuing certificates."""
    start = clock.now().replace(microsecond=0) - dt.timedelta(hours=3)
    values = {
        "starts_at": start, "ends_at": start + dt.timedelta(hours=2), "certificates": True,
        "certificate_series": SERIES, "credits": "4 credite EMC", "attendance_minutes": 90,
        "field_member_id": "optional",
    }  # fmt: skip
    return values | fields


async def _attendee(client, db, settings, create_event, create_registration, create_viewing_session, minutes=100, **kw):
    event = await load_event(db, await create_event(**_past(**kw.pop("event", {}))))
    first, last = kw.pop("name", NAME)
    reg = await create_registration(event.id, first_name=first, last_name=last, member_id="CMR 40213", **kw)
    if minutes:
        start = event.starts_at + dt.timedelta(minutes=5)
        await create_viewing_session(event.id, reg, start, start + dt.timedelta(minutes=minutes))
    await join(client, settings, event, reg)
    return event, reg


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def _register(db, event_id):
    async with db.connection() as conn:
        return [dict(r._mapping) for r in await conn.fetch_all(
            certificates.select().where(certificates.c.event_id == event_id).order_by(certificates.c.sequence)
        )]  # fmt: skip


@pytest.mark.parametrize("name", [NAME, ("Дмитрий", "Иванов"), ("Αλέξανδρος", "Παπαδόπουλος")])
async def test_a_qualifying_attendee_downloads_a_numbered_certificate_with_the_exact_name(
    client, db, settings, create_event, create_registration, create_viewing_session, name
) -> None:
    event, _reg = await _attendee(
        client, db, settings, create_event, create_registration, create_viewing_session, name=name
    )
    me = await client.get(f"/events/{event.slug}/me")
    assert 'id="my-certificate"' in me.text and f"/events/{event.slug}/me/certificate.pdf" in me.text
    response = await client.get(f"/events/{event.slug}/me/certificate.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    [row] = await _register(db, event.id)
    assert row["sequence"] == 1 and row["full_name"] == f"{name[0]} {name[1]}" and row["minutes"] == 100
    assert re.fullmatch(rf"{re.escape(SERIES)}-1-[0-9A-Z]{{8}}", row["number"]) and numbers.well_formed(row["number"])
    text = _text(response.content)
    assert f"{name[0]} {name[1]}" in text  # exactly as registered: ș ț with the comma below, Cyrillic, Greek
    for printed in ("CMR 40213", event.title, "4 credite EMC", "100 minutes watched live", row["number"]):
        assert printed in text
    assert f"{settings.base_url}/certificates/{row['number']}" in text
    again = await client.get(f"/events/{event.slug}/me/certificate.pdf")
    assert again.status_code == 200 and row["number"] in _text(again.content)
    assert len(await _register(db, event.id)) == 1  # the same certificate, not a second number
    async with db.connection() as conn:
        issued = await conn.fetch_all(sa.select(audit_log.c.action).where(audit_log.c.action == "certificate.issued"))
    assert len(issued) == 1


async def test_numbers_follow_the_order_issued_and_the_verification_page_shows_initials_only(
    app, client, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    event, first = await _attendee(client, db, settings, create_event, create_registration, create_viewing_session)
    assert (await client.get(f"/events/{event.slug}/me/certificate.pdf")).status_code == 200
    second = await create_registration(event.id, first_name="Ana", last_name="Pop", member_id="X9")
    await create_viewing_session(event.id, second, event.starts_at, event.ends_at)
    await join(client, settings, event, second)
    assert (await client.get(f"/events/{event.slug}/me/certificate.pdf")).status_code == 200
    rows = await _register(db, event.id)
    assert [(r["registration_id"], r["sequence"]) for r in rows] == [(first, 1), (second, 2)]
    assert rows[0]["number"].startswith(f"{SERIES}-1-") and rows[1]["number"].startswith(f"{SERIES}-2-")

    page = await client.get(f"/certificates/{rows[0]['number']}")
    assert page.status_code == 200 and 'id="certificate-state"' in page.text and "Valid" in page.text
    assert '<td id="certificate-initials">Ș. Ț.-R.</td>' in page.text and event.title in page.text
    for personal in (NAME[0], NAME[1], "CMR 40213"):
        assert personal not in page.text
    code = rows[0]["number"].rsplit("-", 1)[1]
    other_code = ("0" if code[0] != "0" else "1") + code[1:]
    for bad in (
        rows[0]["number"].replace(code, other_code),  # well formed, unknown: a guessed code
        f"{SERIES}-1",  # the sequential part alone is not a number
        "nope", "'; DROP TABLE certificates; --", f"{SERIES}-1-{code.lower()}", "A" * 300 + f"-1-{code}",
    ):  # fmt: skip
        assert (await client.get(f"/certificates/{bad}")).status_code == 404, bad


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({"minutes": 60}, "You watched fewer minutes live than this event requires."),
        ({"minutes": 0}, "You did not watch the event live."),
        ({"event": {"certificates": False}}, "This event does not issue certificates."),
        ({"event": {"presence_checks": 2}}, "You did not answer every presence check in time."),
    ],
)
async def test_a_person_who_does_not_qualify_gets_a_403_saying_why(
    client, db, settings, create_event, create_registration, create_viewing_session, setup, reason
) -> None:
    event, _ = await _attendee(client, db, settings, create_event, create_registration, create_viewing_session, **setup)
    response = await client.get(f"/events/{event.slug}/me/certificate.pdf")
    assert response.status_code == 403 and 'id="certificate-refused"' in response.text
    assert reason in response.text
    assert await _register(db, event.id) == []


async def test_before_the_end_there_is_no_certificate_and_the_romanian_page_says_why(
    client, db, settings, create_event, create_registration, create_viewing_session, monkeypatch
) -> None:
    event, _ = await _attendee(
        client, db, settings, create_event, create_registration, create_viewing_session, event={"language": "ro"}
    )
    MovedClock(monkeypatch).to(event.ends_at - dt.timedelta(minutes=1))
    response = await client.get(f"/events/{event.slug}/me/certificate.pdf")
    assert response.status_code == 403 and "Certificatele se eliberează după încheierea evenimentului." in response.text
    monkeypatch.undo()
    response = await client.get(f"/events/{event.slug}/me/certificate.pdf")
    assert response.status_code == 200
    assert "CERTIFICAT DE PARTICIPARE" in _text(response.content)  # in the event's language


async def test_without_a_session_for_this_event_the_certificate_is_a_404(
    client, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    event, _ = await _attendee(client, db, settings, create_event, create_registration, create_viewing_session)
    _other, _ = await _attendee(client, db, settings, create_event, create_registration, create_viewing_session)
    # The client's session is now the other event's attendee's: it gets nothing from the first event.
    client.cookies.clear()
    await _attendee(client, db, settings, create_event, create_registration, create_viewing_session)
    assert (await client.get(f"/events/{event.slug}/me/certificate.pdf")).status_code == 404
    assert await _register(db, event.id) == []


async def test_erasure_revokes_the_certificate_and_leaves_no_personal_data(
    client, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    event, _reg = await _attendee(client, db, settings, create_event, create_registration, create_viewing_session)
    assert (await client.get(f"/events/{event.slug}/me/certificate.pdf")).status_code == 200
    export = (await client.get(f"/events/{event.slug}/me/export.json")).json()
    [row] = await _register(db, event.id)
    assert export["certificate"]["number"] == row["number"]
    assert export["certificate"]["full_name"] == " ".join(NAME) and export["certificate"]["member_id"] == "CMR 40213"
    assert NAME[1] in await dump(db)  # the test can fail

    token = await csrf_for(client, f"/events/{event.slug}/me/erase")
    assert (await client.post(f"/events/{event.slug}/me/erase", data={"csrf_token": token})).status_code == 303

    after = await dump(db)
    assert [t for t in (*NAME, "Ștefan Țuțuianu", "CMR 40213", "Ș. Ț.") if t in after] == []
    [row] = await _register(db, event.id)
    assert row["revoked_at"] is not None and row["full_name"] is None and row["sequence"] == 1
    page = await client.get(f"/certificates/{row['number']}")
    assert page.status_code == 200 and "Revoked" in page.text and "certificate-initials" not in page.text


async def test_retention_revokes_the_certificate_and_blanks_its_name(
    client, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    event, _ = await _attendee(
        client, db, settings, create_event, create_registration, create_viewing_session, event={"retention_days": 1}
    )
    assert (await client.get(f"/events/{event.slug}/me/certificate.pdf")).status_code == 200
    summary = await retention.purge_due(db, at=event.ends_at + dt.timedelta(days=2))
    assert summary.registrations == 1
    [row] = await _register(db, event.id)
    assert (row["full_name"], row["member_id"]) == (None, None) and row["revoked_by"] == "erasure"
    assert NAME[1] not in await dump(db)
    page = await client.get(f"/certificates/{row['number']}")
    assert "Revoked" in page.text and "certificate-initials" not in page.text


async def test_two_downloads_at_once_get_one_certificate(
    client, db, settings, create_event, create_registration, create_viewing_session
) -> None:
    event, _ = await _attendee(client, db, settings, create_event, create_registration, create_viewing_session)
    first, second = await asyncio.gather(*(client.get(f"/events/{event.slug}/me/certificate.pdf") for _ in range(2)))
    assert first.status_code == second.status_code == 200
    [row] = await _register(db, event.id)
    assert row["number"] in _text(first.content) and row["number"] in _text(second.content)


async def test_the_attendance_report_gives_each_valid_certificate_its_number(
    app, client, db, settings, create_event, create_registration, create_viewing_session, create_staff
) -> None:
    event, _reg = await _attendee(client, db, settings, create_event, create_registration, create_viewing_session)
    staff = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # beside them
    assert (await login_staff(staff, (await create_staff("operator")).email)).status_code == 303

    async def certificate_cell() -> str:
        response = await staff.get(f"/admin/events/{event.id}/reports/attendance.csv")
        assert response.status_code == 200
        header, *rows = parse_csv(response)
        [row] = rows  # PostgreSQL writes it through COPY, SQLite through the Python writer: the same cells
        return dict(zip(header, row, strict=True))["Certificate"]

    assert await certificate_cell() == ""  # qualifies, but nothing issued yet
    assert (await client.get(f"/events/{event.slug}/me/certificate.pdf")).status_code == 200
    [issued] = await _register(db, event.id)
    assert await certificate_cell() == issued["number"]
    async with db.transaction() as conn:  # revoked: no longer theirs to show
        await conn.execute(
            certificates.update()
            .where(certificates.c.id == issued["id"])
            .values(revoked_at=clock.now(), revoked_by="op@example.org", reason="x")
        )
    assert await certificate_cell() == ""
    await staff.aclose()
