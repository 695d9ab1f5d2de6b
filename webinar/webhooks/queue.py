"""Announcing what happened: one delivery row per subscription that wants the event type, inserted in the
transaction of the change (so a rolled-back change announces nothing), whatever the number of rows, by one
INSERT … SELECT."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.tables import WEBHOOK_EVENTS, UTCDateTime, events, registrations
from webinar.tables import webhook_deliveries as deliveries
from webinar.tables import webhook_subscriptions as subs

COLUMNS = ["subscription_id", "type", "event_id", "registration_id", "details_json", "created_at", "next_attempt_at"]


def _now() -> Any:
    return sa.literal(now(), UTCDateTime)


def wanted_by(type_: str, organisation_id: Any) -> sa.ColumnElement[bool]:
    """The live subscriptions that hear `type_` about an organisation (a value or a column): its own, and the
    platform's. The rule, once, for every announcement."""
    assert type_ in WEBHOOK_EVENTS
    return sa.and_(
        subs.c.disabled_at.is_(None),
        sa.or_(subs.c.organisation_id == organisation_id, subs.c.organisation_id.is_(None)),
        subs.c.events.like(f"%,{type_},%"),
    )


def insert_from(type_: str, source: Any, details: Any = "{}", at: Any = None) -> sa.Insert:
    """The INSERT of one delivery per subscription that wants `type_` for each row of `source` (a selectable with
    `event_id`, `organisation_id` and `registration_id` columns); `details` a JSON text (or a column of one)."""
    at = at if at is not None else sa.bindparam("announced_at", type_=UTCDateTime)
    detail = details if isinstance(details, sa.ColumnElement) else sa.cast(sa.literal(details), sa.Text)
    rows = sa.select(
        subs.c.id, sa.literal(type_), source.c.event_id, source.c.registration_id, detail, at, at
    ).join_from(source, subs, wanted_by(type_, source.c.organisation_id))
    return deliveries.insert().from_select(COLUMNS, rows)


async def announce(
    conn: Connection,
    type_: str,
    organisation_id: int,
    event_id: int | None,
    registration_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Queue `type_` about one event (and registration) for every subscription that wants it."""
    one = sa.select(
        # Cast: PostgreSQL would take an untyped parameter in a select list for text.
        sa.cast(sa.literal(event_id), sa.BigInteger).label("event_id"),
        sa.cast(sa.literal(organisation_id), sa.BigInteger).label("organisation_id"),
        sa.cast(sa.literal(registration_id), sa.BigInteger).label("registration_id"),
    ).subquery("one")
    await conn.execute(insert_from(type_, one, json.dumps(details or {}, sort_keys=True), _now()))


def status_details(status: Any, details: dict[str, Any] | None = None) -> sa.ColumnElement[str]:
    """The details JSON of a registration's announcement: its status (a column of the CHECK-constrained statuses,
    so nothing in it needs escaping) and `details`."""
    extra = json.dumps(details or {}, sort_keys=True)[1:-1]
    return sa.literal('{"status": "') + status + sa.literal('"' + (", " + extra if extra else "") + "}")


def insert_for_registrations(
    type_: str, which: sa.ColumnElement[bool], details: dict[str, Any] | None = None, at: Any = None
) -> sa.Insert:
    """The INSERT announcing `type_` about the registrations `which` selects, with their status (`at`: the moment,
    a bound `announced_at` unless given)."""
    source = (
        sa.select(
            registrations.c.event_id, events.c.organisation_id, registrations.c.id.label("registration_id"),
            registrations.c.status,
        )
        .join_from(registrations, events, events.c.id == registrations.c.event_id)
        .where(which)
        .subquery("which")
    )  # fmt: skip
    return insert_from(type_, source, status_details(source.c.status, details), at)


async def announce_registrations(
    conn: Connection, type_: str, ids: Sequence[int], details: dict[str, Any] | None = None
) -> None:
    """Queue `type_` about each of these registrations, one statement for all of them; their status goes in the
    details with `details`."""
    if ids:
        await conn.execute(insert_for_registrations(type_, registrations.c.id.in_(list(ids)), details, _now()))


TEST = "webhook.test"  # what the back office's "send test" button sends: to one subscription, whatever it hears


async def announce_test(conn: Connection, subscription_id: int) -> None:
    """Queue a test delivery to one subscription."""
    at = now()
    await conn.execute(
        deliveries.insert().values(
            subscription_id=subscription_id, type=TEST, details_json='{"test": true}', created_at=at,
            next_attempt_at=at,
        )
    )  # fmt: skip
