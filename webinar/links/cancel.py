"""The link in a registrant's e-mails that cancels their registration (one confirm button, then the POST)."""

from __future__ import annotations

from typing import Any

from webinar.events.queries import Event
from webinar.links.tokens import CANCEL, make_token
from webinar.settings import Settings


def cancel_url(settings: Settings, event: Event, registration: Any) -> str:
    """The absolute cancel link of a registration: valid until the event ends, and spent once it is used (the
    cancellation bumps `token_version`)."""
    token = make_token(str(settings.secret_key), CANCEL, registration.id, registration.token_version, event.ends_at)
    return f"{settings.base_url}/events/{event.slug}/cancel/{token}"
