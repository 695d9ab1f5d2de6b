"""The "add to calendar" of the registered page: the event's public .ics, and links that open Google's and Outlook's
new-event forms filled in (the event's page as the place; never the personal join link, which only e-mails carry)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode, urlsplit

from webinar.clock import now
from webinar.events.queries import Event
from webinar.mail import ics


def _page(base_url: str, event: Event) -> str:
    return f"{base_url}/events/{event.slug}"


def public_ics(base_url: str, event: Event) -> str:
    """The event's calendar file, the same for everyone (its UID per event: a second download updates the entry)."""
    host = urlsplit(base_url).hostname or "localhost"
    return ics.publish(
        uid=f"event-{event.id}@{host}", title=event.title, description=f"{event.title}\n\n{_page(base_url, event)}",
        url=_page(base_url, event), starts_at=event.starts_at, ends_at=event.ends_at, stamp=now(),
        sequence=event.ics_sequence, cancelled=event.cancelled,
    )  # fmt: skip


def _utc(at: dt.datetime, fmt: str) -> str:
    return at.astimezone(dt.UTC).strftime(fmt)


def links(base_url: str, event: Event) -> dict[str, str]:
    """Google Calendar's and Outlook's "new event" addresses for this event."""
    page = _page(base_url, event)
    google = {
        "action": "TEMPLATE", "text": event.title, "details": page, "location": page,
        "dates": f"{_utc(event.starts_at, '%Y%m%dT%H%M%SZ')}/{_utc(event.ends_at, '%Y%m%dT%H%M%SZ')}",
    }  # fmt: skip
    outlook = {
        "path": "/calendar/action/compose", "rru": "addevent", "subject": event.title, "body": page,
        "location": page, "startdt": _utc(event.starts_at, "%Y-%m-%dT%H:%M:%SZ"),
        "enddt": _utc(event.ends_at, "%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip
    return {
        "google": "https://calendar.google.com/calendar/render?" + urlencode(google),
        "outlook": "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(outlook),
    }
