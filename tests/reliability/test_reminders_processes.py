"""Reminders delivered by real `webinar worker` processes on PostgreSQL: two workers at once, the SMTP server down and
back, a worker killed mid-way and restarted — each approved registrant gets the reminder once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from tests.reliability.conftest import FlakySMTP, Platform, eventually
from tests.reliability.helpers import outbox_by_registration
from webinar.clock import now
from webinar.db import DB
from webinar.tables import outbox, registrations

# The event starts in 50 minutes with a 60-minute reminder: its moment has just passed, so it is due now (late, as
# after a restart, which is allowed before the start).
REMINDER = {"reminders": "60", "followup_after_minutes": None}


async def _event_with_approved(db: DB, create_event: Callable[..., Awaitable[int]], n: int) -> list[str]:
    start = now().replace(microsecond=0) + dt.timedelta(minutes=50)
    event_id = await create_event(slug="soon", starts_at=start, ends_at=start + dt.timedelta(hours=2), **REMINDER)
    at = now() - dt.timedelta(days=1)
    emails = [f"r{i:04d}@example.org" for i in range(n)]
    rows = [
        {"event_id": event_id, "email": e, "email_normalised": e, "first_name": "Ioana", "last_name": "Țîrcă",
         "status": "approved", "language": "ro", "created_at": at, "updated_at": at}
        for e in emails
    ]  # fmt: skip
    async with db.transaction() as conn:
        await conn.execute(registrations.insert().values(rows))
        await conn.execute(
            registrations.insert().values(
                event_id=event_id, email="wait@example.org", email_normalised="wait@example.org", first_name="W",
                last_name="L", status="pending", created_at=at, updated_at=at,
            )
        )  # fmt: skip
    return emails


async def _one_reminder_each(db: DB, n: int) -> None:
    kinds = await outbox_by_registration(db)
    reminders = {reg: [k for k in ks if k[0] == "reminder"] for reg, ks in kinds.items()}
    assert len([r for r in reminders.values() if r]) == n
    assert all(len(r) <= 1 for r in reminders.values())


async def _received(smtp: FlakySMTP, n: int) -> bool:
    return len({rcpt for mail in smtp.messages for rcpt in mail.rcpt_tos}) >= n


async def test_two_workers_at_once_send_each_reminder_once(
    platform: Platform, flaky_smtp: FlakySMTP, create_event: Callable[..., Awaitable[int]], db: DB
) -> None:
    emails = await _event_with_approved(db, create_event, 300)
    flaky_smtp.up()
    platform.worker("w1", **flaky_smtp.env())
    platform.worker("w2", **flaky_smtp.env())
    await eventually(lambda: _received(flaky_smtp, len(emails)), within=60)
    await asyncio.sleep(3)  # room for a second copy to show up
    received = Counter(rcpt for mail in flaky_smtp.messages for rcpt in mail.rcpt_tos)
    assert received == Counter({e: 1 for e in emails})  # nobody twice, the pending registrant not at all
    await _one_reminder_each(db, len(emails))
    assert all(str(m.message["Subject"]).startswith("Memento:") for m in flaky_smtp.messages)


async def test_smtp_down_then_up_delivers_each_reminder_once(
    platform: Platform, flaky_smtp: FlakySMTP, create_event: Callable[..., Awaitable[int]], db: DB
) -> None:
    emails = await _event_with_approved(db, create_event, 40)
    platform.worker("w", MAIL_RETRY_SECONDS="0.5", **flaky_smtp.env())

    async def failed() -> bool:
        async with db.connection() as conn:
            return int(await conn.fetch_val(sa.select(sa.func.coalesce(sa.func.sum(outbox.c.attempts), 0)))) > 0

    await eventually(failed, within=30)  # queued, and refused for want of a server
    assert flaky_smtp.messages == []
    flaky_smtp.up()
    await eventually(lambda: _received(flaky_smtp, len(emails)), within=60)
    await asyncio.sleep(3)
    received = Counter(rcpt for mail in flaky_smtp.messages for rcpt in mail.rcpt_tos)
    assert received == Counter({e: 1 for e in emails})
    await _one_reminder_each(db, len(emails))


async def test_a_worker_killed_mid_way_and_restarted_queues_nobody_twice(
    platform: Platform, flaky_smtp: FlakySMTP, create_event: Callable[..., Awaitable[int]], db: DB
) -> None:
    emails = await _event_with_approved(db, create_event, 1500)
    flaky_smtp.up()
    worker = platform.worker("w", **flaky_smtp.env())
    await eventually(lambda: _received(flaky_smtp, 100), within=60, every=0.05)
    worker.kill()
    assert len(flaky_smtp.messages) < len(emails), "the worker finished before the kill; nothing was tested"
    worker.start()
    await eventually(lambda: _received(flaky_smtp, len(emails)), within=120)
    await asyncio.sleep(3)
    await _one_reminder_each(db, len(emails))  # queued once per person, whatever the kill
    received = Counter(rcpt for mail in flaky_smtp.messages for rcpt in mail.rcpt_tos)
    assert set(received) == set(emails)
    # The one window no outbox closes: a message the SMTP server accepted in the instant before the kill, not yet
    # marked sent, goes again after its lease lapses — at most one per SMTP connection (SMTP_CONNECTIONS, 4).
    assert sum(received.values()) - len(emails) <= 4
