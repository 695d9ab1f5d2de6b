"""The outbox sender: claims due messages with a lease, delivers them over SMTP, retries with backoff."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import random
import socket
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiosmtplib
import jinja2
import sqlalchemy as sa

from webinar.clock import now
from webinar.db import DB, to_dataclass
from webinar.jobs import Context, Job
from webinar.mail import ics
from webinar.mail.outbox import Message
from webinar.mail.render import Composer, Dropped, Mailer, one_line
from webinar.settings import Settings
from webinar.tables import outbox
from webinar.templating import make_environment

log = logging.getLogger("webinar.mail")

GIVE_UP_AFTER = dt.timedelta(hours=24)
FIRST_RETRY_SECONDS = 20.0
MAX_RETRY_SECONDS = 3600.0
POLL_SECONDS = 2.0
PASS_SIZE = 20
# What the sender writes into a message queued unwritten.
WRITTEN = ("subject", "body_text", "body_html", "ics", "headers_json")
OWNER = f"{socket.gethostname()[:40]}:{uuid.uuid4().hex[:12]}"


class PermanentFailure(Exception):
    """The SMTP server refused the message for good (a 5xx reply): retrying cannot help."""


# 5xx replies about the connection or our credentials, not about the message: a wrong SMTP password or a server that
# refuses us is fixed by the operator, and the queue must still be there to go out once it is.
NOT_ABOUT_THE_MESSAGE = (
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPConnectResponseError,
    aiosmtplib.SMTPHeloError,
)
AUTHENTICATION_REQUIRED = 530


def answer(exc: aiosmtplib.SMTPException) -> str:
    """The server's answer, as it gave it ("550 5.1.1 No such user"), for the mail queue's last error."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(answer(r) for r in exc.recipients) or "recipients refused"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}".strip()
    return f"{type(exc).__name__}: {exc}"


def permanent(exc: aiosmtplib.SMTPException) -> bool:
    """Whether the server refused this message for good: a 5xx reply to its sender, recipient or content."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(permanent(r) for r in exc.recipients)
    if not isinstance(exc, aiosmtplib.SMTPResponseException) or isinstance(exc, NOT_ABOUT_THE_MESSAGE):
        return False
    return exc.code >= 500 and exc.code != AUTHENTICATION_REQUIRED


def backoff(attempts: int, first: float = FIRST_RETRY_SECONDS) -> dt.timedelta:
    """Delay before the next try: 20 s (MAIL_RETRY_SECONDS) doubling up to 1 h, with jitter against stampedes."""
    base = min(MAX_RETRY_SECONDS, first * 2 ** max(attempts - 1, 0))
    return dt.timedelta(seconds=base * random.uniform(0.75, 1.0))  # noqa: S311 - jitter, not a secret  # nosec B311


def lease_for(settings: Settings) -> dt.timedelta:
    """How long a claim lasts: longer than one slow SMTP transaction, short enough to recover from a crash."""
    return dt.timedelta(seconds=settings.smtp_timeout * 4 + 30)


def _first(*conditions: Any) -> Any:
    """The id of the first message meeting the conditions, in due order, locked (skipping rows another sender
    holds on PostgreSQL; SQLite renders no lock, its writes are serialised). Each condition is an equality on
    `status` and a range on `next_attempt_at` or a filter, so the (status, next_attempt_at) index finds the first
    row at once: a backlog of thousands costs a claim no more than an empty queue."""
    return (
        sa.select(outbox.c.id)
        .where(*conditions)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


async def claim_one(db: DB, lease: dt.timedelta, owner: str = OWNER) -> Message | None:
    """Take one message for this sender, or None: first one whose sender's lease ran out (it crashed or hung),
    then the next one due. (One condition with OR made PostgreSQL read and sort every queued message for each
    claim: 7 ms a claim behind a rush of 14,000 confirmations.)"""
    at = now()
    lapsed = _first(outbox.c.status == "sending", outbox.c.locked_until < at)
    due = _first(outbox.c.status == "queued", outbox.c.next_attempt_at <= at)
    async with db.transaction() as conn:
        row = await conn.fetch_one(
            outbox.update()
            .where(outbox.c.id == sa.func.coalesce(lapsed, due))  # the second is looked for only when needed
            .values(status="sending", locked_until=at + lease, lock_owner=owner)
            .returning(*outbox.c)
        )
    return to_dataclass(Message, row) if row else None


def build_message(msg: Message, mail_from: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, plus a text/calendar invitation when there is one."""
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = msg.to_address
    email["Subject"] = one_line(msg.subject)
    email["Message-ID"] = msg.message_id
    email["Date"] = format_datetime(now())
    email["Auto-Submitted"] = "auto-generated"
    for name, value in msg.headers.items():
        email[one_line(name)] = one_line(value)
    email.set_content(msg.body_text)
    email.add_alternative(msg.body_html, subtype="html")
    if msg.ics:  # the part's method repeats the calendar's: REQUEST (an invitation or update) or CANCEL
        email.add_alternative(msg.ics, subtype="calendar", params={"method": ics.method_of(msg.ics)})
    return email


async def _smtp_send(settings: Settings, email: EmailMessage, msg: Message) -> None:
    try:
        await aiosmtplib.send(
            email,
            sender=parseaddr(settings.mail_from)[1],
            recipients=[msg.to_address],
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=str(settings.smtp_password) or None,
            use_tls=settings.smtp_ssl,
            start_tls=True if settings.smtp_starttls else (None if settings.smtp_ssl else False),
            timeout=settings.smtp_timeout,
        )
    except aiosmtplib.SMTPException as exc:
        if permanent(exc):
            raise PermanentFailure(answer(exc)) from exc
        raise


async def _mark_sent(db: DB, msg: Message) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            outbox.update()
            .where(outbox.c.id == msg.id)
            .values(status="sent", sent_at=now(), locked_until=None, last_error=None, attempts=msg.attempts + 1)
        )


async def _mark_failed(
    db: DB, msg: Message, error: str, permanent: bool, first_retry: float = FIRST_RETRY_SECONDS
) -> None:
    at = now()
    attempts = msg.attempts + 1
    failed = permanent or at - msg.created_at >= GIVE_UP_AFTER
    async with db.transaction() as conn:
        await conn.execute(
            outbox.update()
            .where(outbox.c.id == msg.id)
            .values(
                status="failed" if failed else "queued",
                attempts=attempts,
                next_attempt_at=at + backoff(attempts, first_retry),
                locked_until=None,
                lock_owner=None,
                last_error=error[:1000],
            )
        )
    log.warning("mail %s to message #%s (attempt %s): %s", "failed" if failed else "deferred", msg.id, attempts, error)


async def deliver_one(settings: Settings, db: DB, msg: Message) -> bool:
    """Deliver one claimed message and record the outcome in its own commit; True when sent."""
    email = build_message(msg, settings.mail_from)
    if settings.mail_backend == "console":
        log.info("e-mail #%s (console backend, not sent over SMTP):\n%s", msg.id, email.as_string())
        await _mark_sent(db, msg)
        return True
    try:
        await _smtp_send(settings, email, msg)
    except PermanentFailure as exc:
        await _mark_failed(db, msg, str(exc), permanent=True)
        return False
    except aiosmtplib.SMTPException as exc:  # a 4xx, a dropped connection, a timeout: retried
        await _mark_failed(db, msg, answer(exc), permanent=False, first_retry=settings.mail_retry_seconds)
        return False
    except (OSError, TimeoutError) as exc:  # no server there
        await _mark_failed(
            db, msg, f"{type(exc).__name__}: {exc}", permanent=False, first_retry=settings.mail_retry_seconds
        )
        return False
    # Recorded at once, in its own commit, so a later failure in this pass cannot cause a second send.
    await _mark_sent(db, msg)
    return True


async def compose(mailer: Mailer, db: DB, msg: Message, write: Composer) -> Message | None:
    """Write a claimed message queued unwritten with `write`, and keep what was written in its row (what the mail
    queue shows and a retry sends again); None, and the message cancelled with the reason, when it is not to go after
    all (its registrant was erased meanwhile, its event cancelled…)."""
    async with db.connection() as conn:
        mail = await write(conn, mailer, msg)
        if mail is None or isinstance(mail, Dropped):
            reason = mail.reason if mail else "registrant erased"
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == msg.id)
                .values(status="cancelled", locked_until=None, lock_owner=None, last_error=reason)
            )
            return None
        written = dataclasses.replace(
            msg, subject=mail.subject, body_text=mail.text, body_html=mail.html, ics=mail.ics,
            headers_json=json.dumps(mail.headers),
        )  # fmt: skip
        kept = {column: getattr(written, column) for column in WRITTEN}
        await conn.execute(outbox.update().where(outbox.c.id == msg.id).values(kept))
    return written


async def deliver_due(
    settings: Settings, db: DB, write: Composer, limit: int = PASS_SIZE, env: jinja2.Environment | None = None
) -> int:
    """One pass of the sender: deliver up to `limit` due messages; returns how many were sent. E-mails queued
    unwritten are written first, by `write` with `env` (the app's templates; by default the sender's own)."""
    mailer = Mailer(settings, env or _environment())
    lease, sent = lease_for(settings), 0
    for _ in range(limit):
        msg = await claim_one(db, lease)
        if msg is None:
            break
        written = msg if msg.composed else await compose(mailer, db, msg, write)
        if written is not None:
            sent += await deliver_one(settings, db, written)
    return sent


@functools.cache
def _environment() -> jinja2.Environment:
    return make_environment()


@functools.cache  # one Job per composer, so the list of jobs compares equal to itself
def job(write: Composer) -> Job:
    """The sender's job, writing the e-mails queued unwritten with `write` (the registrants' composer, which the
    worker hands in: the mail layer knows no registrations)."""

    async def send_pass(ctx: Context) -> bool:
        """One pass; True when it sent a full one, so a backlog (a registration rush queues thousands) is worked
        through pass after pass, and the queue is looked at every couple of seconds once drained."""
        return await deliver_due(ctx.settings, ctx.db, write, PASS_SIZE, env=ctx.env) >= PASS_SIZE

    return Job("mail-sender", send_pass, interval=POLL_SECONDS)
