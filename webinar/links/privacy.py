"""The privacy links every registrant e-mail carries: the notice, and one-click unsubscribe for opted-in people."""

from __future__ import annotations

import datetime as dt
from typing import Any

from webinar.events.queries import Event
from webinar.links.tokens import UNSUBSCRIBE, make_token
from webinar.settings import Settings


def privacy_url(settings: Settings, event: Event) -> str:
    """The event's privacy notice, absolute (for e-mails)."""
    return f"{settings.base_url}/events/{event.slug}/privacy"


def retention_ends_at(event: Event) -> dt.datetime:
    """When the event's personal data is erased by the retention job."""
    return event.ends_at + dt.timedelta(days=event.retention_days)


def unsubscribe_url(settings: Settings, event: Event, registration_id: int, token_version: int) -> str:
    """The one-click unsubscribe link of a registration; it works until the data is erased at retention's end."""
    token = make_token(str(settings.secret_key), UNSUBSCRIBE, registration_id, token_version, retention_ends_at(event))
    return f"{settings.base_url}/events/{event.slug}/unsubscribe/{token}"


def marketing_extras(settings: Settings, event: Event, registration: Any) -> tuple[str | None, dict[str, str]]:
    """The unsubscribe link and RFC 8058 headers for a registrant who opted in to marketing; (None, {}) otherwise."""
    if not getattr(registration, "marketing_opt_in", False):
        return None, {}
    url = unsubscribe_url(settings, event, registration.id, registration.token_version)
    return url, {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
