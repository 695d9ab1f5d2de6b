"""The mail queue page: operators only, a safe preview, and retrying failed messages."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.conftest import csrf_from, login_staff
from tests.webinar.regutil import open_form, outbox_rows, person
from webinar.clock import now
from webinar.db import DB
from webinar.mail import outbox as mail_outbox
from webinar.tables import events, outbox


async def _queue(db: DB, status: str = "queued", html: str = "<p>Salut</p>") -> int:
    async with db.transaction() as conn:
        message_id = await mail_outbox.enqueue(
            conn,
            kind="confirmation",
            to_address="ana@example.org",
            subject="Confirmare",
            body_text="Salut Ana",
            body_html=html,
            mail_from="Webinar <no-reply@webinar.test>",
        )
        await conn.execute(outbox.update().where(outbox.c.id == message_id).values(status=status))
    return message_id


async def test_operator_sees_the_queue_with_counts_and_filter(operator_client, db: DB) -> None:
    await _queue(db, "failed")
    await _queue(db, "sent")
    http = await operator_client()
    page = await http.get("/admin/outbox")
    assert page.status_code == 200 and "ana@example.org" in page.text and '/admin/outbox">Mail queue' in page.text
    failed = await http.get("/admin/outbox", params={"status": "failed", "page": "x"})
    assert failed.text.count('data-state="failed">failed</span>') == 1


async def test_preview_shows_html_escaped_never_rendered(operator_client, db: DB) -> None:
    message_id = await _queue(db, html='<script>alert(1)</script><img src=x onerror="y">')
    http = await operator_client()
    page = await http.get(f"/admin/outbox/{message_id}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Salut Ana" in page.text


async def test_retry_puts_a_failed_message_back_in_the_queue(operator_client, db: DB) -> None:
    message_id = await _queue(db, "failed")
    sent_id = await _queue(db, "sent")
    http = await operator_client()
    token = csrf_from((await http.get(f"/admin/outbox/{message_id}")).text)
    response = await http.post(f"/admin/outbox/{message_id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(outbox.c.status).where(outbox.c.id == message_id)) == "queued"
    refused = await http.post(f"/admin/outbox/{sent_id}/retry", data={"csrf_token": token})
    assert refused.status_code == 409
    assert (await http.post("/admin/outbox/999999/retry", data={"csrf_token": token})).status_code == 404


async def test_organisers_get_404(client: httpx.AsyncClient, create_organisation, create_staff, db: DB) -> None:
    message_id = await _queue(db)
    user = await create_staff("organiser", await create_organisation())
    await login_staff(client, user.email)
    assert (await client.get("/admin/outbox")).status_code == 404
    assert (await client.get(f"/admin/outbox/{message_id}")).status_code == 404


async def test_a_registrants_email_not_yet_written_is_previewed_as_it_would_go_now(
    operator_client, client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="later", title="Seară de <b>fizică</b>", language="ro")
    hidden = await open_form(client, "later")
    assert (await client.post("/events/later/register", data={**person(), **hidden})).status_code == 303
    [row] = await outbox_rows(db)
    http = await operator_client()
    queue = await http.get("/admin/outbox")
    assert "(written when sent)" in queue.text
    page = await http.get(f"/admin/outbox/{row['id']}")
    assert page.status_code == 200 and "This is how it reads now." in page.text
    assert "Seară de &lt;b&gt;fizică&lt;/b&gt;" in page.text and "/events/later/join/" in page.text
    assert "BEGIN:VCALENDAR" in page.text
    [after] = await outbox_rows(db)
    assert after["subject"] == "" and after["body_text"] == ""  # a preview writes nothing: the sender does


async def test_each_state_is_shown_in_words_in_romanian_and_english(operator_client, db: DB) -> None:
    retrying = await _queue(db)
    async with db.transaction() as conn:  # tried once, refused for now: queued again, with an attempt behind it
        await conn.execute(outbox.update().where(outbox.c.id == retrying).values(attempts=1, last_error="451 Later"))
    await _queue(db, "failed")
    await _queue(db)
    http = await operator_client()
    english = (await http.get("/admin/outbox")).text
    for state in ("queued", "retrying", "failed"):
        assert f'data-state="{state}">{state}</span>' in english
    assert "Retrying: the mail server could not take it yet" in english
    only = (await http.get("/admin/outbox", params={"status": "retrying"})).text
    assert only.count('data-state="retrying"') == 1 and 'data-state="queued"' not in only
    assert (await http.get("/admin/outbox", params={"status": "queued"})).text.count('data-state="queued"') == 1
    token = csrf_from(english)
    await http.post("/admin/account/language", data={"language": "ro", "next": "/admin/outbox", "csrf_token": token})
    romanian = (await http.get("/admin/outbox")).text
    assert 'data-state="retrying">se reîncearcă</span>' in romanian and 'data-state="failed">eșuat</span>' in romanian
    assert 'data-state="queued">în coadă</span>' in romanian and "Coada de e-mailuri" in romanian
    message = (await http.get(f"/admin/outbox/{retrying}")).text
    assert 'data-state="retrying">se reîncearcă</span>' in message and "451 Later" in message


async def test_an_email_that_will_not_go_says_why_in_its_preview(
    operator_client, client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="gone-event")
    hidden = await open_form(client, "gone-event")
    assert (await client.post("/events/gone-event/register", data={**person(), **hidden})).status_code == 303
    [row] = await outbox_rows(db)
    async with db.transaction() as conn:  # the event is cancelled before its confirmation goes
        await conn.execute(
            sa.update(events).where(events.c.slug == "gone-event").values(status="cancelled", cancelled_at=now())
        )
    http = await operator_client()
    page = await http.get(f"/admin/outbox/{row['id']}")
    assert page.status_code == 200
    assert 'id="dropped"' in page.text and "This e-mail will not be sent: the event was cancelled." in page.text
    assert "BEGIN:VCALENDAR" not in page.text
