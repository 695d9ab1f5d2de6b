"""Signed, purpose-salted, expiring tokens: join, unsubscribe, cancel and certificate links, and e-mail change
confirmations."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

JOIN = "webinar.join"
UNSUBSCRIBE = "webinar.unsubscribe"
# Cancels a registration; it names the token version, so a cancellation (which bumps it) spends every such link.
CANCEL = "webinar.cancel"
# Confirms a new address typed on /me; the token carries that address, so only its mailbox can apply it.
EMAIL_CHANGE = "webinar.email-change"
# Downloads the attendee's certificate from the follow-up e-mail (and signs them in while the join links last).
CERTIFICATE = "webinar.certificate"
# Confirms a new registration's address (double opt-in, SPEC §15); good while it is unconfirmed, 24 hours at most.
CONFIRM = "webinar.confirm-registration"


@dataclass(frozen=True)
class TokenClaims:
    registration_id: int
    token_version: int
    expires_at: dt.datetime


@functools.lru_cache(maxsize=16)
def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    """The signer of one purpose (building one derives its key: a cost on every join link)."""
    return URLSafeSerializer(secret, salt=purpose)


def make_token(secret: str, purpose: str, registration_id: int, token_version: int, expires_at: dt.datetime) -> str:
    """A URL-safe token naming one registration, valid until `expires_at`, for one purpose only."""
    serializer = _serializer(secret, purpose)
    return serializer.dumps([registration_id, token_version, int(expires_at.timestamp())])


def read_token(secret: str, purpose: str, token: str, at: dt.datetime) -> TokenClaims | None:
    """The claims of a genuine, unexpired token of this purpose; None for anything else.

    The caller still checks `token_version` against the registration: bumping it revokes old links.
    """
    try:
        payload = _serializer(secret, purpose).loads(token)
        registration_id, version, expires = payload
        claims = TokenClaims(int(registration_id), int(version), dt.datetime.fromtimestamp(int(expires), dt.UTC))
    except (BadSignature, ValueError, TypeError):
        return None
    return claims if claims.expires_at > at else None


def make_email_change_token(
    secret: str, registration_id: int, token_version: int, new_email: str, expires_at: dt.datetime
) -> str:
    """A token confirming that `new_email` may become the registration's address (purpose EMAIL_CHANGE)."""
    serializer = _serializer(secret, EMAIL_CHANGE)
    return serializer.dumps([registration_id, token_version, int(expires_at.timestamp()), new_email])


def read_email_change_token(secret: str, token: str, at: dt.datetime) -> tuple[TokenClaims, str] | None:
    """The claims and the new address of a genuine, unexpired e-mail change token; None for anything else."""
    try:
        payload = _serializer(secret, EMAIL_CHANGE).loads(token)
        registration_id, version, expires, new_email = payload
        claims = TokenClaims(int(registration_id), int(version), dt.datetime.fromtimestamp(int(expires), dt.UTC))
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(new_email, str) or claims.expires_at <= at:
        return None
    return claims, new_email
