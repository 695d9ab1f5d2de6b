"""E-mail through a real SMTP server: the MIME structure, join links, retries, leases and the console backend."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import re

import httpx
import pytest
import sqlalchemy as sa

from tests.webinar.regutil import open_form, outbox_rows, person, registration_rows
from webinar.app import create_app
from webinar.clock import now
from webinar.db import DB
from webinar.jobs import Context, supervise
from webinar.links.tokens import JOIN, read_token
from webinar.mail import ics, sender
from webinar.mail.outbox import Message, enqueue
from webinar.mail.sender import claim_one, deliver_due
from webinar.registration.notifications import compose_queued
from webinar.tables import outbox, registrations
from webinar.web.redact import redact

LINK_RE = re.compile(r"http://testserver/events/([\w-]+)/join/([\w.\-]+)")


async def _register(client: httpx.AsyncClient, slug: str, **overrides: str) -> None:
    hidden = await open_form(client, slug)
    response = await client.post(f"/events/{slug}/register", data={**person(**overrides), **hidden})
    assert response.status_code == 303, response.text[:500]


def _parts(message) -> dict[str, object]:
    return {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}


async def test_confirmation_arrives_with_text_html_calendar_and_a_valid_join_link(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    await create_event(slug="mail", title="Știință, date; și <viitor>")
    await _register(client, "mail")
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["stefan.popescu@example.org"]
    message = received.message
    assert "Știință, date; și <viitor>" in message["Subject"]
    assert message["To"] == "stefan.popescu@example.org" and message["Message-ID"]
    parts = _parts(message)
    assert set(parts) == {"text/plain", "text/html", "text/calendar"}
    assert parts["text/calendar"].get_param("method") == "REQUEST"
    text = parts["text/plain"].get_content()
    assert "<viitor>" in text  # plain text is not HTML-escaped
    assert "&lt;viitor&gt;" in parts["text/html"].get_content()
    slug, token = LINK_RE.search(text).groups()
    [reg] = await registration_rows(db)
    claims = read_token(str(smtp_settings.secret_key), JOIN, token, now())
    assert slug == "mail" and claims and claims.registration_id == reg["id"] and claims.token_version == 1
    calendar = parts["text/calendar"].get_content()
    assert "SUMMARY:Știință\\, date\\; și <viitor>" in calendar.replace("\r\n ", "")
    [row] = await outbox_rows(db)
    assert row["status"] == "sent" and row["sent_at"] is not None and row["attempts"] == 1
    # Queued unwritten by the request, written by the sender, and what was sent kept in the row.
    # Its links' tokens redacted once it is sent: the mail queue shows the text, nobody can use the link.
    assert row["subject"] == message["Subject"] and row["body_text"] == redact(text.replace("\r\n", "\n"))
    assert token not in row["body_text"] + row["body_html"] + row["headers_json"] + row["ics"].replace("\r\n ", "")
    assert row["ics"] and "BEGIN:VEVENT" in row["ics"]
    assert await deliver_due(smtp_settings, db, compose_queued) == 0  # never twice
    assert len(smtp_server.messages) == 1


async def test_an_email_queued_before_its_registrant_was_erased_is_cancelled_not_sent(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    await create_event(slug="gone")
    await _register(client, "gone")
    [reg] = await registration_rows(db)
    async with db.transaction() as conn:  # the registrant's details went between queueing and sending
        await conn.execute(registrations.update().where(registrations.c.id == reg["id"]).values(email=None))
    assert await deliver_due(smtp_settings, db, compose_queued) == 0
    assert smtp_server.messages == []
    [row] = await outbox_rows(db)
    assert (row["status"], row["subject"], row["last_error"]) == ("cancelled", "", "registrant erased")


async def test_header_injection_through_a_name_is_impossible(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    await create_event(slug="inject")
    hidden = await open_form(client, "inject")
    bad = await client.post(
        "/events/inject/register", data={**person(last_name="X\r\nBcc: someone@example.org"), **hidden}
    )
    assert bad.status_code == 422
    await _register(client, "inject", last_name="X Bcc: someone@example.org")
    [reg] = await registration_rows(db)
    assert reg["last_name"] == "X Bcc: someone@example.org"
    await deliver_due(smtp_settings, db, compose_queued)
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["stefan.popescu@example.org"]
    assert received.message["Bcc"] is None and "someone@example.org" not in str(received.message["To"])


async def test_a_421_reply_is_retried_with_backoff_and_then_delivered(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    await create_event(slug="retry")
    await _register(client, "retry")
    smtp_server.handler.refuse_with = "421 Try again later"
    assert await deliver_due(smtp_settings, db, compose_queued) == 0
    [row] = await outbox_rows(db)
    assert row["status"] == "queued" and row["attempts"] == 1 and "421" in row["last_error"]
    assert now() < row["next_attempt_at"] <= now() + dt.timedelta(seconds=30)
    assert await deliver_due(smtp_settings, db, compose_queued) == 0  # not due yet
    smtp_server.handler.refuse_with = None
    async with db.transaction() as conn:
        await conn.execute(outbox.update().values(next_attempt_at=now()))
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    [row] = await outbox_rows(db)
    assert row["status"] == "sent" and row["attempts"] == 2 and len(smtp_server.messages) == 1


async def test_a_permanent_5xx_reply_makes_the_message_failed(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    await create_event(slug="dead")
    await _register(client, "dead")
    smtp_server.handler.refuse_with = "550 Mailbox unavailable"
    await deliver_due(smtp_settings, db, compose_queued)
    [row] = await outbox_rows(db)
    assert row["status"] == "failed" and "550" in row["last_error"]


async def test_an_unreachable_server_defers_and_gives_up_after_a_day(
    client: httpx.AsyncClient, create_event, db: DB, smtp_settings
) -> None:
    await create_event(slug="down")
    await _register(client, "down")
    unreachable = smtp_settings.with_overrides(smtp_port=1, smtp_timeout=2.0)
    await deliver_due(unreachable, db, compose_queued)
    [row] = await outbox_rows(db)
    assert row["status"] == "queued" and row["last_error"]
    async with db.transaction() as conn:
        await conn.execute(outbox.update().values(next_attempt_at=now(), created_at=now() - dt.timedelta(hours=25)))
    await deliver_due(unreachable, db, compose_queued)
    [row] = await outbox_rows(db)
    assert row["status"] == "failed" and row["attempts"] == 2


async def test_an_expired_lease_makes_a_message_claimable_again(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="lease")
    await _register(client, "lease")
    first = await claim_one(db, dt.timedelta(minutes=1), owner="crashed")
    assert first is not None
    assert await claim_one(db, dt.timedelta(minutes=1), owner="other") is None  # leased
    async with db.transaction() as conn:
        await conn.execute(outbox.update().values(locked_until=now() - dt.timedelta(seconds=1)))
    again = await claim_one(db, dt.timedelta(minutes=1), owner="other")
    assert again is not None and again.id == first.id
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(outbox.c.lock_owner)) == "other"


async def test_claims_take_lapsed_leases_first_then_due_messages_in_due_order(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="order")
    for n in range(5):
        await _register(client, "order", email=f"p{n}@example.org")
    ids = [row["id"] for row in await outbox_rows(db)]
    at = now()
    minutes = dt.timedelta(minutes=1)
    due = {ids[0]: at - 3 * minutes, ids[1]: at - 5 * minutes, ids[2]: at + 60 * minutes}
    async with db.transaction() as conn:
        for message_id, when in due.items():
            await conn.execute(outbox.update().where(outbox.c.id == message_id).values(next_attempt_at=when))
        lapsed, live = at - dt.timedelta(seconds=1), at + dt.timedelta(minutes=1)
        for message_id, until in ((ids[3], lapsed), (ids[4], live)):
            leased = {"status": "sending", "locked_until": until, "lock_owner": "crashed", "next_attempt_at": at}
            await conn.execute(outbox.update().where(outbox.c.id == message_id).values(leased))
    claimed = []
    while (msg := await claim_one(db, dt.timedelta(minutes=1), owner="other")) is not None:
        claimed.append(msg.id)
    # The lapsed lease, then the due ones oldest first; never the live lease or the one due in an hour.
    assert claimed == [ids[3], ids[1], ids[0]]


async def test_console_backend_logs_and_marks_sent(
    client: httpx.AsyncClient, create_event, db: DB, settings, caplog
) -> None:
    await create_event(slug="console")
    await _register(client, "console")
    with caplog.at_level(logging.INFO, logger="webinar.mail"):
        assert await deliver_due(settings, db, compose_queued) == 1
    [row] = await outbox_rows(db)
    assert row["status"] == "sent"
    [record] = [r for r in caplog.records if "console backend" in r.getMessage()]
    shown = record.getMessage()
    # Decoded: the headers as a person reads them, the text whole, no quoted-printable anywhere.
    assert "To: stefan.popescu@example.org" in shown and "From: " in shown and "Date: " in shown
    assert "Subject: You are registered: Conferința Națională de Științe" in shown
    assert "Hello Ștefan," in shown and "=?utf-8?" not in shown and "=\n" not in shown and "=C8" not in shown
    assert "[text/html: " in shown and "[text/calendar (method REQUEST): a calendar invitation, attached]" in shown
    # The join link is on one line: copied from the log, it signs the person in.
    [line] = [line for line in shown.splitlines() if LINK_RE.search(line)]
    assert LINK_RE.fullmatch(line.strip())
    response = await client.get(line.strip().removeprefix("http://testserver"))
    assert response.status_code == 303 and response.headers["location"].endswith("/events/console/watch")


async def test_manual_registrant_gets_no_link_until_approved(
    client: httpx.AsyncClient, create_event, db: DB, smtp_server, smtp_settings, operator_client
) -> None:
    from tests.conftest import csrf_from

    event_id = await create_event(slug="approveme", approval="manual")
    await _register(client, "approveme")
    await deliver_due(smtp_settings, db, compose_queued)
    assert not LINK_RE.search(smtp_server.messages[0].message.get_body(("plain",)).get_content())
    [reg] = await registration_rows(db)
    http = await operator_client()
    page = await http.get(f"/admin/events/{event_id}/registrants")
    response = await http.post(
        f"/admin/events/{event_id}/registrants/approve",
        data={"ids": str(reg["id"]), "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303
    await deliver_due(smtp_settings, db, compose_queued)
    approved = smtp_server.messages[1].message
    assert "text/calendar" in _parts(approved)
    _slug, token = LINK_RE.search(approved.get_body(("plain",)).get_content()).groups()
    assert read_token(str(smtp_settings.secret_key), JOIN, token, now()).registration_id == reg["id"]


def test_ics_escapes_folds_and_uses_crlf() -> None:
    start = dt.datetime(2030, 3, 5, 12, 0, tzinfo=dt.UTC)
    text = ics.render(
        ics.Invitation(
            uid="u@x",
            title="Ș" * 60 + ", a; b\nc",
            description="line1\nline2",
            url="https://x.test/e",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=1),
            organiser_name='Org "Ana"',
            organiser_email="o@x.test",
            attendee_email="a@x.test",
            stamp=start,
        )
    )
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert "DTSTART:20300305T120000Z" in text
    unfolded = text.replace("\r\n ", "")
    assert "\\, a\\; b\\nc" in unfolded and "DESCRIPTION:line1\\nline2" in unfolded
    assert 'CN="Org Ana"' in unfolded


_AT = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)
_MESSAGE = Message(
    id=1, event_id=None, registration_id=None, kind="reminder", to_address="a@example.org", subject="",
    body_text="Bună ziua, Ștefan,\n\nConferința începe mâine.\n" + "Linkul tău: https://webinar.test/j/" + "x" * 90,
    body_html="<p>Bună ziua, Ștefan,</p>\n<p>Conferința începe mâine.</p>",
    ics=ics.render(ics.Invitation(
        uid="u@x", title="Conferința Națională", description="Linkul tău", url="https://webinar.test/j/x",
        starts_at=_AT, ends_at=_AT, organiser_name="Asociația", organiser_email="o@x.test", attendee_email="a@x.test",
        stamp=_AT,
    )),
    headers_json='{"List-Unsubscribe": "<https://webinar.test/events/e/unsubscribe/' + "t" * 80 + '>"}',
    message_id="<0123456789abcdef.42@webinar.test>", status="sending", attempts=0, created_at=_AT, next_attempt_at=_AT,
    locked_until=None, lock_owner=None, sent_at=None, last_error=None, expires_at=None,
)  # fmt: skip


def test_the_senders_header_folding_is_compat32s() -> None:
    """The sender's quicker policy (a short plain ASCII header as it is, any other folded once and kept) writes every
    header as the `email` package's compat32 does: random values, twice each (the second from what was kept), and a
    whole reminder with a Romanian subject and name, byte for byte."""
    import io
    import random
    from email.generator import BytesGenerator
    from email.header import Header
    from email.policy import compat32

    plain = compat32.clone(linesep="\r\n")
    chance = random.Random(18)  # nosec B311 - test data
    for _ in range(20000):
        name = chance.choice(["To", "Date", "Message-ID", "Subject", "List-Unsubscribe"])
        value = "".join(chance.choice("ab <>@.;:,\"'=()\\\tăȘ") for _ in range(chance.randint(0, 120)))
        subject = Header(value, "utf-8")
        for _twice in range(2):
            assert sender._WIRE.fold_binary(name, value) == plain.fold_binary(name, value), (name, value)
            assert sender._WIRE.fold_binary(name, subject) == plain.fold_binary(name, subject), value
    message = sender.build_message(
        dataclasses.replace(
            _MESSAGE, subject="Memento: Conferința Națională de Științe începe mâine la 10:00 (Europe/Bucharest)",
            to_address="stefan.tiranu@example.org",
        ),
        "Asociația Medicilor <no-reply@webinar.test>",
    )  # fmt: skip
    message.set_boundary("fixed-boundary")
    ours, theirs = io.BytesIO(), io.BytesIO()
    BytesGenerator(theirs, mangle_from_=False, policy=plain).flatten(message)
    ours.write(sender.as_bytes(message))
    assert ours.getvalue() == theirs.getvalue()


def test_the_senders_quoted_printable_decodes_as_the_email_packages() -> None:
    """The text parts, encoded by binascii, read back exactly as those MIMEText encodes: random bodies with tabs,
    trailing spaces, long lines, "=", "From ", CR/LF, diacritics and emoji."""
    import email
    import email.policy
    import random
    from email import charset
    from email.mime.text import MIMEText

    qp = charset.Charset("utf-8")
    qp.body_encoding = charset.QP
    chance = random.Random(18)  # nosec B311 - test data
    pieces = ["a", " ", "\t", "\n", "=", "ă", ".", "From ", "x" * 80, "\u00a0", "😀", "\r\n", "=_"]
    for _ in range(300):
        body = "".join(chance.choice(pieces) for _ in range(chance.randint(0, 60)))
        ours = sender.as_bytes(sender._text_part(body, "plain"))
        theirs = sender.as_bytes(MIMEText(body, "plain", qp))  # type: ignore[arg-type]
        read = [email.message_from_bytes(b, policy=email.policy.default) for b in (ours, theirs)]
        assert read[0].get_content() == read[1].get_content(), body
        assert dict(read[0]) == dict(read[1])


def test_sender_job_is_registered() -> None:
    from webinar.worker import jobs

    assert sender.job(compose_queued) in jobs()


async def test_the_sender_works_through_a_backlog_without_waiting_between_passes(
    db: DB, smtp_server, smtp_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender, "PASS_SIZE", 40)  # smaller passes, the same rule
    backlog = 2 * sender.PASS_SIZE + 5  # three passes
    async with db.transaction() as conn:
        for i in range(backlog):
            await enqueue(
                conn, kind="confirmation", to_address=f"p{i}@example.org", subject="Înscriere", body_text="Salut",
                body_html="<p>Salut</p>", mail_from=smtp_settings.mail_from,
            )  # fmt: skip
    # A wait between two passes would stall the test.
    job = dataclasses.replace(sender.job(compose_queued), interval=600.0)
    app = create_app(smtp_settings)
    await app.state.db.connect()
    loop = asyncio.create_task(supervise(job, Context.of(app)))
    try:
        for _ in range(400):
            if len(smtp_server.messages) >= backlog:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the pass that finds the queue drained, then the loop waits: stop it there
    finally:
        loop.cancel()
        await asyncio.wait_for(asyncio.gather(loop, return_exceptions=True), 10)  # it stops when told to
        await asyncio.wait_for(app.state.db.disconnect(), 10)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(f"p{i}@example.org" for i in range(backlog))


def test_the_senders_wire_bytes_are_the_email_packages() -> None:
    """`sender.wire` puts a message together from pieces made once; byte for byte what `build_message` and
    `as_bytes` write, on random messages: subjects and names with diacritics, bodies with CR/LF, lone CRs, "=",
    long lines, no calendar or a request or a cancellation, long unfoldable and foldable extra headers."""
    import random
    import uuid

    chance = random.Random(18)  # nosec B311 - test data
    pieces = ["a", " ", "\t", "\n", "=", "ă", ".", "From ", "x" * 80, "\u00a0", "😀", "\r\n", "\r", "=_", "Ș", "<>"]

    def text(most: int) -> str:
        return "".join(chance.choice(pieces) for _ in range(chance.randint(0, most)))

    for i in range(2000):
        boundary = uuid.uuid4().hex
        date = _AT + dt.timedelta(seconds=chance.randint(0, 10**8))
        message = dataclasses.replace(
            _MESSAGE, subject=text(30), to_address=f"{text(5)}@example.org", body_text=text(60), body_html=text(60),
            ics=chance.choice([None, _MESSAGE.ics, (_MESSAGE.ics or "").replace("METHOD:REQUEST", "METHOD:CANCEL")]),
            headers_json=chance.choice([
                "{}", _MESSAGE.headers_json,
                json.dumps({"List-Unsubscribe": f"<https://x.test/{'t' * chance.randint(0, 120)}>", "X-A": text(40)}),
            ]),
            message_id=f"<{boundary}.{i}@webinar.test>",
        )  # fmt: skip
        mail_from = chance.choice(
            ["Bench <no-reply@bench.example>", "Asociația Medicilor <no-reply@webinar.test>", '"A, B" <a@b.test>']
        )
        built = sender.as_bytes(sender.build_message(message, mail_from, boundary=boundary, date=date))
        assert sender.wire(message, mail_from, boundary=boundary, date=date) == built, message
