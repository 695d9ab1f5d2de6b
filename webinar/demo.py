"""`webinar demo`: a demo organisation, an open listed event and an operator account, created once."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from webinar import files
from webinar.accounts import passwords, staff
from webinar.clock import now
from webinar.db import DB
from webinar.events.services import DEFAULT_CONSENT_TEXT, EventInput, create_event
from webinar.registration.fields import default_modes
from webinar.settings import Settings
from webinar.tables import DEFAULT_FOLLOWUP_MINUTES, DEFAULT_REMINDERS, events, organisations

DEMO_EMAIL = "operator@demo.example"
DEMO_SLUG = "webinar-demo"
# A few seconds of HLS made by scripts/demo_stream.py and served with the static files: the demo plays offline.
DEMO_STREAM_PATH = "/static/demo/stream/index.m3u8"


def _demo_event(organisation_id: int, base_url: str) -> EventInput:
    start = now().replace(second=0, microsecond=0) + dt.timedelta(minutes=10)
    return EventInput(
        organisation_id=organisation_id,
        title="Webinar demonstrativ: Securitatea datelor în instituții publice",
        slug=DEMO_SLUG,
        description=(
            "Un webinar de încercare: înscrieți-vă, primiți linkul personal pe e-mail și intrați în pagina "
            "transmisiunii.\n\nA demonstration webinar: register, get your personal link by e-mail and open the "
            "stream page."
        ),
        language="ro",
        timezone="Europe/Bucharest",
        starts_at=start,
        ends_at=start + dt.timedelta(days=7),
        registration_opens_at=None,
        registration_closes_at=None,
        doors_open_minutes=30,
        stream_url=base_url + DEMO_STREAM_PATH,
        embed_url="",
        capacity=None,
        approval="auto",
        login="link_and_password",
        **default_modes(member_id="optional"),
        min_age=16,
        retention_days=90,
        listed=True,
        waitlist=False,
        confirm_email=False,
        devices=1,
        reminders=DEFAULT_REMINDERS,
        followup_after_minutes=DEFAULT_FOLLOWUP_MINUTES,
        attendance_minutes=None,
        presence_checks=0,
        replay_url="",
        replay_until=None,
        credits="",
        certificates=False,
        certificate_series="",
        consent_text_ro=DEFAULT_CONSENT_TEXT["ro"],
        consent_text_en=DEFAULT_CONSENT_TEXT["en"],
    )


async def create_demo(settings: Settings) -> str:
    """Create the demo data if it is not there yet; returns what to tell the person who asked."""
    db = DB(settings)
    await db.connect()
    try:
        async with db.transaction() as conn:
            if await conn.fetch_val(sa.select(events.c.id).where(events.c.slug == DEMO_SLUG)) is not None:
                return (
                    f"The demo already exists: {settings.base_url}/events/{DEMO_SLUG}\n"
                    f"Operator login: {settings.base_url}/admin/login as {DEMO_EMAIL} "
                    f"(password in {settings.var_dir / 'demo-login.txt'} if this machine created it)."
                )
            password = secrets.token_urlsafe(12)
            org_id = await conn.fetch_val(
                organisations.insert()
                .values(name="Organizația Demo", slug="demo", contact_email="dpo@demo.example", created_at=now())
                .returning(organisations.c.id)
            )
            await create_event(conn, _demo_event(org_id, settings.base_url))
            if not await staff.email_taken(conn, DEMO_EMAIL):
                await staff.create(
                    conn,
                    email=DEMO_EMAIL,
                    password_hash=await passwords.hash_password(password),
                    role="operator",
                    organisation_id=None,
                )
        files.write_private(settings.var_dir / "demo-login.txt", f"{DEMO_EMAIL}\n{password}\n")  # a password
        return (
            "Demo created.\n"
            f"  Event page:     {settings.base_url}/events/{DEMO_SLUG}\n"
            f"  Operator login: {settings.base_url}/admin/login\n"
            f"  E-mail:         {DEMO_EMAIL}\n"
            f"  Password:       {password}\n"
            f"(also kept in {settings.var_dir / 'demo-login.txt'})"
        )
    finally:
        await db.disconnect()
