"""The e-mails a registrant receives: rendered in their language and queued in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

import jinja2
from databases.core import Connection

from webinar import i18n
from webinar.access.links import join_url
from webinar.clock import now
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.mail import ics, outbox
from webinar.mail.render import one_line, render_email
from webinar.privacy.links import marketing_extras, privacy_url
from webinar.registration.queries import Registration
from webinar.settings import Settings

WITH_JOIN_LINK = ("confirmation", "approved")
KINDS = ("confirmation", "received", "approved", "rejected", "already_registered", "join_link")


@dataclass(frozen=True)
class Mailer:
    """What composing an e-mail needs from the app: its settings and its Jinja environment."""

    settings: Settings
    env: jinja2.Environment


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


@dataclass(frozen=True)
class Composed:
    """One registrant e-mail, rendered and ready for the outbox."""

    subject: str
    text: str
    html: str
    ics: str | None
    headers: dict[str, str]


def compose(mailer: Mailer, kind: str, event: Event, reg: Registration, organiser: str) -> Composed:
    """Render one registrant e-mail (no database work: the caller knows the organiser's name)."""
    assert kind in KINDS and reg.email
    url = join_url(mailer.settings, event, reg) if kind in WITH_JOIN_LINK or reg.status == "approved" else None
    base = mailer.settings.base_url
    unsubscribe_url, headers = marketing_extras(mailer.settings, event, reg)
    context = {
        "event": event,
        "registration": reg,
        "organiser": organiser,
        "join_url": url,
        "event_url": f"{base}/events/{event.slug}",
        "privacy_url": privacy_url(mailer.settings, event),
        "unsubscribe_url": unsubscribe_url,
        "title": one_line(event.title),
    }
    rendered = render_email(mailer.env, kind, context, reg.language)
    invitation = _invitation(mailer, event, reg, url, organiser) if url and kind in WITH_JOIN_LINK else None
    return Composed(rendered.subject, rendered.text, rendered.html, invitation, headers)


async def queue(conn: Connection, mailer: Mailer, kind: str, event: Event, reg: Registration) -> int:
    """Render one registrant e-mail and put it in the outbox (inside the caller's transaction)."""
    assert kind in KINDS and reg.email
    org = await event_queries.organisation(conn, event.organisation_id)
    mail = compose(mailer, kind, event, reg, org.name if org else "")
    return await outbox.enqueue(
        conn,
        kind=kind,
        to_address=reg.email,
        subject=mail.subject,
        body_text=mail.text,
        body_html=mail.html,
        ics=mail.ics,
        mail_from=mailer.settings.mail_from,
        event_id=event.id,
        registration_id=reg.id,
        headers=mail.headers,
    )
