"""API tokens: created once (shown once), kept as a SHA-256, found by it on each request, revoked for good."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.clock import now
from webinar.db import DB, to_dataclass
from webinar.dbbackends import Prepared
from webinar.settings import Settings
from webinar.tables import api_tokens, organisations

PREFIX = "wbn_"
SECRET_BYTES = 32  # 43 characters of URL-safe base64 after the prefix
SHOWN = 12  # the characters of a token kept in clear, to tell tokens apart on the list
NAME_MOST = 100
LAST_USE_EVERY = dt.timedelta(minutes=1)  # the last use is written at most this often per token


@dataclass(frozen=True)
class Token:
    """A token as the database holds it (never the token itself). `organisation_id` None: the platform's."""

    id: int
    organisation_id: int | None
    name: str
    prefix: str
    created_by: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def platform(self) -> bool:
        return self.organisation_id is None

    @property
    def actor(self) -> str:
        """Who this token is in the audit log."""
        return f"api-token:{self.id}:{self.name}"[:254]


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def name_error(name: str) -> str | None:
    """Why a token's name is refused (untranslated: the CLI's and the form's caller translate), or None."""
    if not name.strip():
        return "empty"
    if len(name) > NAME_MOST or any(ord(c) < 32 for c in name):
        return "too_long_or_control"
    return None


async def create(conn: Connection, organisation_id: int | None, name: str, actor: str, ip: str | None = None) -> str:
    """A new token for the organisation (None: the platform), audited; returns the token, which is never stored."""
    token = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    token_id = await conn.fetch_val(
        api_tokens.insert()
        .values(
            organisation_id=organisation_id, name=name.strip(), token_hash=digest(token), prefix=token[:SHOWN],
            created_by=actor[:254], created_at=now(),
        )
        .returning(api_tokens.c.id)
    )  # fmt: skip
    await audit.record(
        conn, "api_token.created", actor=actor, organisation_id=organisation_id, ip=ip,
        details={"token_id": token_id, "name": name.strip()},
    )  # fmt: skip
    return token


async def revoke(conn: Connection, token_id: int, organisation_id: int | None, actor: str, ip: str | None) -> bool:
    """Revoke one of the organisation's tokens (None: a platform token), audited; False when there is none."""
    done = await conn.fetch_val(
        api_tokens.update()
        .where(
            api_tokens.c.id == token_id,
            api_tokens.c.organisation_id.is_(None)
            if organisation_id is None
            else api_tokens.c.organisation_id == organisation_id,
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now())
        .returning(api_tokens.c.id)
    )
    if done is not None:
        await audit.record(
            conn, "api_token.revoked", actor=actor, organisation_id=organisation_id, ip=ip,
            details={"token_id": token_id},
        )  # fmt: skip
    return done is not None


async def of_organisation(conn: Connection, organisation_id: int | None) -> list[Token]:
    """The organisation's tokens (None: the platform's), newest first, revoked ones too."""
    where = (
        api_tokens.c.organisation_id.is_(None)
        if organisation_id is None
        else api_tokens.c.organisation_id == organisation_id
    )
    rows = await conn.fetch_all(sa.select(api_tokens).where(where).order_by(api_tokens.c.id.desc()))
    return [to_dataclass(Token, r) for r in rows]


_FIND = Prepared(sa.select(api_tokens).where(api_tokens.c.token_hash == sa.bindparam("token_hash")))


def looks_like(token: str) -> bool:
    """Whether `token` has a token's shape (a truncated or foreign one is not looked up)."""
    return token.startswith(PREFIX) and len(token) == len(PREFIX) + 43 and token[len(PREFIX) :].isascii()


async def authenticate(db: DB, token: str) -> Token | None:
    """The live token `token` is (not revoked, not expired), its last use recorded; None otherwise."""
    if not looks_like(token):
        return None
    row = await db.one(_FIND, {"token_hash": digest(token)})
    if row is None:
        return None
    found = to_dataclass(Token, row)
    at = now()
    if found.revoked_at is not None or (found.expires_at is not None and found.expires_at <= at):
        return None
    if found.last_used_at is None or found.last_used_at < at - LAST_USE_EVERY:
        async with db.connection() as conn:
            await conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == found.id)
                .where(sa.or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at < at - LAST_USE_EVERY))
                .values(last_used_at=at)
            )
    return found


async def create_from_cli(settings: Settings, org_slug: str | None, name: str) -> str:
    """`webinar create-token`: a new token for the organisation with this slug (None: the platform's); ValueError
    says, in words, why it cannot be created."""
    if name_error(name):
        raise ValueError(f"the name must be 1 to {NAME_MOST} characters, without control characters")
    db = DB(settings)
    await db.connect()
    try:
        async with db.transaction() as conn:
            org_id = None
            if org_slug is not None:
                org_id = await conn.fetch_val(sa.select(organisations.c.id).where(organisations.c.slug == org_slug))
                if org_id is None:
                    raise ValueError(f"there is no organisation with the slug {org_slug!r}")
            return await create(conn, org_id, name, actor="cli")
    finally:
        await db.disconnect()
