"""The outbox sender: claims due messages with a lease, delivers them over SMTP, retries with backoff."""

from __future__ import annotations

import asyncio
import binascii
import dataclasses
import datetime as dt
import functools
import io
import json
import logging
import random
import re
import socket
import uuid
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message as EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

import aiosmtplib
import jinja2
import sqlalchemy as sa

from webinar.clock import now
from webinar.db import DB, to_dataclass
from webinar.dbbackends import Prepared
from webinar.jobs import Context, Job
from webinar.mail import console, ics
from webinar.mail.outbox import Message
from webinar.mail.render import Composed, Composer, Dropped, Mailer, one_line
from webinar.settings import Settings
from webinar.stopping import to_the_end, together
from webinar.tables import outbox
from webinar.templating import make_environment
from webinar.web.redact import redact, redact_ics
from webinar.web.traffic import Traffic

log = logging.getLogger("webinar.mail")

GIVE_UP_AFTER = dt.timedelta(hours=24)
FIRST_RETRY_SECONDS = 20.0
MAX_RETRY_SECONDS = 3600.0
POLL_SECONDS = 2.0
# Messages per pass at most (a full pass is followed by the next one at once). Each pass opens its lanes' SMTP
# connections and closes them at its end: 1,000 (with claims of 25) sent a reminder to 50,000 people 12 % faster than
# 100 (with claims of 10), with 20 % less CPU in PostgreSQL (docs/performance.md).
PASS_SIZE = 1000
RELEASE_SECONDS = 5.0  # the longest a stop waits to give claimed messages back; unreleased ones lapse with their lease
CHUNK = 25  # messages one lane claims at a time: a claim is one round trip, and its lease runs from it
# Inside `webinar serve`, the longest each message waits for a moment with no request being served: in a rush the
# four lanes of a process still send about 80 a second between them, and the backlog goes at full speed after.
GIVE_WAY_SECONDS = 0.05
# What the sender writes into a message queued unwritten.
WRITTEN = ("subject", "body_text", "body_html", "ics", "headers_json")
OWNER = f"{socket.gethostname()[:40]}:{uuid.uuid4().hex[:12]}"


class _Wire(Compat32):
    """compat32 with CR/LF line ends, its header folding remembered: the `email` package re-encodes every header of
    every message (a non-ASCII subject as RFC 2047 quoted-printable, character by character), which was a third of
    the sender's CPU for a reminder to thousands of people with one subject. A short plain ASCII value folds to
    itself; any other is folded by compat32 once per distinct (name, value) and kept (a bounded number of them)."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if isinstance(value, str) and _plain(name, value):
            return f"{name}: {value}\r\n".encode("ascii")
        key = (name, type(value), str(value))
        folded = _FOLDED.get(key)
        if folded is None:
            if len(_FOLDED) >= FOLDS_KEPT:
                _FOLDED.clear()
            folded = _FOLDED[key] = super().fold_binary(name, value)
        return folded


def _plain(name: str, value: str) -> bool:
    """Whether compat32 writes the header as it is: one short line of printable ASCII, single spaces, none around
    (tests/webinar/test_mail.py compares the two on random values)."""
    return len(name) + len(value) <= 76 and value.isascii() and value.isprintable() and "  " not in value and (
        value == value.strip()
    )  # fmt: skip


FOLDS_KEPT = 1000
_FOLDED: dict[tuple[str, type, str], bytes] = {}
_WIRE = _Wire(linesep="\r\n")


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


def _first_few(n: int, *conditions: Any) -> Any:
    """The ids of the first `n` messages meeting the conditions, in due order, locked as `_first` locks one."""
    query = sa.select(outbox.c.id).where(*conditions).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(n)
    return query.with_for_update(skip_locked=True).scalar_subquery()


async def claim_many(db: DB, lease: dt.timedelta, n: int, owner: str = OWNER) -> list[Message]:
    """Take up to `n` messages for this sender in one transaction, as `claim_one` takes one: those whose sender's lease
    ran out first, then the next ones due, in due order."""
    at = now()
    claimed: list[Message] = []
    mine = {"status": "sending", "locked_until": at + lease, "lock_owner": owner}
    async with db.transaction() as conn:
        for conditions in (
            (outbox.c.status == "sending", outbox.c.locked_until < at),
            (outbox.c.status == "queued", outbox.c.next_attempt_at <= at),
        ):
            if len(claimed) < n:
                rows = await conn.fetch_all(
                    outbox.update()
                    .where(outbox.c.id.in_(_first_few(n - len(claimed), *conditions)))
                    .values(mine)
                    .returning(*outbox.c)
                )
                claimed += sorted((to_dataclass(Message, r) for r in rows), key=lambda m: (m.next_attempt_at, m.id))
    return claimed


async def release(db: DB, messages: list[Message]) -> None:
    """Give claimed messages back to the queue, due now, unsent (a lane that stops before their lease runs out)."""
    if messages:
        async with db.transaction() as conn:
            await conn.execute(
                outbox.update()
                .where(outbox.c.id.in_([m.id for m in messages]), outbox.c.status == "sending")
                .values(status="queued", locked_until=None, lock_owner=None, next_attempt_at=now())
            )


def build_message(
    msg: Message, mail_from: str, boundary: str | None = None, date: dt.datetime | None = None
) -> EmailMessage:
    """The MIME message: text and HTML alternatives, plus a text/calendar invitation when there is one.

    Built with the standard library's `email` package in its compat32 mode: a third of the time of `EmailMessage`'s
    header registry (0.6 against 1.9 ms a message, which was most of the sender's CPU for a reminder to 50,000
    people). Every header value is made one line first (`one_line`), and compat32 itself refuses a CR or LF in a
    header; non-ASCII names and subjects are RFC 2047-encoded, the bodies quoted-printable in UTF-8."""
    # Our own boundary, so that the generator need not search every part for a random one that appears in none: "=_"
    # cannot occur in a quoted-printable body (it writes "=" as "=3D"), and every part here is quoted-printable.
    email = MIMEMultipart("alternative", boundary=f"=_{boundary or uuid.uuid4().hex}")
    name, address = parseaddr(one_line(mail_from))
    email["From"] = formataddr((name, address), charset="utf-8")
    email["To"] = one_line(msg.to_address)
    subject = one_line(msg.subject)
    email["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")  # type: ignore[assignment]
    email["Message-ID"] = one_line(msg.message_id)
    email["Date"] = format_datetime(date or now())
    email["Auto-Submitted"] = "auto-generated"
    for header, value in msg.headers.items():
        email[one_line(header)] = one_line(value)
    for body, subtype in ((msg.body_text, "plain"), (msg.body_html, "html"), (msg.ics, "calendar")):
        if body is not None:
            part = _text_part(body, subtype)
            if subtype == "calendar":
                part.set_param("method", ics.method_of(body))  # REQUEST (an invitation, an update) or CANCEL
            email.attach(part)
    return email


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    """A text part in UTF-8, quoted-printable, as MIMEText writes it (its headers, in its order), encoded by binascii's
    C encoder rather than the `email` package's line-by-line Python one (a sixth of the sender's CPU per reminder)."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))
    return part


def wire(msg: Message, mail_from: str, boundary: str | None = None, date: dt.datetime | None = None) -> bytes:
    """`as_bytes(build_message(msg, mail_from))` without the `email` package's objects: the same bytes (compared on
    random messages, tests/webinar/test_mail.py), put together from pieces made once — the From header, each subject
    folded, the multipart's and each part's headers — and the per-message ones folded by the same policy. Building and
    flattening the message objects was a third of the sender's CPU per reminder. `boundary` is a UUID's hex (the slot
    it fills in the folded Content-Type was measured on that length), random by default."""
    head = _multipart_head()
    marker = head.find(_BOUNDARY_SLOT)
    hexed = (boundary or uuid.uuid4().hex).encode("ascii")
    head = head[:marker] + hexed + head[marker + len(hexed) :]
    fold = _WIRE.fold_binary
    out = [head, _from_header(mail_from), fold("To", one_line(msg.to_address)), _subject_header(one_line(msg.subject)),
           fold("Message-ID", one_line(msg.message_id)), fold("Date", format_datetime(date or now())),
           _AUTO_SUBMITTED]  # fmt: skip
    out += [fold(one_line(header), one_line(value)) for header, value in msg.headers.items()]
    out.append(b"\r\n")
    line = b"--=_" + hexed
    for body, subtype in ((msg.body_text, "plain"), (msg.body_html, "html"), (msg.ics, "calendar")):
        if body is not None:
            out += [line, b"\r\n", _part_head(subtype, ics.method_of(body) if subtype == "calendar" else None)]
            out.append(_crlf(binascii.b2a_qp(body.encode("utf-8"), istext=True)))
            line = b"\r\n--=_" + hexed
    out += [line, b"--\r\n"]
    return b"".join(out)


def _crlf(encoded: bytes) -> bytes:
    """Every line end (CRLF, a lone CR or LF) as CRLF, as the generator writes a part's lines."""
    if b"\r" in encoded:
        return _NEWLINES.sub(b"\r\n", encoded)
    return encoded.replace(b"\n", b"\r\n")


_BOUNDARY_SLOT = b"0" * 32  # a UUID's hex: where each message's boundary goes in the multipart's folded headers
_NEWLINES = re.compile(rb"\r\n|\r|\n")  # the generator's line ends, each written as CRLF
_AUTO_SUBMITTED = b"Auto-Submitted: auto-generated\r\n"


@functools.cache
def _multipart_head() -> bytes:
    """The multipart's own headers (Content-Type with a boundary of `_BOUNDARY_SLOT`, MIME-Version), as written."""
    email = MIMEMultipart("alternative", boundary=f"=_{_BOUNDARY_SLOT.decode()}")
    return b"".join(_WIRE.fold_binary(name, value) for name, value in email.raw_items())


@functools.lru_cache(maxsize=16)
def _from_header(mail_from: str) -> bytes:
    name, address = parseaddr(one_line(mail_from))
    return _WIRE.fold_binary("From", formataddr((name, address), charset="utf-8"))


@functools.lru_cache(maxsize=256)
def _subject_header(subject: str) -> bytes:
    return _WIRE.fold_binary("Subject", subject if subject.isascii() else Header(subject, "utf-8"))


@functools.cache
def _part_head(subtype: str, method: str | None) -> bytes:
    """A text part's headers and the blank line after them, as `_text_part` (and its METHOD) writes them."""
    part = _text_part("", subtype)
    if method is not None:
        part.set_param("method", method)
    return as_bytes(part)


@functools.lru_cache(maxsize=16)
def _address_of(mail_from: str) -> str:
    return parseaddr(mail_from)[1]


def as_bytes(email: EmailMessage) -> bytes:
    """The message as SMTP carries it: CRLF line ends, no "From " mangling."""
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_WIRE).flatten(email)
    return out.getvalue()


class Link:
    """One SMTP connection, opened when first needed and reused message after message (a connection per message cost
    more than the message); closed after any error but a refusal of one message, and reopened for the next."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: aiosmtplib.SMTP | None = None

    async def _open(self) -> aiosmtplib.SMTP:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_username or None,
            password=str(s.smtp_password) or None, use_tls=s.smtp_ssl,
            start_tls=True if s.smtp_starttls else (None if s.smtp_ssl else False), timeout=s.smtp_timeout,
        )  # fmt: skip
        await smtp.connect()
        return smtp

    async def send(self, email: bytes, msg: Message) -> None:
        """Send one message; a reply refusing it leaves the connection open (aiosmtplib resets the transaction)."""
        if self.smtp is None or not self.smtp.is_connected:
            self.smtp = await self._open()
        try:
            await self.smtp.sendmail(_address_of(self.settings.mail_from), [msg.to_address], email)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException):
            raise  # the server answered: the connection is still good
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    async def close(self) -> None:
        """Say goodbye (QUIT) to the server, or just drop the connection when that fails."""
        if self.smtp is not None and self.smtp.is_connected:
            try:
                await self.smtp.quit(timeout=self.settings.smtp_timeout)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                pass
        self.abandon()


async def _smtp_send(link: Link, email: bytes, msg: Message) -> None:
    try:
        await link.send(email, msg)
    except aiosmtplib.SMTPException as exc:
        if permanent(exc):
            raise PermanentFailure(answer(exc)) from exc
        raise


def _written(msg: Message) -> dict[str, Any]:
    """What the sender wrote into a message queued unwritten, to keep in its row with the outcome."""
    return {column: getattr(msg, column) for column in WRITTEN}


def _kept(msg: Message) -> dict[str, Any]:
    """What is kept of a message that will never be sent again: what was written, the token of every personal link
    in it redacted (the mail queue still shows the text; nobody reading it can use the link)."""
    return {
        **_written(msg),
        "body_text": redact(msg.body_text), "body_html": redact(msg.body_html),
        "ics": redact_ics(msg.ics) if msg.ics else msg.ics, "headers_json": redact(msg.headers_json),
    }  # fmt: skip


def _sent(values: dict[str, Any]) -> Any:
    """A message sent, with what was written into it (`_SENT`'s values)."""
    return (
        outbox.update()
        .where(outbox.c.id == values["b_id"])
        .values(
            status="sent", sent_at=values["b_at"], locked_until=None, last_error=None, attempts=values["b_attempts"],
            **{column: values[f"b_{column}"] for column in WRITTEN},
        )
    )  # fmt: skip


# The statement run once per message sent: compiled once, on PostgreSQL straight through the statement pool.
_SENT = Prepared(
    _sent({name: sa.bindparam(name) for name in ("b_id", "b_at", "b_attempts", *(f"b_{c}" for c in WRITTEN))}), _sent
)


async def _mark_sent(db: DB, msg: Message) -> None:
    """Record a message as sent, in its own commit (one statement)."""
    values = {"b_id": msg.id, "b_at": now(), "b_attempts": msg.attempts + 1}
    kept = _kept(msg)
    await db.run(_SENT, values | {f"b_{column}": kept[column] for column in WRITTEN})


async def _mark_failed(
    db: DB, msg: Message, error: str, permanent: bool, first_retry: float = FIRST_RETRY_SECONDS
) -> None:
    at = now()
    attempts = msg.attempts + 1
    failed = permanent or at - msg.created_at >= GIVE_UP_AFTER
    async with db.connection() as conn:  # one statement: its own commit
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
                **_written(msg),  # a retry sends what was written, as the mail queue shows it
            )
        )
    log.warning("mail %s to message #%s (attempt %s): %s", "failed" if failed else "deferred", msg.id, attempts, error)


async def _cancel(db: DB, msg: Message, reason: str) -> None:
    async with db.connection() as conn:
        await conn.execute(
            outbox.update()
            .where(outbox.c.id == msg.id)
            .values(status="cancelled", locked_until=None, lock_owner=None, last_error=reason, **_kept(msg))
        )


async def deliver_one(settings: Settings, db: DB, msg: Message, link: Link | None = None) -> bool:
    """Deliver one claimed message (over `link`, or a connection of its own) and record the outcome in its own
    commit; True when sent. A message past its `expires_at` is cancelled instead."""
    if msg.expires_at is not None and now() >= msg.expires_at:
        await _cancel(db, msg, "not sent: too late (its moment had passed)")
        return False
    email = wire(msg, settings.mail_from)
    if settings.mail_backend == "console":
        # Decoded, as a person running it locally copies the join link from here (the wire form is quoted-printable).
        log.info("e-mail #%s (console backend, not sent over SMTP):\n%s", msg.id, console.readable(email))
        await _mark_sent(db, msg)
        return True
    own = link is None
    link = link or Link(settings)
    try:
        await _smtp_send(link, email, msg)
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
    finally:
        if own:
            await link.close()
    # Recorded at once, in its own commit, so a later failure in this pass cannot cause a second send.
    await _mark_sent(db, msg)
    return True


async def write(mailer: Mailer, db: DB, msg: Message, composer: Composer) -> Message | None:
    """A claimed message queued unwritten, written with `composer` (kept in its row with the outcome of the send);
    None, and the message cancelled, when its registrant was erased meanwhile or it is no longer due."""
    async with db.connection() as conn:
        mail = await composer(conn, mailer, msg)
    if not isinstance(mail, Composed):
        await _cancel(db, msg, mail.reason if isinstance(mail, Dropped) else "registrant erased")
        return None
    return dataclasses.replace(
        msg, subject=mail.subject, body_text=mail.text, body_html=mail.html, ics=mail.ics,
        headers_json=json.dumps(mail.headers),
    )  # fmt: skip


async def compose(mailer: Mailer, db: DB, msg: Message, composer: Composer) -> Message | None:
    """Write a claimed message queued unwritten, and keep what was written in its row at once (what the mail queue
    shows and a retry sends again); None, and the message cancelled, when it is not to be sent."""
    written = await write(mailer, db, msg, composer)
    if written is not None:
        async with db.connection() as conn:
            await conn.execute(outbox.update().where(outbox.c.id == msg.id).values(_written(written)))
    return written


async def _lane(
    settings: Settings, db: DB, mailer: Mailer, composer: Composer, budget: list[int], traffic: Traffic | None = None
) -> int:
    """One lane of a pass: claim a few messages at a time (while the pass's budget lasts), write and deliver them
    over one reused SMTP connection. A claim's lease runs from the claim, so a lane that finds its lease half gone
    (a slow server) gives the rest of its claim back rather than race another sender for them."""
    lease, sent = lease_for(settings), 0
    link = Link(settings)
    try:
        while budget[0] > 0:
            claimed = await to_the_end(claim_many(db, lease, min(CHUNK, budget[0])))  # a stop knows what it took
            budget[0] -= len(claimed)
            if not claimed:
                break
            sent += await _deliver_claimed(settings, db, mailer, composer, claimed, link, traffic)
    finally:
        await link.close()
    return sent


async def _deliver_claimed(
    settings: Settings,
    db: DB,
    mailer: Mailer,
    composer: Composer,
    claimed: list[Message],
    link: Link,
    traffic: Traffic | None = None,
) -> int:
    """Write and deliver one claim's messages in turn; how many were sent. Inside `webinar serve` (`traffic`), each
    waits until no request is being served, GIVE_WAY_SECONDS at most: during a rush the e-mails go out more slowly
    and the pages stay fast; once it is over they go out at full speed. At a stop, the message being sent is sent
    and recorded to the end (cut between the two, it would go again once its lease lapsed), and the rest are given
    back at once, for another sender or the next start to take without waiting for their lease."""
    lease, sent = lease_for(settings), 0
    writer = dataclasses.replace(mailer, batch=tuple(claimed))  # its registrants read at once
    rest = 0  # the first of the messages a stop gives back
    try:
        for n, msg in enumerate(claimed):
            rest = n
            assert msg.locked_until is not None
            if traffic is not None:
                await traffic.quiet(GIVE_WAY_SECONDS)
            if now() > msg.locked_until - lease / 2:
                await release(db, claimed[n:])
                break
            written = msg if msg.composed else await write(writer, db, msg, composer)
            if written is not None:
                rest = n + 1  # this one is the sending's to finish now, not the stop's to give back
                sent += await to_the_end(deliver_one(settings, db, written, link))
    except asyncio.CancelledError:
        if claimed[rest:]:
            await to_the_end(release(db, claimed[rest:]), RELEASE_SECONDS)
            log.info("stop: %d claimed message(s) given back to the queue", len(claimed[rest:]))
        raise
    return sent


async def deliver_due(
    settings: Settings, db: DB, write: Composer, limit: int = PASS_SIZE, env: jinja2.Environment | None = None
) -> int:
    """One pass of the sender: deliver up to `limit` due messages over `settings.smtp_connections` connections at
    once; returns how many were sent. E-mails queued unwritten are written first, by `write` with `env` (the app's
    templates; by default the sender's own)."""
    return (await deliver_pass(settings, db, write, limit, env))[0]


async def deliver_pass(
    settings: Settings,
    db: DB,
    write: Composer,
    limit: int = PASS_SIZE,
    env: jinja2.Environment | None = None,
    kept: dict[Any, Any] | None = None,
    traffic: Traffic | None = None,
) -> tuple[int, bool]:
    """`deliver_due`, and whether the pass claimed all the `limit` it could (so more may be waiting); `kept` is what
    the sender keeps from one pass to the next (`Mailer.kept`); `traffic`: the requests it gives way to."""
    mailer = Mailer(settings, env or _environment(), memo={}, kept=kept)
    budget = [limit]  # shared by the lanes: how many more messages this pass may claim
    lanes = 1 if settings.mail_backend == "console" else max(1, settings.smtp_connections)
    sent = await together(
        *(_lane(settings, db, mailer, write, budget, traffic) for _ in range(lanes))
    )  # stopped: all gave back
    return sum(sent), budget[0] <= 0


@functools.cache
def _environment() -> jinja2.Environment:
    return make_environment()


@functools.cache  # one Job per composer, so the list of jobs compares equal to itself
def job(write: Composer) -> Job:
    """The sender's job, writing the e-mails queued unwritten with `write` (the registrants' composer, which the
    worker hands in: the mail layer knows no registrations)."""

    kept: dict[Any, Any] = {}  # the stencils, from pass to pass

    async def send_pass(ctx: Context) -> bool:
        """One pass; True when it claimed a full one, so a backlog (a registration rush, a reminder to 50,000 people)
        is worked through pass after pass, and the queue is looked at every couple of seconds once drained."""
        passed = await deliver_pass(ctx.settings, ctx.db, write, PASS_SIZE, env=ctx.env, kept=kept, traffic=ctx.traffic)
        return passed[1]

    return Job("mail-sender", send_pass, interval=POLL_SECONDS)
