"""Marketing consent: the unsubscribe link and RFC 8058 headers in e-mails, and withdrawing once."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import sqlalchemy as sa

from tests.conftest import csrf_from
from tests.webinar.access_helpers import join_path, load_event
from tests.webinar.privacy_helpers import mails_to, register, registration
from webinar.db import to_dataclass
from webinar.mail.outbox import Message
from webinar.mail.sender import build_message
from webinar.tables import consent_records

ADDRESS = "stefan.popescu@example.org"


async def _unsubscribe_path(db, settings) -> str:
    [mail] = await mails_to(db, ADDRESS, settings)
    headers = json.loads(mail["headers_json"])
    return urlsplit(headers["List-Unsubscribe"].strip("<>")).path


async def marketing_records(db, reg_id: int) -> list[str]:
    async with db.connection() as conn:
        rows = await conn.fetch_all(
            sa.select(consent_records.c.action)
            .where(consent_records.c.registration_id == reg_id, consent_records.c.purpose == "marketing")
            .order_by(consent_records.c.id)
        )
    return [r["action"] for r in rows]


async def test_emails_to_opted_in_people_carry_the_link_and_one_click_headers(client, db, create_event, settings):
    event = await load_event(db, await create_event(language="en"))
    await register(client, db, event, consent_marketing="on")
    [row] = await mails_to(db, ADDRESS, settings)
    headers = json.loads(row["headers_json"])
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"http://testserver/events/{event.slug}/unsubscribe/")
    assert url in row["body_text"] and url in row["body_html"]
    built = build_message(to_dataclass(Message, row), "Webinar <no-reply@webinar.test>")
    assert built["List-Unsubscribe"] == f"<{url}>"
    assert built["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_emails_to_people_who_did_not_opt_in_have_no_unsubscribe(client, db, create_event, settings):
    event = await load_event(db, await create_event(language="en"))
    await register(client, db, event)
    [row] = await mails_to(db, ADDRESS, settings)
    assert json.loads(row["headers_json"]) == {} and "/unsubscribe/" not in row["body_text"]


async def test_unsubscribe_confirms_then_records_the_withdrawal_once(client, db, create_event, settings):
    event = await load_event(db, await create_event(language="en"))
    reg = await register(client, db, event, consent_marketing="on")
    path = await _unsubscribe_path(db, settings)
    page = await client.get(path)
    assert page.status_code == 200 and "<form" in page.text
    assert (await registration(db, reg))["marketing_opt_in"] is True  # a GET changes nothing
    done = await client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert (await registration(db, reg))["marketing_opt_in"] is False
    assert await marketing_records(db, reg) == ["given", "withdrawn"]
    again = await client.get(path)
    assert again.status_code == 200 and "already unsubscribed" in again.text
    twice = await client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert "already unsubscribed" in twice.text and await marketing_records(db, reg) == ["given", "withdrawn"]


async def test_rfc8058_one_click_post_needs_no_csrf_token(client, db, create_event, settings):
    event = await load_event(db, await create_event(language="en"))
    reg = await register(client, db, event, consent_marketing="on")
    path = await _unsubscribe_path(db, settings)
    response = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert (await registration(db, reg))["marketing_opt_in"] is False
    assert await marketing_records(db, reg) == ["given", "withdrawn"]


async def test_a_post_that_is_neither_the_button_nor_one_click_is_refused(client, db, create_event, settings):
    event = await load_event(db, await create_event(language="en"))
    reg = await register(client, db, event, consent_marketing="on")
    path = await _unsubscribe_path(db, settings)
    response = await client.post(path, data={"List-Unsubscribe": "something"})
    assert response.status_code == 403
    assert (await registration(db, reg))["marketing_opt_in"] is True


async def test_tampered_and_wrong_purpose_tokens_get_a_clear_page(client, db, settings, create_event):
    event = await load_event(db, await create_event(language="en"))
    reg = await register(client, db, event, consent_marketing="on")
    path = await _unsubscribe_path(db, settings)
    join_token = join_path(settings, event, reg).rsplit("/", 1)[1]
    for bad in (path[:-4] + "abcd", f"/events/{event.slug}/unsubscribe/{join_token}"):
        page = await client.get(bad)
        assert page.status_code == 400 and "cannot be used" in page.text
        one_click = await client.post(bad, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 400
    other = await load_event(db, await create_event(language="en"))
    assert (await client.get(path.replace(event.slug, other.slug))).status_code == 400
    assert (await registration(db, reg))["marketing_opt_in"] is True
