"""Staff's message to an event's registrants: checked like an e-mail text, previewed with its count, confirmed, then
one e-mail each through the outbox with the person's own links; never to an erased person; audited."""

from __future__ import annotations

import html
from typing import Any

import httpx
import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count
from tests.conftest import csrf_for, login_staff
from webinar.clock import now
from webinar.db import DB, insert_many
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.tables import event_messages, events, outbox, registrations

SUBJECT = "Schimbare de sală, {first_name}"
BODY = "Bună, {first_name} {last_name}!\n\nNe vedem la {event_title}, {starts_at}.\nLinkul tău: {join_link}"


async def _post(http: httpx.AsyncClient, event_id: int, **fields: str) -> httpx.Response:
    path = f"/admin/events/{event_id}/message"
    return await http.post(path, data={**fields, "csrf_token": await csrf_for(http, path)})


def _error(page: str, field: str) -> str:
    start = page.index(f'id="{field}-error">') + len(f'id="{field}-error">')
    return html.unescape(page[start : page.index("</p>", start)])


async def _people(create_registration: Any, db: DB, event_id: int) -> dict[str, int]:
    """Registrants in each status, and one erased (as erasure leaves a row: no address, no name)."""
    found = {}
    for status, email in (
        ("approved", "ana@example.org"), ("approved", "radu@example.org"), ("pending", "ion@example.org"),
        ("waitlisted", "eva@example.org"), ("rejected", "dan@example.org"), ("cancelled", "mia@example.org"),
        ("unconfirmed", "noua@example.org"),
    ):  # fmt: skip
        found[email] = await create_registration(event_id, status=status, email=email, first_name=email[:3].title())
    found["erased"] = erased = await create_registration(event_id, status="approved", email="gone@example.org")
    async with db.transaction() as conn:
        await conn.execute(
            registrations.update().where(registrations.c.id == erased)
            .values(email=None, email_normalised=None, first_name=None, last_name=None, search_text="", erased_at=now())
        )  # fmt: skip
    return found


async def test_a_message_reaches_everyone_still_in_each_with_their_own_link(
    importer, create_event, create_registration, db: DB, smtp_server, smtp_settings
) -> None:
    http, org_id, user = importer
    event_id = await create_event(organisation_id=org_id, title="Școala de vară", slug="vara", language="ro")
    await _people(create_registration, db, event_id)
    page = await http.get(f"/admin/events/{event_id}/message")
    assert page.status_code == 200 and 'value="all"' in page.text

    preview = await _post(http, event_id, action="preview", audience="all", subject=SUBJECT, body=BODY)
    assert preview.status_code == 200
    assert 'id="preview-count"' in preview.text and "It goes to 4 people." in preview.text
    assert "Schimbare de sală, Ioana" in preview.text  # the sample registrant
    assert await count(db, event_messages) == 0 and await count(db, outbox) == 0

    unconfirmed = await _post(http, event_id, action="send", audience="all", subject=SUBJECT, body=BODY)
    assert unconfirmed.status_code == 422 and 'id="confirm-error"' in unconfirmed.text
    assert await count(db, event_messages) == 0 and await count(db, outbox) == 0

    sent = await _post(http, event_id, action="send", audience="all", subject=SUBJECT, body=BODY, confirm="yes")
    assert sent.status_code == 303 and sent.headers["location"].endswith("done=sent")
    assert await count(db, outbox, outbox.c.kind == "message") == 4
    [entry] = await audit_entries(db, "event.message_sent")
    assert (entry["audience"], entry["recipients"], entry["_actor"]) == ("all", 4, user.email)

    assert await deliver_due(smtp_settings, db, compose_queued) == 4
    by_address = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    assert set(by_address) == {"ana@example.org", "radu@example.org", "ion@example.org", "eva@example.org"}
    ana = by_address["ana@example.org"]
    assert ana["Subject"] == "Schimbare de sală, Ana"
    text = ana.get_body(("plain",)).get_content()
    assert "Bună, Ana Popescu!" in text and "Ne vedem la Școala de vară," in text
    assert "http://testserver/events/vara/join/" in text
    radu_text = by_address["radu@example.org"].get_body(("plain",)).get_content()
    link = next(w for w in text.split() if "/join/" in w)
    assert link not in radu_text  # each their own link
    pending = by_address["ion@example.org"].get_body(("plain",)).get_content()
    assert "/join/" not in pending  # no join link before approval
    listed = await http.get(f"/admin/events/{event_id}/message")
    assert 'id="sent-messages"' in listed.text and "Schimbare de sală, {first_name}" in html.unescape(listed.text)


async def test_one_status_only(operator_client, create_event, create_registration, db: DB) -> None:
    event_id = await create_event()
    await _people(create_registration, db, event_id)
    http = await operator_client()
    sent = await _post(http, event_id, action="send", audience="rejected", subject="Ne pare rău", body="Text.",
                       confirm="yes")  # fmt: skip
    assert sent.status_code == 303
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(outbox.c.to_address).where(outbox.c.kind == "message"))
    assert [r["to_address"] for r in rows] == ["dan@example.org"]


async def test_bad_input_is_a_422_beside_its_field_and_nothing_is_stored(
    operator_client, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event()
    await create_registration(event_id)
    http = await operator_client()
    for fields, field, words in (
        ({"body": "Salut {nume}"}, "body", "{nume}"),
        ({"subject": "Pentru {first_name.__class__}"}, "subject", "{first_name.__class__}"),
        ({"body": "Locul tău: {place}"}, "body", "{place}"),
        ({"body": "Acolada { singură"}, "body", "brace"),
        ({"subject": ""}, "subject", ""),
        ({"body": "Cu \x00 NUL"}, "body", ""),
        ({"audience": "toti"}, "audience", "Choose"),
    ):
        data = {"action": "send", "audience": "all", "subject": "Subiect", "body": "Text", "confirm": "yes", **fields}
        response = await _post(http, event_id, **data)
        assert response.status_code == 422, fields
        assert words in _error(response.text, field), (fields, _error(response.text, field))
    nobody = await _post(http, event_id, action="send", audience="waitlisted", subject="S", body="B", confirm="yes")
    assert nobody.status_code == 422 and "Nobody" in _error(nobody.text, "audience")
    unknown = await _post(http, event_id, action="publish", audience="all", subject="S", body="B")
    assert unknown.status_code == 400
    assert await count(db, event_messages) == 0 and await count(db, outbox) == 0
    assert await audit_entries(db, "event.message_sent") == []


async def test_no_message_follows_a_cancelled_event(operator_client, create_event, create_registration, db) -> None:
    event_id = await create_event()
    await create_registration(event_id)
    async with db.transaction() as conn:
        await conn.execute(
            events.update().where(events.c.id == event_id).values(status="cancelled", cancelled_at=now())
        )
    http = await operator_client()
    response = await _post(http, event_id, action="send", audience="all", subject="S", body="B", confirm="yes")
    assert response.status_code == 422
    assert await count(db, event_messages) == 0 and await count(db, outbox) == 0


async def test_another_organisations_event_is_a_404_and_nothing_is_sent(
    app, create_event, create_organisation, create_staff, create_registration, db: DB
) -> None:
    event_id = await create_event(organisation_id=await create_organisation())
    await create_registration(event_id)
    stranger = await create_staff("organiser", await create_organisation())
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50007))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await login_staff(http, stranger.email)).status_code == 303
        assert (await http.get(f"/admin/events/{event_id}/message")).status_code == 404
        token = await csrf_for(http, "/admin/")
        data = {"action": "send", "audience": "all", "subject": "S", "body": "B", "confirm": "yes", "csrf_token": token}
        assert (await http.post(f"/admin/events/{event_id}/message", data=data)).status_code == 404
    assert await count(db, outbox) == 0


async def test_thousands_are_queued_by_the_database_not_the_request(operator_client, create_event, db: DB) -> None:
    event_id = await create_event()
    at = now()
    rows = [
        {"event_id": event_id, "email": f"p{n}@example.org", "email_normalised": f"p{n}@example.org",
         "first_name": "P", "last_name": str(n), "status": "approved", "language": "ro", "created_at": at,
         "updated_at": at, "search_text": ""}
        for n in range(5000)
    ]  # fmt: skip
    async with db.transaction() as conn:
        await insert_many(conn, registrations.insert(), rows)
    http = await operator_client()
    sent = await _post(http, event_id, action="send", audience="approved", subject="S {first_name}", body="B",
                       confirm="yes")  # fmt: skip
    assert sent.status_code == 303
    assert await count(db, outbox, outbox.c.kind == "message", outbox.c.subject == "") == 5000  # written when sent
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(event_messages.c.recipients)) == 5000


async def test_an_erased_registrant_leaves_no_trace_and_a_purge_removes_the_messages(
    importer, create_event, create_registration, db: DB, smtp_server, smtp_settings
) -> None:
    from tests.webinar.test_privacy_erasure import dump

    http, org_id, _user = importer
    event_id = await create_event(organisation_id=org_id, slug="mesaj-sters", language="ro")
    reg_id = await create_registration(
        event_id, email="zamfira@example.org", first_name="Zamfira", last_name="Vlădescu"
    )
    sent = await _post(http, event_id, action="send", audience="all", subject="Salut {last_name}",
                       body="Dragă {first_name}: {join_link}", confirm="yes")  # fmt: skip
    assert sent.status_code == 303
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    assert smtp_server.messages[0].message["Subject"] == "Salut Vlădescu"
    assert "Zamfira" in await dump(db)
    base = f"/admin/events/{event_id}/registrants/{reg_id}/erase"
    assert (await http.post(base, data={"csrf_token": await csrf_for(http, base)})).status_code == 303
    after = await dump(db)
    assert "Zamfira" not in after and "Vlădescu" not in after and "zamfira@example.org" not in after
    assert "Dragă {first_name}: {join_link}" in after  # staff's text itself stays, until the event is purged
    purge = f"/admin/events/{event_id}/purge"
    response = await http.post(purge, data={"csrf_token": await csrf_for(http, purge), "confirm_slug": "mesaj-sters"})
    assert response.status_code == 303, response.text[:500]
    assert await count(db, event_messages) == 0


async def test_the_mail_queue_names_a_message_and_shows_it_as_its_registrant_will_read_it(
    operator_client, create_event, create_registration, db: DB
) -> None:
    event_id = await create_event(slug="coada")
    await create_registration(event_id, email="ana@example.org", first_name="Ana", language="en")
    http = await operator_client()
    sent = await _post(http, event_id, action="send", audience="approved", subject="News for {first_name}",
                       body="Your link: {join_link}", confirm="yes")  # fmt: skip
    assert sent.status_code == 303
    queue = await http.get("/admin/outbox")
    assert "Message to the registrants" in queue.text
    async with db.connection() as conn:
        message_id = await conn.fetch_val(sa.select(outbox.c.id).where(outbox.c.kind == "message"))
    page = await http.get(f"/admin/outbox/{message_id}")
    assert page.status_code == 200 and "News for Ana" in page.text and "/events/coada/join/" in page.text
