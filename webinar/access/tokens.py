"""Signed, purpose-salted, expiring tokens: join links and unsubscribe links."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

JOIN = "webinar.join"
UNSUBSCRIBE = "webinar.unsubscribe"


@dataclass(frozen=True)
class TokenClaims:
    registration_id: int
    token_version: int
    expires_at: dt.datetime


def make_token(secret: str, purpose: str, registration_id: int, token_version: int, expires_at: dt.datetime) -> str:
    """A URL-safe token naming one registration, valid until `expires_at`, for one purpose only."""
    serializer = URLSafeSerializer(secret, salt=purpose)
    return serializer.dumps([registration_id, token_version, int(expires_at.timestamp())])


def read_token(secret: str, purpose: str, token: str, at: dt.datetime) -> TokenClaims | None:
    """The claims of a genuine, unexpired token of this purpose; None for anything else.

    The caller still checks `token_version` against the registration: bumping it revokes old links.
    """
    try:
        payload = URLSafeSerializer(secret, salt=purpose).loads(token)
        registration_id, version, expires = payload
        claims = TokenClaims(int(registration_id), int(version), dt.datetime.fromtimestamp(int(expires), dt.UTC))
    except (BadSignature, ValueError, TypeError):
        return None
    return claims if claims.expires_at > at else None
