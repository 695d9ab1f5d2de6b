"""The organisation's logo in its events' e-mails, on both engines: in the HTML part as an https address of ours
(none when BASE_URL is not https), the text part unchanged; the same written one by one and in a sender's pass."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from tests.branding_images import image
from tests.webinar.access_helpers import load_event
from tests.webinar.privacy_helpers import mails_to, register
from webinar.branding import logo, services
from webinar.db import DB, to_dataclass
from webinar.mail import sender
from webinar.mail.outbox import Message
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.tables import outbox
from webinar.templating import make_environment

HTTPS = "https://webinar.example.org"
EMAIL = "stefan.popescu@example.org"


async def _branded_registration(client: httpx.AsyncClient, db: DB, create_organisation: Any, create_event: Any) -> str:
    """A registration for an event of an organisation with a 400 by 100 pixel logo; the logo's file name."""
    org_id = await create_organisation(name="Asociația Medicilor")
    event = await load_event(db, await create_event(organisation_id=org_id))
    checked = logo.checked(image("PNG", size=(400, 100)))
    async with db.transaction() as conn:
        await services.set_logo(conn, org_id, checked, "test", None, None)
    await register(client, db, event)
    return f"{HTTPS}/brand/{org_id}/logo-{checked.sha256[:16]}.png"


async def test_the_html_part_shows_the_logo_from_our_https_address_and_the_text_part_does_not(
    client: httpx.AsyncClient, db: DB, settings: Settings, create_organisation: Any, create_event: Any
) -> None:
    address = await _branded_registration(client, db, create_organisation, create_event)
    [mail] = await mails_to(db, EMAIL, dataclasses.replace(settings, base_url=HTTPS))
    assert f'<img src="{address}" alt="Asociația Medicilor" width="192" height="48"' in mail["body_html"]
    assert "/brand/" not in mail["body_text"]


async def test_a_sender_pass_writes_the_same_logo(
    client: httpx.AsyncClient, db: DB, settings: Settings, create_organisation: Any, create_event: Any
) -> None:
    address = await _branded_registration(client, db, create_organisation, create_event)
    mailer = sender.Mailer(dataclasses.replace(settings, base_url=HTTPS), make_environment(), memo={})
    async with db.connection() as conn:
        [row] = await conn.fetch_all(outbox.select().where(outbox.c.to_address == EMAIL))
    written = await sender.compose(mailer, db, to_dataclass(Message, row), compose_queued)
    assert written is not None and f'<img src="{address}"' in written.body_html


async def test_without_https_the_e_mail_has_no_logo(
    client: httpx.AsyncClient, db: DB, settings: Settings, create_organisation: Any, create_event: Any
) -> None:
    await _branded_registration(client, db, create_organisation, create_event)
    [mail] = await mails_to(db, EMAIL, settings)  # BASE_URL http://testserver
    assert "<img" not in mail["body_html"] and "/brand/" not in mail["body_text"]
