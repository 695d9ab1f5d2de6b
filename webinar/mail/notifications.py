"""E-mails sent from the attendee's side of access: "e-mail me my join link"."""

from __future__ import annotations

from typing import Any

from databases.core import Connection
from starlette.templating import Jinja2Templates

from webinar.access.links import join_url
from webinar.events.queries import Event
from webinar.mail import outbox
from webinar.mail.render import one_line, render_email
from webinar.privacy.links import marketing_extras, privacy_url
from webinar.settings import Settings


async def send_join_link(
    conn: Connection, settings: Settings, templates: Jinja2Templates, event: Event, registration: Any
) -> int:
    """Queue the join-link e-mail for an approved registration (inside the caller's transaction)."""
    assert registration.email
    url = join_url(settings, event, registration)
    unsubscribe_url, headers = marketing_extras(settings, event, registration)
    context = {
        "event": event,
        "join_url": url,
        "title": one_line(event.title),
        "first_name": registration.first_name,
        "privacy_url": privacy_url(settings, event),
        "unsubscribe_url": unsubscribe_url,
    }
    rendered = render_email(templates.env, "join_link", context, registration.language)
    return await outbox.enqueue(
        conn,
        kind="join_link",
        to_address=registration.email,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        mail_from=settings.mail_from,
        event_id=event.id,
        registration_id=registration.id,
        headers=headers,
    )
