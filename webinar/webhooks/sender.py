"""The webhook sender: claims due deliveries with a lease (as the mail outbox's sender does), POSTs each signed to
its subscription, logs every attempt, retries with exponential backoff for three days, never again after a 2xx."""

from __future__ import annotations

import datetime as dt
import html
import json
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from webinar.clock import now
from webinar.db import DB, to_dataclass
from webinar.jobs import Context, Job, new_owner
from webinar.mail import outbox
from webinar.settings import Settings
from webinar.tables import organisations
from webinar.tables import webhook_attempts as attempts
from webinar.tables import webhook_deliveries as deliveries
from webinar.tables import webhook_subscriptions as subs
from webinar.webhooks import signing, targets

TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # a slow receiver costs a pass ten seconds, never holds it
LEASE = dt.timedelta(minutes=5)  # longer than one pass (PASS_SIZE x (TIMEOUT + a DNS look-up)); then it lapses
PASS_SIZE = 10
RETRY_MOST = dt.timedelta(hours=1)  # the backoff doubles up to this
RETRY_FOR = dt.timedelta(days=3)  # then a delivery is given up (SPEC §14: at least 24 hours)
ANSWER_KEPT = 500  # characters of the receiver's answer kept in the log
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Delivery:
    id: int
    subscription_id: int
    type: str
    event_id: int | None
    registration_id: int | None
    details_json: str
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    locked_until: dt.datetime | None
    lock_owner: str | None
    delivered_at: dt.datetime | None

    @property
    def message_id(self) -> str:
        """The `webhook-id`: the same on every retry, so a receiver can drop a repeat."""
        return f"msg_{self.id}"

    def body(self) -> bytes:
        """The JSON body, made from the row alone: the same bytes on every retry. Ids and statuses only; the
        receiver reads the rest through the API."""
        data = {"event_id": self.event_id, "registration_id": self.registration_id, **json.loads(self.details_json)}
        payload = {"type": self.type, "timestamp": self.created_at.isoformat().replace("+00:00", "Z"), "data": data}
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def backoff(attempts: int, first: float) -> dt.timedelta:
    """The wait before the next try: `first` seconds doubling up to an hour, with jitter against stampedes."""
    base = min(RETRY_MOST.total_seconds(), first * 2 ** max(attempts - 1, 0))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.0))  # noqa: S311 - jitter, not a secret  # nosec B311


def _first_few(n: int, *conditions: Any) -> Any:
    query = sa.select(deliveries.c.id).where(*conditions).order_by(deliveries.c.next_attempt_at, deliveries.c.id)
    return query.limit(n).with_for_update(skip_locked=True).scalar_subquery()


async def claim(db: DB, owner: str, n: int = PASS_SIZE) -> list[Delivery]:
    """Take up to `n` deliveries for this sender: those whose sender's lease ran out, then the next ones due. Rows
    another sender holds are skipped (PostgreSQL) or wait for its write (SQLite), so each is held by one at a time."""
    at = now()
    claimed: list[Delivery] = []
    mine = {"status": "sending", "locked_until": at + LEASE, "lock_owner": owner}
    async with db.transaction() as conn:
        for conditions in (
            (deliveries.c.status == "sending", deliveries.c.locked_until < at),
            (deliveries.c.status == "queued", deliveries.c.next_attempt_at <= at),
        ):
            if len(claimed) < n:
                rows = await conn.fetch_all(
                    deliveries.update()
                    .where(deliveries.c.id.in_(_first_few(n - len(claimed), *conditions)))
                    .values(mine)
                    .returning(*deliveries.c)
                )
                claimed += sorted((to_dataclass(Delivery, r) for r in rows), key=lambda d: d.id)
    return claimed


@dataclass(frozen=True)
class Answer:
    """What one attempt got: the receiver's status (None: no answer), the start of its body, or the error."""

    status_code: int | None
    answer: str | None
    error: str | None
    milliseconds: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def post(settings: Settings, url: str, secret: str, delivery: Delivery) -> Answer:
    """One signed POST, its target checked again first (its name may resolve elsewhere now); no redirect followed."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    refused = await targets.refusal(url, settings.webhook_allow_private)
    if refused:
        return Answer(None, None, f"refused: the URL {refused}", took())
    body = delivery.body()
    headers = signing.headers(secret, delivery.message_id, int(now().timestamp()), body)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as http:
            response = await http.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Answer(None, None, "timeout", took())
    except httpx.HTTPError as exc:
        return Answer(None, None, f"{type(exc).__name__}: {exc}"[:500], took())
    return Answer(response.status_code, response.text[:ANSWER_KEPT], None, took())


async def _record(
    db: DB, settings: Settings, delivery: Delivery, owner: str, answer: Answer, disabled: bool = False
) -> None:
    """The attempt in the log, and the delivery done (after a 2xx), due again later, or given up after RETRY_FOR (or
    at once for a disabled subscription); only while this sender still holds it."""
    at = now()
    tries = delivery.attempts + 1
    if answer.ok:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": at}
    elif disabled or at - delivery.created_at >= RETRY_FOR:
        values = {"status": "failed"}
    else:
        values = {"status": "queued", "next_attempt_at": at + backoff(tries, settings.webhook_retry_seconds)}
    async with db.transaction() as conn:
        await conn.execute(
            attempts.insert().values(
                delivery_id=delivery.id, subscription_id=delivery.subscription_id, at=at,
                status_code=answer.status_code, error=answer.error, answer=answer.answer,
                milliseconds=answer.milliseconds,
            )
        )  # fmt: skip
        done = await conn.fetch_val(
            deliveries.update()
            .where(deliveries.c.id == delivery.id, deliveries.c.lock_owner == owner)
            .values(**values, attempts=tries, locked_until=None, lock_owner=None)
            .returning(deliveries.c.id)
        )
        if done is not None and values["status"] == "failed" and not disabled:
            await _disable_if_failing(conn, settings, delivery.subscription_id, at)


async def _disable_if_failing(conn: Any, settings: Settings, sub_id: int, at: dt.datetime) -> None:
    """A subscription none of whose attempts succeeded for RETRY_FOR is disabled (its queue given up as it comes),
    and its organisation told by e-mail."""
    succeeded = sa.exists().where(
        attempts.c.subscription_id == sub_id, attempts.c.status_code.between(200, 299), attempts.c.at > at - RETRY_FOR
    )
    disabled = await conn.fetch_one(
        subs.update()
        .where(subs.c.id == sub_id, subs.c.disabled_at.is_(None), ~succeeded)
        .values(disabled_at=at)
        .returning(subs.c.organisation_id, subs.c.url)
    )
    if disabled is None or disabled["organisation_id"] is None:
        return
    contact = await conn.fetch_val(
        sa.select(organisations.c.contact_email).where(organisations.c.id == disabled["organisation_id"])
    )
    text = DISABLED_TEXT.format(url=disabled["url"], days=RETRY_FOR.days, base=settings.base_url)
    await outbox.enqueue(
        conn, kind="webhook_disabled", to_address=contact, mail_from=settings.mail_from, subject=DISABLED_SUBJECT,
        body_text=text, body_html="".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n")),
    )  # fmt: skip


DISABLED_SUBJECT = "Webhook dezactivat / Webhook disabled"
DISABLED_TEXT = (
    "Webhookul către {url} nu a primit niciun răspuns 2xx timp de {days} zile și a fost dezactivat. "
    "Ștergeți-l și creați-l din nou prin API (POST /api/v1/webhooks) după ce destinatarul funcționează.\n\n"
    "The webhook to {url} got no 2xx answer for {days} days and was disabled. Delete it and create it again "
    "through the API (POST /api/v1/webhooks) once the receiver works.\n\n{base}/api/v1/docs"
)


async def deliver_pass(settings: Settings, db: DB, owner: str) -> int:
    """Claim and send one pass's deliveries; returns how many were claimed."""
    claimed = await claim(db, owner)
    if not claimed:
        return 0
    async with db.connection() as conn:
        rows = await conn.fetch_all(subs.select().where(subs.c.id.in_({d.subscription_id for d in claimed})))
    by_id = {r["id"]: r for r in rows}
    for delivery in claimed:
        sub = by_id.get(delivery.subscription_id)
        if sub is None:
            continue  # removed meanwhile, with its deliveries
        if sub["disabled_at"] is not None:
            await _record(db, settings, delivery, owner, Answer(None, None, "the subscription is disabled", 0), True)
            continue
        answer = await post(settings, sub["url"], sub["secret"], delivery)
        await _record(db, settings, delivery, owner, answer)
    return len(claimed)


OWNER = new_owner()  # this process's sender, in the leases of the deliveries it holds


async def _send_pass(ctx: Context) -> bool:
    """One pass; a full one means more may be waiting (run again at once)."""
    return await deliver_pass(ctx.settings, ctx.db, OWNER) >= PASS_SIZE


JOB = Job("webhook-sender", _send_pass, interval=POLL_SECONDS)
