"""The link in the follow-up e-mail that downloads the attendee's certificate (and signs them in)."""

from __future__ import annotations

from typing import Any

from webinar.events.queries import Event
from webinar.links.privacy import retention_ends_at
from webinar.links.tokens import CERTIFICATE, make_token
from webinar.settings import Settings


def certificate_url(settings: Settings, event: Event, registration: Any) -> str:
    """The absolute certificate link of a registration: valid until retention erases the event's data (erasure, which
    bumps `token_version`, spends it sooner)."""
    token = make_token(
        str(settings.secret_key), CERTIFICATE, registration.id, registration.token_version, retention_ends_at(event)
    )
    return f"{settings.base_url}/events/{event.slug}/certificate/{token}"
