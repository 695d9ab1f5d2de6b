"""An attendee's own password: set only from a session, that is once a join link has proven the mailbox."""

from __future__ import annotations

from starlette.datastructures import FormData

from webinar.access.queries import Attendee
from webinar.accounts import passwords, sessions
from webinar.db import DB
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.tables import registrations
from webinar.web.forms import has_control_chars

PASSWORD_MIN, PASSWORD_MAX = 8, 128


def parse(form: FormData) -> tuple[str | None, dict[str, str]]:
    """The new password of the /me form (typed twice), or a message."""
    raw, again = form.get("password"), form.get("password_again")
    password = raw if isinstance(raw, str) else ""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        message = _("A password needs %(min)s to %(max)s characters.") % {"min": PASSWORD_MIN, "max": PASSWORD_MAX}
        return None, {"password": message}
    if has_control_chars(password):
        return None, {"password": _("This contains characters that are not allowed.")}
    if again != password:
        return None, {"password": _("The two passwords are not the same.")}
    return password, {}


def may_set(event: Event) -> bool:
    """Whether attendees of this event may sign in with a password at all."""
    return event.login == "link_and_password"


async def set_password(db: DB, event: Event, attendee: Attendee, password: str, raw_sid: str) -> None:
    """Store the signed-in attendee's new password. The caller holds an attendee session, which only a join link
    (or a password set the same way) opens: the mailbox is proven. Their other sessions end, this one lives on."""
    assert may_set(event)
    hashed = await passwords.hash_password(password)
    async with db.transaction() as conn:
        await conn.execute(
            registrations.update()
            .where(registrations.c.id == attendee.id, registrations.c.event_id == event.id)
            .values(password_hash=hashed)
        )
        await sessions.revoke_all(conn, registration_id=attendee.id, keep=raw_sid)
