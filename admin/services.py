"""The back office's changes: each one transaction, each leaving an audit entry that names the staff member."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from databases.core import Connection

from admin import queries
from admin.account_forms import OrganisationInput, StaffInput
from webinar import audit, changes
from webinar.accounts import passwords, sessions, staff
from webinar.accounts.staff import StaffUser
from webinar.clock import now
from webinar.db import DB
from webinar.events import copying
from webinar.events import queries as event_queries
from webinar.events import services as event_services
from webinar.events.services import EventInput
from webinar.i18n import LANGUAGES
from webinar.registration import messages, notices, seats
from webinar.registration import queries as registration_queries
from webinar.settings import Settings
from webinar.tables import organisations, staff_users
from webinar.text import slugify


class Taken(Exception):
    """A unique value (slug, e-mail address) is already used; `field` names the form field."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit log."""

    user: StaffUser
    ip: str | None


@asynccontextmanager
async def _taken_on_duplicate(field: str) -> AsyncIterator[None]:
    """Turn a UNIQUE constraint's refusal (a race lost to a concurrent request) into Taken(field)."""
    try:
        yield
    except (asyncpg.exceptions.UniqueViolationError, sqlite3.IntegrityError) as exc:
        if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" not in str(exc):
            raise
        raise Taken(field) from exc


async def _audit(
    conn: Connection,
    actor: Actor,
    action: str,
    organisation_id: int | None,
    event_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        conn,
        action,
        actor=actor.user.email,
        actor_staff_id=actor.user.id,
        organisation_id=organisation_id,
        event_id=event_id,
        ip=actor.ip,
        details=details,
    )


async def create_organisation(db: DB, actor: Actor, data: OrganisationInput) -> int:
    """Store a client organisation; Taken('slug') when its slug is used."""
    async with _taken_on_duplicate("slug"), db.transaction() as conn:
        if await queries.organisation_slug_taken(conn, data.slug):
            raise Taken("slug")
        org_id: int = await conn.fetch_val(
            organisations.insert().values(**dataclasses.asdict(data), created_at=now()).returning(organisations.c.id)
        )
        await _audit(conn, actor, "organisation.created", organisation_id=org_id, details={"slug": data.slug})
    return org_id


async def set_event_editing(db: DB, actor: Actor, organisation_id: int, allowed: bool) -> bool:
    """Allow, or stop, the organisation's organisers creating and editing its events; False: no such organisation."""
    async with db.transaction() as conn:
        changes.shown_changed()
        changed = await conn.fetch_val(
            organisations.update()
            .where(organisations.c.id == organisation_id)
            .values(organisers_edit_events=allowed)
            .returning(organisations.c.id)
        )
        if changed is None:
            return False
        details = {"organisers_edit_events": allowed}
        await _audit(conn, actor, "organisation.updated", organisation_id=organisation_id, details=details)
    return True


async def create_staff_account(db: DB, actor: Actor, data: StaffInput) -> int:
    """Store a staff account with an Argon2id hash of its password; Taken('email') when the address is used."""
    password_hash = await passwords.hash_password(data.password)  # before the transaction: it takes a while
    async with _taken_on_duplicate("email"), db.transaction() as conn:
        if await staff.email_taken(conn, data.email):
            raise Taken("email")
        user_id = await staff.create(
            conn, email=data.email, password_hash=password_hash, role=data.role, organisation_id=data.organisation_id
        )
        details = {"staff_user_id": user_id, "email": data.email, "role": data.role}
        await _audit(conn, actor, "staff.created", organisation_id=data.organisation_id, details=details)
    return user_id


async def revoke_staff_sessions(db: DB, actor: Actor, user_id: int) -> bool:
    """End every session of a staff account and forget its known devices ("log out everywhere"); False when there
    is no such account."""
    async with db.transaction() as conn:
        user = await queries.staff_user(conn, user_id)
        if user is None:
            return False
        await sessions.revoke_all(conn, staff_user_id=user_id)
        await staff.forget_devices(conn, user_id)
        details = {"staff_user_id": user_id, "email": user.email}
        await _audit(conn, actor, "staff.sessions_revoked", organisation_id=user.organisation_id, details=details)
    return True


async def deactivate_staff(db: DB, actor: Actor, user_id: int) -> bool:
    """Switch a staff account off and end its sessions; False when there is no such account."""
    async with db.transaction() as conn:
        user = await queries.staff_user(conn, user_id)
        if user is None:
            return False
        await conn.execute(staff_users.update().where(staff_users.c.id == user_id).values(is_active=False))
        await sessions.revoke_all(conn, staff_user_id=user_id)
        details = {"staff_user_id": user_id, "email": user.email}
        await _audit(conn, actor, "staff.deactivated", organisation_id=user.organisation_id, details=details)
    return True


async def _with_slug(conn: Connection, data: EventInput, event_id: int | None) -> EventInput:
    """The event data with a free slug: made from the title when empty; Taken('slug') when the one given is used."""
    if not data.slug:
        return dataclasses.replace(data, slug=await event_services.unique_slug(conn, slugify(data.title), event_id))
    if await event_queries.slug_taken(conn, data.slug, event_id):
        raise Taken("slug")
    return data


async def create_event(db: DB, actor: Actor, data: EventInput) -> int:
    """Store a new event with the first version of its consent text in each language given; Taken('slug') when the
    slug is used."""
    async with _taken_on_duplicate("slug"), db.transaction() as conn:
        data = await _with_slug(conn, data, None)
        event_id = await event_services.create_event(conn, data)
        details = {"slug": data.slug, "title": data.title}
        await _audit(
            conn, actor, "event.created", organisation_id=data.organisation_id, event_id=event_id, details=details
        )
    return event_id


async def duplicate_event(db: DB, actor: Actor, source_id: int, data: EventInput) -> int:
    """Store a copy of an event with the form's data (its new dates, a free slug), and the original's questions,
    e-mail texts and final evaluation (webinar/events/copying.py), never its people; Taken('slug') when the slug
    is used."""
    async with _taken_on_duplicate("slug"), db.transaction() as conn:
        data = await _with_slug(conn, data, None)
        event_id = await event_services.create_event(conn, data)
        await copying.copy_setup(conn, source_id, event_id, actor.user.email)
        details = {"copied_from": source_id, "slug": data.slug, "title": data.title}
        await _audit(
            conn, actor, "event.duplicated", organisation_id=data.organisation_id, event_id=event_id, details=details
        )
    return event_id


async def _changed_fields(conn: Connection, event_id: int, data: EventInput) -> list[str]:
    old = await event_queries.by_id(conn, event_id)
    consents = await event_queries.current_consents(conn, event_id)
    texts = {f"consent_text_{lang}": lang for lang in LANGUAGES}
    changed = [
        f.name
        for f in dataclasses.fields(data)
        if f.name not in texts and getattr(old, f.name) != getattr(data, f.name)
    ]
    for name, lang in texts.items():
        current = consents.of(lang)
        if (current.text if current else "") != data.consent_text(lang):
            changed.append(name)
    return changed


async def update_event(db: DB, settings: Settings, actor: Actor, event_id: int, data: EventInput) -> list[str]:
    """Change an event (a language's new consent text becomes a new version of it); returns the names of the fields
    that changed. Seats a larger capacity adds go to the waiting list's first, and a new time or stream is e-mailed
    to the approved registrants (registration/notices.py), in the same transaction."""
    async with _taken_on_duplicate("slug"), db.transaction() as conn:
        await registration_queries.lock_seats(conn, event_id)  # before the row is changed: the order of every path
        data = await _with_slug(conn, data, event_id)
        changed = await _changed_fields(conn, event_id, data)
        await event_services.update_event(conn, event_id, data)
        details: dict[str, Any] = {"changed": changed}
        if (updates := await notices.announce_change(conn, settings, event_id, changed)) is not None:
            details["updates_queued"] = updates
        await _audit(conn, actor, "event.updated", organisation_id=data.organisation_id, event_id=event_id,
                     details=details)  # fmt: skip
        await seats.fill(conn, settings, event_id)
    return changed


class NobodyToMessage(Exception):
    """A message to registrants reaches no one (or its event is cancelled): nothing is stored."""


async def message_registrants(
    db: DB, settings: Settings, actor: Actor, event_id: int, audience: str, subject: str, body: str
) -> int:
    """Queue staff's message (checked: admin/email_forms.py) to the event's registrants of `audience`, one e-mail each
    written when it goes (registration/messages.py), in one transaction with its audit entry; how many were queued.
    NobodyToMessage when it reaches no one or the event is cancelled."""
    async with db.transaction() as conn:
        event = await event_queries.by_id(conn, event_id)
        if event is None or event.cancelled:
            raise NobodyToMessage
        staff_member = (actor.user.id, actor.user.email)
        message_id, queued = await messages.queue(conn, settings, event_id, audience, subject, body, staff_member)
        if not queued:
            raise NobodyToMessage  # rolls the stored message back
        details = {"event_message_id": message_id, "audience": audience, "recipients": queued, "subject": subject}
        await _audit(conn, actor, "event.message_sent", organisation_id=event.organisation_id, event_id=event_id,
                     details=details)  # fmt: skip
    return queued


class NotCancellable(Exception):
    """The event cannot be cancelled: it is over (or cancelled already, which the caller treats as done)."""


async def cancel_event(db: DB, settings: Settings, actor: Actor, event_id: int) -> int:
    """Cancel an event that has not ended, in one transaction: its status, and the `event_cancelled` e-mail to every
    approved, pending and waitlisted registrant; returns how many were queued (0 when it was cancelled already).
    NotCancellable once the event is over."""
    async with db.transaction() as conn:
        held = await registration_queries.lock_seats(conn, event_id)  # no seat changes hands while it is cancelled
        if held is None:
            raise NotCancellable
        if held.status == "cancelled":
            return 0
        if now() >= held.ends_at:
            raise NotCancellable
        queued = await notices.cancel_event(conn, settings, event_id)
        assert queued is not None  # the row is held: nobody cancelled it since it was read
        await _audit(conn, actor, "event.cancelled", organisation_id=held.organisation_id, event_id=event_id,
                     details={"cancellations_queued": queued})  # fmt: skip
    return queued
