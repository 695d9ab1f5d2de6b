"""What the mail queue makes of an SMTP server's answers, against a real aiosmtpd server: a 550 for one recipient is
failed at once with the server's words, a 451 for another is retried with backoff (moved clock), a dead port too,
and a day of temporary refusals ends failed."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import AuthResult

from tests.conftest import SMTPRecorder, SMTPServer, running_smtp
from tests.webinar.moved_clock import MovedClock
from tests.webinar.regutil import open_form, outbox_rows, person
from webinar.clock import now
from webinar.db import DB
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings

REFUSED = "no-such-user@example.org"
GREYLISTED = "greylisted@example.org"
WELCOME = "ana@example.org"


class Picky(SMTPRecorder):
    """A server with an opinion on each recipient: the answer given at RCPT TO for the addresses in `answers`."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = {
            REFUSED: "550 5.1.1 <no-such-user@example.org>: Recipient address rejected: User unknown",
            GREYLISTED: "451 4.7.1 <greylisted@example.org>: Greylisted, please try again in 5 minutes",
        }

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.answers:
            return self.answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def picky_server() -> Iterator[SMTPServer]:
    with running_smtp(Picky()) as server:
        yield server


@pytest.fixture
def picky_settings(settings: Settings, picky_server: SMTPServer) -> Settings:
    return settings.with_overrides(
        mail_backend="smtp", smtp_host=picky_server.host, smtp_port=picky_server.port, smtp_timeout=5.0,
        mail_from="Webinar <no-reply@webinar.test>",
    )  # fmt: skip


@pytest.fixture
def moved(monkeypatch: pytest.MonkeyPatch) -> MovedClock:
    return MovedClock(monkeypatch)


async def _register(client: httpx.AsyncClient, slug: str, email: str) -> None:
    hidden = await open_form(client, slug)
    response = await client.post(f"/events/{slug}/register", data={**person(email=email), **hidden})
    assert response.status_code == 303, response.text[:300]


async def _by_address(db: DB) -> dict[str, Any]:
    return {row["to_address"]: row for row in await outbox_rows(db)}


async def _queue_page(http: httpx.AsyncClient, state: str) -> str:
    page = await http.get("/admin/outbox", params={"status": state})
    assert page.status_code == 200
    return page.text


async def test_a_550_fails_at_once_a_451_retries_with_backoff_and_the_queue_says_which(
    client: httpx.AsyncClient, create_event, db: DB, picky_server, picky_settings, moved, operator_client
) -> None:
    await create_event(slug="picky")
    for email in (REFUSED, GREYLISTED, WELCOME):
        await _register(client, "picky", email)
    start = moved.to(now())
    assert await deliver_due(picky_settings, db, compose_queued) == 1
    assert [m.rcpt_tos for m in picky_server.messages] == [[WELCOME]]
    rows = await _by_address(db)
    refused, greylisted = rows[REFUSED], rows[GREYLISTED]
    assert (refused["status"], refused["attempts"]) == ("failed", 1)
    assert refused["last_error"] == "550 5.1.1 <no-such-user@example.org>: Recipient address rejected: User unknown"
    assert (greylisted["status"], greylisted["attempts"]) == ("queued", 1)
    assert greylisted["last_error"].startswith("451 4.7.1 <greylisted@example.org>: Greylisted")
    assert start + dt.timedelta(seconds=10) <= greylisted["next_attempt_at"] <= start + dt.timedelta(seconds=20)

    http = await operator_client()
    assert 'data-state="failed">failed</span>' in await _queue_page(http, "failed")
    retrying = await _queue_page(http, "retrying")
    assert GREYLISTED in retrying and REFUSED not in retrying and 'data-state="retrying">retrying</span>' in retrying
    assert "Recipient address rejected: User unknown" in await _queue_page(http, "failed")

    moved.forward(dt.timedelta(seconds=5))  # not due yet: nothing is tried
    assert await deliver_due(picky_settings, db, compose_queued) == 0
    assert (await _by_address(db))[GREYLISTED]["attempts"] == 1
    moved.forward(dt.timedelta(minutes=1))  # due: refused again, the wait doubles
    assert await deliver_due(picky_settings, db, compose_queued) == 0
    again = (await _by_address(db))[GREYLISTED]
    assert (again["status"], again["attempts"]) == ("queued", 2)
    assert dt.timedelta(seconds=30) <= again["next_attempt_at"] - moved.at <= dt.timedelta(seconds=40)
    assert (await _by_address(db))[REFUSED]["attempts"] == 1  # a failed message is never tried again by itself

    del picky_server.handler.answers[GREYLISTED]  # the greylisting lifts
    moved.forward(dt.timedelta(minutes=5))
    assert await deliver_due(picky_settings, db, compose_queued) == 1
    done = (await _by_address(db))[GREYLISTED]
    assert (done["status"], done["attempts"], done["last_error"]) == ("sent", 3, None)
    assert [m.rcpt_tos for m in picky_server.messages] == [[WELCOME], [GREYLISTED]]


async def test_a_day_of_451s_ends_failed(
    client: httpx.AsyncClient, create_event, db: DB, picky_server, picky_settings, moved
) -> None:
    await create_event(slug="grey")
    await _register(client, "grey", GREYLISTED)
    moved.to(now())
    for _ in range(3):
        await deliver_due(picky_settings, db, compose_queued)
        moved.forward(dt.timedelta(hours=2))
    [row] = await outbox_rows(db)
    assert (row["status"], row["attempts"]) == ("queued", 3)
    moved.forward(dt.timedelta(hours=24))
    await deliver_due(picky_settings, db, compose_queued)
    [row] = await outbox_rows(db)
    assert (row["status"], row["attempts"]) == ("failed", 4) and row["last_error"].startswith("451 ")
    assert picky_server.messages == []


async def test_a_dead_port_is_retried_then_delivered_when_the_server_is_back(
    client: httpx.AsyncClient, create_event, db: DB, picky_server, picky_settings, moved
) -> None:
    await create_event(slug="deadport")
    await _register(client, "deadport", WELCOME)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    down = picky_settings.with_overrides(smtp_port=dead_port, smtp_timeout=2.0)
    moved.to(now())
    assert await deliver_due(down, db, compose_queued) == 0
    [row] = await outbox_rows(db)
    assert (row["status"], row["attempts"]) == ("queued", 1) and row["last_error"]
    assert "550" not in row["last_error"]
    moved.forward(dt.timedelta(minutes=2))
    assert await deliver_due(picky_settings, db, compose_queued) == 1
    [row] = await outbox_rows(db)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert [m.rcpt_tos for m in picky_server.messages] == [[WELCOME]]


def _deny(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=False, handled=False, message="535 5.7.8 Authentication credentials invalid")


async def test_a_535_about_our_credentials_is_retried_not_failed(
    client: httpx.AsyncClient, create_event, db: DB, picky_settings
) -> None:
    await create_event(slug="auth")
    await _register(client, "auth", WELCOME)
    with running_smtp(Picky(), authenticator=_deny, auth_require_tls=False) as refusing:
        # A wrong SMTP password is the operator's to fix: every message must still be there to go once it is.
        wrong = picky_settings.with_overrides(smtp_port=refusing.port, smtp_username="someone", smtp_password="wrong")
        assert await deliver_due(wrong, db, compose_queued) == 0
    [row] = await outbox_rows(db)
    assert (row["status"], row["attempts"]) == ("queued", 1) and row["last_error"].startswith("535 ")
