"""The link in a new registration's first e-mail that confirms its address (double opt-in, SPEC §15)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from webinar.events.queries import Event
from webinar.links.tokens import CONFIRM, make_token
from webinar.settings import Settings

# How long an unconfirmed registration holds its seat, and its link works; then it lapses (registration/confirm.py).
CONFIRM_WITHIN = dt.timedelta(hours=24)


def confirm_url(settings: Settings, event: Event, registration: Any) -> str:
    """The absolute confirmation link of a registration, good for CONFIRM_WITHIN after it was made."""
    expires = registration.created_at + CONFIRM_WITHIN
    token = make_token(str(settings.secret_key), CONFIRM, registration.id, registration.token_version, expires)
    return f"{settings.base_url}/events/{event.slug}/confirm/{token}"
