"""The certificate link in the follow-up e-mail (SPEC §13), on both engines over real SMTP with a moved clock: read
from the received mail and followed, it signs the person in and gives their certificate; only those who attended get
it; a tampered, another event's, spent (erasure) or expired link is a 404 page that says so."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from tests.webinar.access_helpers import load_event
from tests.webinar.reminder_helpers import REAL_NOW, backdate, move_clock
from webinar.attendance.queries import attended
from webinar.db import DB
from webinar.jobs import Context
from webinar.links.privacy import retention_ends_at
from webinar.mail.sender import deliver_due
from webinar.registration import reminders
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.tables import certificates, registrations

MINUTE = dt.timedelta(minutes=1)
LINK_RE = re.compile(r"http://testserver(/events/[a-z0-9-]+/certificate/[\w.-]+)")
Factory = Callable[..., Awaitable[int]]


async def _mailed(
    app, db: DB, settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    create_viewing_session: Factory, monkeypatch: pytest.MonkeyPatch,
):  # fmt: skip
    """An event with certificates, one registrant who watched enough and one who did not, the follow-ups delivered
    an hour after the end: the event, the two ids and the received messages by address."""
    event_id = await create_event(
        certificates=True, certificate_series="CMR-2026", credits="2 credite EMC", attendance_minutes=30,
        field_member_id="optional", language="en",
    )  # fmt: skip
    event = await load_event(db, event_id)
    watched = await create_registration(event_id, email="ana@example.org", first_name="Ana", last_name="Șerban")
    missed = await create_registration(event_id, email="dan@example.org")
    await backdate(db, [watched, missed], REAL_NOW() - dt.timedelta(days=1))
    await create_viewing_session(event_id, watched, event.starts_at, event.starts_at + 45 * MINUTE)
    move_clock(monkeypatch, event.ends_at + 60 * MINUTE)
    await reminders.queue_due(Context(settings, db, None), attended)  # type: ignore[arg-type]
    assert await deliver_due(settings, db, compose_queued) == 2
    mails = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    return event, watched, missed, mails


def _link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    [path] = LINK_RE.findall(text)
    assert path in html
    return path


def _browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_the_link_from_the_received_follow_up_signs_in_and_gives_the_certificate(
    app, db, smtp_settings, smtp_server, create_event, create_registration, create_viewing_session, monkeypatch
) -> None:
    event, watched, _missed, mails = await _mailed(
        app, db, smtp_settings, smtp_server, create_event, create_registration, create_viewing_session, monkeypatch
    )
    assert not LINK_RE.search(mails["dan@example.org"].get_body(("plain",)).get_content())  # did not attend: none
    path = _link(mails["ana@example.org"])
    async with _browser(app) as browser:
        response = await browser.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        async with db.connection() as conn:
            [number] = await conn.fetch_all(sa.select(certificates.c.number))
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
        assert "Ana Șerban" in text and number[0] in text and "2 credite EMC" in text
        me = await browser.get(f"/events/{event.slug}/me")  # signed in: their page opens
        assert me.status_code == 200 and 'id="my-certificate"' in me.text
        again = await browser.get(path)  # the same certificate, however often the link is followed
        assert again.status_code == 200 and number[0] in again.headers["content-disposition"]
    # After the join links expired (a week after the end), the link still gives the certificate, signing nobody in.
    move_clock(monkeypatch, event.join_link_expires_at + MINUTE)
    async with _browser(app) as late:
        response = await late.get(path)
        assert response.status_code == 200 and "set-cookie" not in response.headers
    async with db.connection() as conn:
        assert [r[0] for r in await conn.fetch_all(sa.select(certificates.c.registration_id))] == [watched]


async def test_a_tampered_foreign_spent_or_expired_link_is_a_404_page_saying_so(
    app, db, smtp_settings, smtp_server, create_event, create_registration, create_viewing_session, monkeypatch
) -> None:
    event, watched, _missed, mails = await _mailed(
        app, db, smtp_settings, smtp_server, create_event, create_registration, create_viewing_session, monkeypatch
    )
    path = _link(mails["ana@example.org"])
    prefix, token = path.rsplit("/", 1)
    payload, signature = token.split(".")
    middle = len(signature) // 2  # not the last character: its spare bits can decode to the same bytes
    forged = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    other = await load_event(db, await create_event(language="en"))
    cases = {
        "tampered": f"{prefix}/{payload}.{forged}",
        "another event's address": f"/events/{other.slug}/certificate/{token}",
        "cut short": f"{prefix}/{token[:-6]}",
    }
    async with _browser(app) as browser:
        for case, bad in cases.items():
            response = await browser.get(bad)
            assert response.status_code == 404 and 'id="certificate-link-invalid"' in response.text, case
            assert "webinar_session" not in response.headers.get("set-cookie", ""), case
        # Expired: the link lasts until retention erases the event's data.
        move_clock(monkeypatch, retention_ends_at(event) + MINUTE)
        assert (await browser.get(path)).status_code == 404
        move_clock(monkeypatch, event.ends_at + 2 * dt.timedelta(hours=1))
        assert (await browser.get(path)).status_code == 200
        # Spent: an erasure bumps the token version.
        async with db.transaction() as conn:
            await conn.execute(registrations.update().where(registrations.c.id == watched).values(token_version=2))
        assert (await browser.get(path)).status_code == 404
    async with db.connection() as conn:  # only the genuine link issued a certificate
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(certificates)) == 1
