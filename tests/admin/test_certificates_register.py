"""The organiser's certificates (SPEC §13): the register of issued and revoked numbers, revoking one (CSRF, a reason,
the audit log, the verification page), and the streamed ZIP that first issues the missing ones of those who qualify."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import sqlalchemy as sa
from pypdf import PdfReader

from tests.admin.test_attendance_fields import error_of
from tests.conftest import csrf_for, login_staff
from tests.webinar.access_helpers import join, load_event
from webinar import clock
from webinar.tables import audit_log, certificates

SERIES = "FCR-2026"


async def _event(db, create_event, organisation_id: int):
    start = clock.now().replace(microsecond=0) - dt.timedelta(hours=3)
    return await load_event(
        db,
        await create_event(
            organisation_id=organisation_id, starts_at=start, ends_at=start + dt.timedelta(hours=2),
            certificates=True, certificate_series=SERIES, attendance_minutes=60,
        ),
    )  # fmt: skip


async def _person(event, create_registration, create_viewing_session, first: str, minutes: int) -> int:
    reg = await create_registration(event.id, first_name=first, last_name="Răzvănescu")
    await create_viewing_session(event.id, reg, event.starts_at, event.starts_at + dt.timedelta(minutes=minutes))
    return reg


async def _rows(db, event_id: int) -> list[dict]:
    async with db.connection() as conn:
        query = certificates.select().where(certificates.c.event_id == event_id).order_by(certificates.c.sequence)
        return [dict(r._mapping) for r in await conn.fetch_all(query)]


async def _organiser(client, create_staff, organisation_id: int):
    user = await create_staff("organiser", organisation_id)
    assert (await login_staff(client, user.email)).status_code == 303
    return user


async def test_the_zip_issues_the_missing_certificates_and_streams_every_valid_one(
    client, db, settings, create_organisation, create_event, create_staff, create_registration, create_viewing_session
) -> None:
    org = await create_organisation()
    event = await _event(db, create_event, org)
    early = await _person(event, create_registration, create_viewing_session, "Ioana", 120)
    await join(client, settings, event, early)
    assert (await client.get(f"/events/{event.slug}/me/certificate.pdf")).status_code == 200  # number 1
    client.cookies.clear()
    later = await _person(event, create_registration, create_viewing_session, "Șerban", 90)
    await _person(event, create_registration, create_viewing_session, "Puțin", 30)  # below the threshold
    user = await _organiser(client, create_staff, org)

    page = await client.get(f"/admin/events/{event.id}")
    assert f"/admin/events/{event.id}/certificates" in page.text
    response = await client.get(f"/admin/events/{event.id}/certificates.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    rows = await _rows(db, event.id)
    assert [(r["registration_id"], r["sequence"]) for r in rows] == [(early, 1), (later, 2)]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert names == [f"certificate-{r['number']}.pdf" for r in rows]
    texts = [PdfReader(io.BytesIO(archive.read(name))).pages[0].extract_text() for name in names]
    assert "Ioana Răzvănescu" in texts[0] and "Șerban Răzvănescu" in texts[1]
    async with db.connection() as conn:
        entries = await conn.fetch_all(
            sa.select(audit_log.c.action, audit_log.c.actor).where(audit_log.c.event_id == event.id)
        )
    assert ("certificates.downloaded", user.email) in [(e["action"], e["actor"]) for e in entries]
    assert ("certificate.issued", user.email) in [(e["action"], e["actor"]) for e in entries]

    register = await client.get(f"/admin/events/{event.id}/certificates")
    assert register.status_code == 200
    assert rows[0]["number"] in register.text and rows[1]["number"] in register.text
    again = await client.get(f"/admin/events/{event.id}/certificates.zip")
    assert len(zipfile.ZipFile(io.BytesIO(again.content)).namelist()) == 2 and len(await _rows(db, event.id)) == 2


async def test_revoking_needs_a_reason_and_shows_on_the_verification_page_and_in_the_audit_log(
    client, db, settings, create_organisation, create_event, create_staff, create_registration, create_viewing_session
) -> None:
    org = await create_organisation()
    event = await _event(db, create_event, org)
    reg = await _person(event, create_registration, create_viewing_session, "Ioana", 120)
    await join(client, settings, event, reg)
    assert (await client.get(f"/events/{event.slug}/me/certificate.pdf")).status_code == 200
    attendee_cookies = dict(client.cookies)
    client.cookies.clear()
    user = await _organiser(client, create_staff, org)
    [row] = await _rows(db, event.id)
    path = f"/admin/events/{event.id}/certificates/{row['id']}/revoke"
    field = f"reason-{row['id']}"

    assert (await client.post(path, data={field: "Fraudă"})).status_code == 403  # no CSRF token
    token = await csrf_for(client, f"/admin/events/{event.id}/certificates")
    refused = await client.post(path, data={field: "", "csrf_token": token})
    assert refused.status_code == 422
    assert error_of(refused.text, field) == "Say why the certificate is revoked (the register keeps it)."
    assert (await _rows(db, event.id))[0]["revoked_at"] is None

    done = await client.post(path, data={field: "Sesiune partajată cu alt participant", "csrf_token": token})
    assert done.status_code == 303
    [row] = await _rows(db, event.id)
    assert row["revoked_at"] is not None and row["revoked_by"] == user.email
    assert row["reason"] == "Sesiune partajată cu alt participant"
    async with db.connection() as conn:
        [entry] = await conn.fetch_all(
            sa.select(audit_log.c.actor, audit_log.c.details_json).where(audit_log.c.action == "certificate.revoked")
        )
    assert entry["actor"] == user.email and row["number"] in entry["details_json"]
    register = await client.get(f"/admin/events/{event.id}/certificates")
    assert "revoked on" in register.text and "Sesiune partajată" in register.text
    zipped = await client.get(f"/admin/events/{event.id}/certificates.zip")
    assert zipfile.ZipFile(io.BytesIO(zipped.content)).namelist() == []  # the revoked one is left out
    assert (await client.get(f"/admin/events/{event.id}/certificates/999999/revoke")).status_code == 405
    missing = await client.post(
        f"/admin/events/{event.id}/certificates/999999/revoke", data={"reason-999999": "x", "csrf_token": token}
    )
    assert missing.status_code == 404

    public = await client.get(f"/certificates/{row['number']}")
    assert public.status_code == 200 and "Revoked" in public.text and "Sesiune" not in public.text
    client.cookies.clear()
    client.cookies.update(attendee_cookies)
    again = await client.get(f"/events/{event.slug}/me/certificate.pdf")
    assert again.status_code == 403 and "Your certificate has been revoked." in again.text
