"""The registration form is no spam relay: what a registrant typed reaches an unproven address with no live link."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.webinar.regutil import open_form, person
from webinar.db import DB
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings

LURE = "URGENT verify at https://evil.example/login or www.evil.example"


def parts(message: Any) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


async def register(client: httpx.AsyncClient, slug: str, **overrides: str) -> None:
    hidden = await open_form(client, slug)
    response = await client.post(f"/events/{slug}/register", data={**person(**overrides), **hidden})
    assert response.status_code == 303, response.text[:500]


async def test_a_link_typed_as_a_name_reaches_the_mailbox_inert_in_every_part(
    client: httpx.AsyncClient,
    create_event: Callable[..., Awaitable[int]],
    db: DB,
    smtp_server: Any,
    smtp_settings: Settings,
) -> None:
    await create_event(slug="relay", language="en")
    await register(client, "relay", first_name=LURE, last_name="admin@evil.example", email="victim@example.org")
    await register(client, "relay", first_name=LURE, email="victim@example.org")  # again: "already registered"
    assert await deliver_due(smtp_settings, db, compose_queued) == 2
    assert len(smtp_server.messages) == 2
    for received in smtp_server.messages:
        found = parts(received.message)
        for content_type, body in found.items():
            unfolded = body.replace("\r\n ", "").replace("\n ", "")
            assert "evil.example" not in unfolded and "https://evil" not in unfolded, (content_type, body)
            assert "admin@evil" not in unfolded, content_type
        assert "Hello URGENT verify at https[:]//evil[.]example/login or www[.]evil[.]example," in found["text/plain"]
        assert 'href="https://evil' not in found["text/html"] and "https[:]//evil[.]example" in found["text/html"]


async def test_an_ordinary_name_is_printed_as_typed(
    client: httpx.AsyncClient,
    create_event: Callable[..., Awaitable[int]],
    db: DB,
    smtp_server: Any,
    smtp_settings: Settings,
) -> None:
    await create_event(slug="plain", language="en")
    await register(client, "plain", first_name="Dr. Ana-Maria", last_name="O'Brien")
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    [received] = smtp_server.messages
    assert "Hello Dr. Ana-Maria," in parts(received.message)["text/plain"]
