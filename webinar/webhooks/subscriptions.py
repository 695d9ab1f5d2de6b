"""Webhook subscriptions: created with a `whsec_…` secret (shown once, in the answer), listed, removed; each
organisation's own (a platform token's: the platform's, which hear every organisation)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.clock import now
from webinar.db import to_dataclass
from webinar.tables import webhook_attempts as attempts
from webinar.tables import webhook_deliveries as deliveries
from webinar.tables import webhook_subscriptions as subs

SECRET_BYTES = 24


@dataclass(frozen=True)
class Subscription:
    id: int
    organisation_id: int | None
    url: str
    events: str  # ",a,b,"
    secret: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None

    @property
    def event_types(self) -> list[str]:
        return [e for e in self.events.split(",") if e]


def _owned(scope: int | None) -> sa.ColumnElement[bool]:
    return subs.c.organisation_id.is_(None) if scope is None else subs.c.organisation_id == scope


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: `whsec_` and base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def create(
    conn: Connection, scope: int | None, url: str, types: Sequence[str], actor: str, ip: str | None
) -> Subscription:
    """A new subscription of the organisation (None: the platform's), audited."""
    values = {
        "organisation_id": scope, "url": url, "events": "," + ",".join(dict.fromkeys(types)) + ",",
        "secret": new_secret(), "created_at": now(),
    }  # fmt: skip
    sub_id = await conn.fetch_val(subs.insert().values(**values).returning(subs.c.id))
    await audit.record(
        conn, "webhook.created", actor=actor, organisation_id=scope, ip=ip,
        details={"subscription_id": sub_id, "url": url, "events": list(types)},
    )  # fmt: skip
    found = await by_id(conn, scope, sub_id)
    assert found is not None
    return found


async def by_id(conn: Connection, scope: int | None, sub_id: int) -> Subscription | None:
    """One of the organisation's subscriptions."""
    row = await conn.fetch_one(subs.select().where(subs.c.id == sub_id, _owned(scope)))
    return to_dataclass(Subscription, row) if row else None


async def of(conn: Connection, scope: int | None) -> list[Subscription]:
    """The organisation's subscriptions, oldest first."""
    rows = await conn.fetch_all(subs.select().where(_owned(scope)).order_by(subs.c.id))
    return [to_dataclass(Subscription, r) for r in rows]


async def delete(conn: Connection, scope: int | None, sub_id: int, actor: str, ip: str | None) -> bool:
    """Remove one of the organisation's subscriptions with its queue and log, audited; False when there is none."""
    gone = await conn.fetch_val(subs.delete().where(subs.c.id == sub_id, _owned(scope)).returning(subs.c.id))
    if gone is not None:
        await audit.record(
            conn, "webhook.deleted", actor=actor, organisation_id=scope, ip=ip, details={"subscription_id": sub_id}
        )
    return gone is not None


@dataclass(frozen=True)
class Attempt:
    """One attempt at a delivery, as the log shows it."""

    id: int
    delivery_id: int
    type: str
    at: dt.datetime
    status_code: int | None
    error: str | None
    answer: str | None
    milliseconds: int


LOG_SHOWN = 20


async def last_attempts(conn: Connection, sub_id: int, most: int = LOG_SHOWN) -> list[Attempt]:
    """The subscription's last attempts, newest first."""
    rows = await conn.fetch_all(
        sa.select(
            attempts.c.id, attempts.c.delivery_id, deliveries.c.type, attempts.c.at, attempts.c.status_code,
            attempts.c.error, attempts.c.answer, attempts.c.milliseconds,
        )
        .join_from(attempts, deliveries, deliveries.c.id == attempts.c.delivery_id)
        .where(attempts.c.subscription_id == sub_id)
        .order_by(attempts.c.id.desc())
        .limit(most)
    )  # fmt: skip
    return [to_dataclass(Attempt, r) for r in rows]


async def waiting(conn: Connection, sub_id: int) -> int:
    """How many of the subscription's deliveries wait to go (queued or being sent)."""
    return int(
        await conn.fetch_val(
            sa.select(sa.func.count())
            .select_from(deliveries)
            .where(deliveries.c.subscription_id == sub_id, deliveries.c.status.in_(("queued", "sending")))
        )
    )
