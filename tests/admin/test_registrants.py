"""Registrants in the back office: search, filter, paging, approve/reject with e-mails, tenancy, one record."""

from __future__ import annotations

import datetime as dt

import httpx
import sqlalchemy as sa

from tests.admin.helpers import audit_entries, sends_to_login
from tests.conftest import csrf_from, login_staff
from webinar.clock import now
from webinar.db import DB
from webinar.tables import consent_records, outbox, registrations


async def _status(db: DB, reg_id: int) -> str:
    async with db.connection() as conn:
        return str(await conn.fetch_val(sa.select(registrations.c.status).where(registrations.c.id == reg_id)))


async def _mail_kinds(db: DB) -> list[tuple[int, str]]:
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(outbox.c.registration_id, outbox.c.kind).order_by(outbox.c.id))
    return [(r["registration_id"], r["kind"]) for r in rows]


async def test_search_is_case_and_diacritic_insensitive_with_status_filter(
    operator_client, create_event, create_registration
) -> None:
    event_id = await create_event()
    await create_registration(event_id, first_name="Ștefan", last_name="Mureșan", email="s1@example.org")
    await create_registration(
        event_id, first_name="Ştefan", last_name="Ionescu", email="s2@example.org", status="pending"
    )
    await create_registration(event_id, first_name="Maria", last_name="Pop", email="m@example.org")
    http = await operator_client()
    page = await http.get(f"/admin/events/{event_id}/registrants", params={"q": "STEFAN"})
    assert page.status_code == 200
    assert "Mureșan" in page.text and "Ionescu" in page.text and "m@example.org" not in page.text
    pending = await http.get(f"/admin/events/{event_id}/registrants", params={"q": "stefan", "status": "pending"})
    assert "Ionescu" in pending.text and "Mureșan" not in pending.text
    assert 'name="ids"' in page.text and "data-select-all" in page.text


async def test_like_wildcards_in_the_search_are_literal(operator_client, create_event, create_registration) -> None:
    event_id = await create_event()
    await create_registration(event_id, first_name="Ana", last_name="Pop", email="ana@example.org")
    http = await operator_client()
    for q in ("%", "_", "a%a"):
        page = await http.get(f"/admin/events/{event_id}/registrants", params={"q": q})
        assert "ana@example.org" not in page.text, q


async def test_paging_50_per_page_and_bad_page_is_the_first(operator_client, create_event, create_registration) -> None:
    event_id = await create_event()
    for i in range(51):
        await create_registration(event_id, email=f"p{i:02d}@example.org")
    http = await operator_client()
    first = await http.get(f"/admin/events/{event_id}/registrants")
    assert first.text.count('name="ids"') == 50 and "Page 1 of 2" in first.text
    second = await http.get(f"/admin/events/{event_id}/registrants", params={"page": "2"})
    assert second.text.count('name="ids"') == 1
    for bad in ("0", "-1", "abc", "99999999999999999999"):
        response = await http.get(f"/admin/events/{event_id}/registrants", params={"page": bad})
        assert response.status_code == 200 and response.text.count('name="ids"') == 50


async def test_approve_many_only_touches_this_events_pending_ids_and_emails_each(
    operator_client, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event(approval="manual")
    other_event = await create_event(approval="manual")
    a = await create_registration(event_id, status="pending")
    b = await create_registration(event_id, status="pending")
    foreign = await create_registration(other_event, status="pending")
    http = await operator_client()
    token = csrf_from((await http.get(f"/admin/events/{event_id}/registrants")).text)
    response = await http.post(
        f"/admin/events/{event_id}/registrants/approve",
        data={"ids": [str(a), str(b), str(foreign), "junk"], "csrf_token": token},
    )
    assert response.status_code == 303
    assert (await _status(db, a), await _status(db, b), await _status(db, foreign)) == (
        "approved",
        "approved",
        "pending",
    )
    assert await _mail_kinds(db) == [(a, "approved"), (b, "approved")]
    entries = await audit_entries(db, "registration.approved")
    assert len(entries) == 2 and entries[0]["from"] == "pending"


async def test_reject_sends_a_notice_and_revokes_links(
    operator_client, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event()
    reg = await create_registration(event_id, status="approved")
    http = await operator_client()
    token = csrf_from((await http.get(f"/admin/events/{event_id}/registrants")).text)
    response = await http.post(
        f"/admin/events/{event_id}/registrants/reject", data={"ids": str(reg), "csrf_token": token}
    )
    assert response.status_code == 303
    assert await _status(db, reg) == "rejected"
    assert await _mail_kinds(db) == [(reg, "rejected")]
    async with db.connection() as conn:
        version = await conn.fetch_val(sa.select(registrations.c.token_version).where(registrations.c.id == reg))
    assert version == 2
    assert len(await audit_entries(db, "registration.rejected")) == 1


async def test_decisions_need_csrf(operator_client, create_event, create_registration, db: DB) -> None:
    event_id = await create_event()
    reg = await create_registration(event_id, status="pending")
    http = await operator_client()
    response = await http.post(f"/admin/events/{event_id}/registrants/approve", data={"ids": str(reg)})
    assert response.status_code == 403 and await _status(db, reg) == "pending"


async def test_organiser_of_another_organisation_gets_404_everywhere(
    client: httpx.AsyncClient, create_event, create_organisation, create_registration, create_staff, db: DB
) -> None:
    own_org, other_org = await create_organisation(), await create_organisation()
    own_event = await create_event(organisation_id=own_org)
    other_event = await create_event(organisation_id=other_org)
    reg = await create_registration(other_event, status="pending")
    user = await create_staff("organiser", own_org)
    await login_staff(client, user.email)
    assert (await client.get(f"/admin/events/{own_event}/registrants")).status_code == 200
    token = csrf_from((await client.get(f"/admin/events/{own_event}/registrants")).text)
    assert (await client.get(f"/admin/events/{other_event}/registrants")).status_code == 404
    assert (await client.get(f"/admin/events/{other_event}/registrants/{reg}")).status_code == 404
    response = await client.post(
        f"/admin/events/{other_event}/registrants/approve", data={"ids": str(reg), "csrf_token": token}
    )
    assert response.status_code == 404 and await _status(db, reg) == "pending"
    # Another event's registration through this organiser's own event is not found either.
    assert (await client.get(f"/admin/events/{own_event}/registrants/{reg}")).status_code == 404


async def test_anonymous_is_sent_to_login(client: httpx.AsyncClient, create_event) -> None:
    event_id = await create_event()
    assert sends_to_login(await client.get(f"/admin/events/{event_id}/registrants"))


async def test_one_registrant_shows_data_consents_and_viewing_sessions(
    operator_client, create_event, create_registration, create_viewing_session, db: DB
) -> None:
    event_id = await create_event()
    reg = await create_registration(event_id, organisation="Institutul <X>")
    async with db.transaction() as conn:
        await conn.execute(
            consent_records.insert().values(
                registration_id=reg,
                event_id=event_id,
                purpose="processing",
                action="given",
                text_version=1,
                text_sha256="ab" * 32,
                recorded_at=now(),
                ip="203.0.113.9",
                user_agent="Agent/1.0",
            )
        )
    start = now() - dt.timedelta(hours=1)
    await create_viewing_session(event_id, reg, start, start + dt.timedelta(minutes=30), ip="198.51.100.7")
    http = await operator_client()
    page = await http.get(f"/admin/events/{event_id}/registrants/{reg}")
    assert page.status_code == 200
    assert "Institutul &lt;X&gt;" in page.text
    assert "ab" * 32 in page.text and "203.0.113.9" in page.text and "Agent/1.0" in page.text
    assert "Viewing sessions" in page.text and "198.51.100.7" in page.text and "logout" in page.text
