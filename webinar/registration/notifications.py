"""The e-mails a registrant receives: queued in the caller's transaction, written in their language when sent."""

from __future__ import annotations

import datetime as dt
from email.utils import parseaddr
from typing import Any

from databases.core import Connection

from webinar import i18n
from webinar.clock import now
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.links.cancel import cancel_url
from webinar.links.join import join_url
from webinar.links.privacy import marketing_extras, privacy_url
from webinar.mail import ics, outbox
from webinar.mail.render import Composed, Mailer, Withheld, one_line, render_email
from webinar.registration import queries as registration_queries
from webinar.registration.queries import Registration
from webinar.settings import Settings
from webinar.tables import CANCELLABLE

WITH_JOIN_LINK = ("confirmation", "approved", "reminder")
# The e-mails that tell a registrant where they stand carry the link to cancel, while they still may.
WITH_CANCEL_LINK = (
    "confirmation", "received", "approved", "waitlisted", "promoted", "already_registered", "reminder",
)  # fmt: skip
WITH_PLACE = ("waitlisted", "already_registered")  # a waitlisted registrant is told their place in line
KINDS = (
    "confirmation", "received", "approved", "rejected", "already_registered", "join_link", "waitlisted", "promoted",
    "cancelled", "reminder", "followup_attended", "followup_missed",
)  # fmt: skip
# The scheduled e-mails (registration/reminders.py) go to approved registrants only, and a reminder only before the
# start: one queued earlier is withheld when it is written (or retried) too late.
SCHEDULED = ("reminder", "followup_attended", "followup_missed")


def _with_join_link(kind: str, reg: Registration) -> bool:
    """Whether this e-mail is the one with the join link and its calendar invitation: a confirmation, an approval,
    or a promotion from the waiting list that approved the registrant (not one that made them pending)."""
    return kind in WITH_JOIN_LINK or (kind == "promoted" and reg.status == "approved")


def _invitation(mailer: Mailer, event: Event, reg: Registration, url: str, organiser: str) -> str:
    domain = parseaddr(mailer.settings.mail_from)[1].rpartition("@")[2] or "localhost"
    with i18n.use(reg.language):  # the calendar entry's text is in the registrant's language, like the e-mail
        description = f"{event.title}\n\n{_('Your personal join link (keep it to yourself, it signs you in):')}\n{url}"
    return ics.render(
        ics.Invitation(
            uid=f"event-{event.id}-registration-{reg.id}@{domain}",
            title=event.title,
            description=description,
            url=url,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            organiser_name=organiser,
            organiser_email=parseaddr(mailer.settings.mail_from)[1],
            attendee_email=reg.email or "",
            stamp=now(),
        )
    )


def compose(
    mailer: Mailer, kind: str, event: Event, reg: Registration, organiser: str, place: int | None = None
) -> Composed:
    """Render one registrant e-mail (no database work: the caller knows the organiser's name and, for a waitlisted
    registrant, their place on the waiting list)."""
    assert kind in KINDS and reg.email
    with_link = _with_join_link(kind, reg)
    url = join_url(mailer.settings, event, reg) if with_link or reg.status == "approved" else None
    may_cancel = kind in WITH_CANCEL_LINK and reg.status in CANCELLABLE and now() < event.ends_at
    base = mailer.settings.base_url
    unsubscribe_url, headers = marketing_extras(mailer.settings, event, reg)
    replay, certificate = after_links(mailer.settings, event, reg) if kind in SCHEDULED else (None, None)
    context = {
        "event": event,
        "registration": reg,
        "organiser": organiser,
        "join_url": url,
        "event_url": f"{base}/events/{event.slug}",
        "privacy_url": privacy_url(mailer.settings, event),
        "unsubscribe_url": unsubscribe_url,
        "cancel_url": cancel_url(mailer.settings, event, reg) if may_cancel else None,
        "place": place,
        "title": one_line(event.title),
        "replay_url": replay,
        "certificate_url": certificate,
    }
    rendered = render_email(mailer.env, kind, context, reg.language)
    invitation = _invitation(mailer, event, reg, url, organiser) if url and with_link else None
    return Composed(rendered.subject, rendered.text, rendered.html, invitation, headers)


def after_links(settings: Settings, event: Event, reg: Registration) -> tuple[str | None, str | None]:
    """The replay link and the certificate link of the follow-up e-mails, when the event has them.

    The one place they come from: SPEC §13 (issue 19) adds `events.replay_url` / `replay_until` and certificates;
    return the replay link while `replay_until` has not passed, and `/events/{slug}/me/certificate.pdf` (through the
    attendee's join link, so it signs them in) for a registrant whose certificate is issued. The templates
    (`emails/followup_*.{txt,html}`) already show each link when it is not None."""
    return None, None


def withheld(kind: str, event: Event, reg: Registration) -> Withheld | None:
    """Why a scheduled e-mail is not to be sent now (its registrant is no longer approved, or the event has started
    by the time a reminder is written), or None when it is to go."""
    if kind in SCHEDULED and reg.status != "approved":
        return Withheld(f"not sent: the registration is {reg.status}")
    if kind == "reminder" and now() >= event.starts_at:
        return Withheld("not sent: the event had started")
    return None


def first_kind(status: str) -> str:
    """The e-mail a new registration gets: its confirmation (with the join link), a receipt while it awaits
    approval, or its place on the waiting list."""
    return {"approved": "confirmation", "waitlisted": "waitlisted"}.get(status, "received")


def queued_row(
    settings: Settings, kind: str, event_id: int, reg_id: int, to_address: str, at: dt.datetime | None = None
) -> dict[str, Any]:
    """The outbox row of a registrant e-mail, left for the sender to compose (`compose_queued`)."""
    assert kind in KINDS
    return outbox.row_values(
        kind=kind, to_address=to_address, mail_from=settings.mail_from, event_id=event_id, registration_id=reg_id,
        at=at,
    )  # fmt: skip


async def queue(conn: Connection, mailer: Mailer, kind: str, event: Event, reg: Registration) -> int:
    """Put one registrant e-mail in the outbox (inside the caller's transaction). The sender writes it when it
    sends it, so a request renders nothing and the e-mail shows the event and registration as they are then."""
    assert reg.email
    return await outbox.enqueue_row(conn, queued_row(mailer.settings, kind, event.id, reg.id, reg.email))


async def compose_queued(conn: Connection, mailer: Mailer, msg: outbox.Message) -> Composed | Withheld | None:
    """A queued registrant e-mail, written now; None when its registrant was erased or is gone, a Withheld when a
    scheduled e-mail is no longer due."""
    assert msg.kind in KINDS and msg.event_id is not None and msg.registration_id is not None
    event, organiser = await _event_of(conn, mailer, msg.event_id)
    reg = await registration_queries.by_id(conn, msg.event_id, msg.registration_id)
    if event is None or reg is None or reg.email is None:
        return None
    if (reason := withheld(msg.kind, event, reg)) is not None:
        return reason
    place = await registration_queries.place_in_line(conn, reg) if msg.kind in WITH_PLACE else None
    return compose(mailer, msg.kind, event, reg, organiser, place)


async def _event_of(conn: Connection, mailer: Mailer, event_id: int) -> tuple[Event | None, str]:
    """The event and its organiser's name, read once per sender's pass (`Mailer.memo`) rather than once per e-mail."""
    if mailer.memo is not None and (kept := mailer.memo.get(("event", event_id))) is not None:
        return kept
    event = await event_queries.by_id(conn, event_id)
    org = await event_queries.organisation(conn, event.organisation_id) if event else None
    found = (event, org.name if org else "")
    if mailer.memo is not None and event is not None:
        mailer.memo[("event", event_id)] = found
    return found
