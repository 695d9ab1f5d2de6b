"""The personal join link every approved registrant receives."""

from __future__ import annotations

from typing import Any

from webinar.events.queries import Event
from webinar.links.tokens import JOIN, make_token
from webinar.settings import Settings


def join_url(settings: Settings, event: Event, registration: Any) -> str:
    """The absolute personal join link of a registration, valid until the event's join links expire."""
    token = make_token(
        str(settings.secret_key), JOIN, registration.id, registration.token_version, event.join_link_expires_at
    )
    return f"{settings.base_url}/events/{event.slug}/join/{token}"
