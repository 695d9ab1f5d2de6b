"""Helpers shared by the registration and mail tests: opening the form and counting what was stored."""

from __future__ import annotations

import re
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette

from tests.conftest import csrf_from
from webinar.db import DB, to_dataclass
from webinar.mail import sender
from webinar.mail.outbox import Message
from webinar.mail.render import Mailer
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.tables import consent_records, outbox, registrations
from webinar.templating import make_environment

VERSION_RE = re.compile(r'name="consent_version" value="(\d+)"')


def browsers(app: Starlette, cookies: httpx.Cookies, n: int, subnet: int = 0) -> list[httpx.AsyncClient]:
    """`n` browsers from different addresses (10.{subnet}.x.y) sharing one session cookie: past 20 registrations
    from one address a proof of work is asked for, so many people registering at once need many addresses."""
    return [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(f"10.{subnet}.{i // 250}.{i % 250 + 1}", 40000)),
            base_url="http://testserver",
            cookies=cookies,
        )
        for i in range(n)
    ]


async def open_form(client: httpx.AsyncClient, slug: str) -> dict[str, str]:
    """GET the event page; the hidden fields its form posts back (CSRF token and consent version)."""
    response = await client.get(f"/events/{slug}")
    assert response.status_code == 200, response.text[:300]
    match = VERSION_RE.search(response.text)
    assert match, "no registration form on the page"
    return {"csrf_token": csrf_from(response.text), "consent_version": match.group(1)}


def person(**overrides: Any) -> dict[str, str]:
    """A valid submission for the default test event."""
    values = {
        "first_name": "Ștefan",
        "last_name": "Popescu",
        "email": "stefan.popescu@example.org",
        "job_title": "Inginer",
        "organisation": "Institutul de Fizică",
        "consent_processing": "on",
        "age_confirmed": "on",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


async def counts(db: DB) -> tuple[int, int, int]:
    """How many registrations, consent records and outbox messages exist."""
    async with db.connection() as conn:
        return (
            await conn.fetch_val(sa.select(sa.func.count()).select_from(registrations)),
            await conn.fetch_val(sa.select(sa.func.count()).select_from(consent_records)),
            await conn.fetch_val(sa.select(sa.func.count()).select_from(outbox)),
        )


async def write_queued(db: DB, settings: Settings) -> None:
    """Write every registrant e-mail still queued unwritten, as the sender does just before it sends one."""
    mailer = Mailer(settings, make_environment())
    async with db.connection() as conn:
        rows = await conn.fetch_all(outbox.select().where(outbox.c.subject == "").order_by(outbox.c.id))
    for row in rows:
        assert await sender.compose(mailer, db, to_dataclass(Message, row), compose_queued) is not None


async def outbox_rows(db: DB, settings: Settings | None = None) -> list[Any]:
    """Every outbox row, oldest first; with `settings`, registrant e-mails written as the sender writes them."""
    if settings is not None:
        await write_queued(db, settings)
    async with db.connection() as conn:
        return list(await conn.fetch_all(outbox.select().order_by(outbox.c.id)))


async def registration_rows(db: DB) -> list[Any]:
    """Every registration row, oldest first."""
    async with db.connection() as conn:
        return list(await conn.fetch_all(registrations.select().order_by(registrations.c.id)))
