"""The SMTP server down, then refusing (421), then back, during a registration burst: every confirmation once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from tests.reliability.conftest import FlakySMTP, Platform, eventually
from tests.reliability.helpers import email_of, register_burst
from webinar.db import DB
from webinar.tables import outbox

REFUSAL = "421 4.3.2 Service not available, try again later"


async def _outbox(db: DB) -> list[dict]:
    async with db.connection() as conn:
        rows = await conn.fetch_all(outbox.select().order_by(outbox.c.id))
    return [dict(row._mapping) for row in rows]


async def _failed_attempts(db: DB) -> int:
    async with db.connection() as conn:
        return int(await conn.fetch_val(sa.select(sa.func.coalesce(sa.func.sum(outbox.c.attempts), 0))))


async def test_forty_people_register_while_smtp_is_down_and_each_gets_one_confirmation(
    platform: Platform, flaky_smtp: FlakySMTP, create_event: Callable[..., Awaitable[int]], db: DB
) -> None:
    await create_event(slug="rush")
    # Two uvicorn workers, each running its own outbox sender against the same PostgreSQL queue.
    web = platform.serve(
        "web", "--workers", "2", TRUSTED_PROXIES="127.0.0.1", MAIL_RETRY_SECONDS="0.5", **flaky_smtp.env()
    )

    # 1. Nothing listens on the SMTP port: every attempt is a refused connection.
    statuses = await register_burst([web.base_url], "rush", range(20))
    assert set(statuses.values()) == {303}
    await eventually(lambda: _failed_attempts(db), within=15)
    assert flaky_smtp.messages == []

    # 2. The server is back but answers 421 to every message.
    flaky_smtp.handler.refuse_with = REFUSAL
    flaky_smtp.up()
    statuses = await register_burst([web.base_url], "rush", range(20, 30))
    assert set(statuses.values()) == {303}
    await eventually(lambda: _at_least(flaky_smtp.handler.refused, 3), within=15)
    assert flaky_smtp.messages == []

    # 3. It accepts mail again; the rest of the burst arrives meanwhile.
    flaky_smtp.handler.refuse_with = None
    statuses = await register_burst([web.base_url], "rush", range(30, 40))
    assert set(statuses.values()) == {303}

    async def all_sent() -> bool:
        return len(flaky_smtp.messages) >= 40 and all(row["status"] == "sent" for row in await _outbox(db))

    await eventually(all_sent, within=45)
    await asyncio.sleep(3)  # a second copy, if the senders were going to send one, would arrive now
    received = Counter(rcpt for mail in flaky_smtp.messages for rcpt in mail.rcpt_tos)
    assert received == Counter({email_of(n): 1 for n in range(40)})
    rows = await _outbox(db)
    assert len(rows) == 40 and {row["kind"] for row in rows} == {"confirmation"}
    assert len({row["message_id"] for row in rows}) == 40
    assert max(row["attempts"] for row in rows) > 1  # the outage really made messages wait and retry
    assert sorted(str(mail.message["Message-ID"]) for mail in flaky_smtp.messages) == sorted(
        row["message_id"] for row in rows
    )


async def _at_least(value: int, minimum: int) -> bool:
    return value >= minimum
