"""Registering and deciding on registrants: each change one transaction, with its consents and e-mail."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from databases.core import Connection
from starlette.datastructures import FormData

from webinar import audit
from webinar.accounts import sessions
from webinar.clock import now
from webinar.db import DB
from webinar.events import queries as event_queries
from webinar.events.queries import ConsentText, Event
from webinar.mail import outbox
from webinar.mail.render import Mailer
from webinar.registration import batch, forms, notifications, queries, rows, seats
from webinar.registration.forms import RegistrationData
from webinar.registration.queries import Registration
from webinar.registration.rows import RequestMeta
from webinar.tables import CANCELLED, HOLDS_SEAT, UNCONFIRMED, WAITLISTED, answers, registrations
from webinar.text import normalise_email
from webinar.web import proof, ratelimit
from webinar.web.forms import text
from webinar.web.ratelimit import Limit
from webinar.webhooks import queue as webhooks

# A double-click must not become a pile of "you are already registered" e-mails.
DUPLICATE_NOTICE_EVERY = dt.timedelta(minutes=10)
# The hard ceiling per address and event (SPEC §15: for floods); past the soft threshold before it (settings
# `pow_threshold`) each registration needs a solved proof of work (web/proof.py, docs/crowds.md).
RATE_LIMIT, RATE_WINDOW = 1000, dt.timedelta(minutes=10)

REGISTERED, DUPLICATE, FULL, CLOSED, STALE_CONSENT = "registered", "duplicate", "full", "closed", "stale_consent"
INVALID, UNAVAILABLE = "invalid", "unavailable"


def window_state(event: Event, at: dt.datetime) -> str:
    """'open', 'not_yet' (before registration opens), 'closed' (after it closes), 'over' (event ended) or
    'cancelled' (by its organiser)."""
    if event.cancelled:
        return "cancelled"
    if event.ends_at <= at:
        return "over"
    if event.registration_opens_at and at < event.registration_opens_at:
        return "not_yet"
    if event.registration_closes_at and at >= event.registration_closes_at:
        return "closed"
    return "open"


async def registration_state(conn: Connection, event: Event) -> str:
    """'open', 'waitlist' (full, the form joins the waiting list), 'full', or why the window is shut ('not_yet',
    'closed', 'over', 'cancelled')."""
    state = window_state(event, now())
    if state == "open" and await queries.is_full(conn, event):
        return "waitlist" if event.waitlist else "full"
    return state


async def current_state(db: DB, event: Event) -> str:
    """`registration_state` now, without a connection for an event that has no seats to count."""
    if event.capacity is None:
        return window_state(event, now())
    async with db.connection() as conn:
        return await registration_state(conn, event)


log = logging.getLogger("webinar.registration")

TAKES_REGISTRATIONS = ("open", "waitlist", "full")  # the states in which a submitted form is looked at


@dataclass(frozen=True)
class Outcome:
    """What became of one submitted registration form: `kind` is REGISTERED or DUPLICATE (the same answer to the
    visitor), or why not, with the event as it is now, the form's errors and the form's state to show."""

    kind: str
    event: Event | None = None
    errors: dict[str, str] = field(default_factory=dict)
    state: str | None = None
    # What is left to do once the visitor has the answer (the notice to an address registered already).
    later: Callable[[], Awaitable[None]] | None = None
    proof: bool = False  # the form again must ask for a proof of work

    @property
    def done(self) -> bool:
        return self.kind in (REGISTERED, DUPLICATE)


DONE = Outcome(REGISTERED)


class Registrar:
    """The one way a registration form becomes a registration. It decides whether a submission may be written
    without a lock (`batch`: an event without seats, checked against a kept copy) or needs the locking path
    (seats, a closed window, errors, duplicates, a changed event), and counts each submission once against the
    per-address rate limit, whichever path writes it."""

    def __init__(self, db: DB, mailer: Mailer) -> None:
        self.db, self.mailer = db, mailer
        self.contexts = batch.Contexts()
        self.writer = batch.Writer(db)
        self.proofs = proof.Proofs(mailer.settings)

    async def context(self, slug: str, fresh: bool = False, within: float | None = None) -> batch.EventContext | None:
        """The event with this slug and its consent texts, as recently read (`within` seconds; `fresh`: read now),
        None when there is no such event."""
        return await self.contexts.get(self.db, slug, fresh, within)

    def limit(self, event_id: int, ip: str) -> Limit:
        """The per-address hard ceiling on registration attempts for one event; its count is the address's load."""
        key = f"register:{event_id}:ip:{ratelimit.address(ip)}"
        return Limit.of(self.mailer.settings, key, RATE_LIMIT, RATE_WINDOW)

    async def load(self, event_id: int, ip: str, cached: bool = False) -> int:
        """The registration attempts from this address for this event in the current window (`cached`: as read in
        the last few seconds, for the pages and challenges that only show it)."""
        return await self.proofs.load(self.db, self.limit(event_id, ip), cached)

    async def needs_proof(self, event_id: int, ip: str) -> bool:
        """Whether this address's next registration for the event must come with a solved proof of work (no read
        for an address this process has seen few attempts from: its submission would not be asked either)."""
        limit = self.limit(event_id, ip)
        if self.proofs.seen_few(limit.stored_key):
            return False
        return self.proofs.tuning.needed(await self.proofs.load(self.db, limit, cached=True))

    async def _proof_refused(self, event_id: int, ip: str, form: FormData) -> proof.Refusal | None:
        """Past the soft threshold, why this submission's proof of work is refused (None: none needed, or good and
        now spent); checked before anything is stored or counted."""
        limit = self.limit(event_id, ip)
        if self.proofs.surely_below(limit.stored_key):  # the rush of many addresses: no read at all
            return None
        hits = await self.proofs.load(self.db, limit)
        self.proofs.loads.put(limit.stored_key, hits + 1)  # with this attempt, which the write counts
        if not self.proofs.tuning.needed(hits):
            return None
        return await self.proofs.spend(self.db, text(form, proof.FIELD), event_id, "register")

    async def register(
        self, ctx: batch.EventContext, form: FormData, meta: RequestMeta, language: str, limit: Limit | None = None
    ) -> Outcome:
        """Register the person of `form` for the event of `ctx` (a kept copy); RateLimited (429) past the hard
        ceiling; past the soft threshold, without a good proof of work, the form again (nothing stored). A caller
        that counts against a limit of its own (the API, per token) has no browser to solve a proof: none is asked.

        `language` is the one the person read the form in; their e-mails are written in it."""
        if limit is None:
            refused = await self._proof_refused(ctx.event.id, meta.ip, form)
            if refused is not None:
                return Outcome(INVALID, ctx.event, {proof.FIELD: proof.message(refused)}, proof=True)
            limit = self.limit(ctx.event.id, meta.ip)
        honeypot = bool(text(form, "website"))  # people never see it, bots fill it in: answer as if done
        submission = None if honeypot else await self._lock_free(ctx, form, meta, limit, language)
        if submission is None:
            async with self.db.connection() as conn:
                await ratelimit.count(conn, limit)
        elif (written := await self.writer.write(submission)) == batch.REGISTERED:  # counted with the write
            return DONE
        elif written == batch.NOT_NEW and (notice := await self._duplicate(ctx.event, submission)) is not None:
            return Outcome(DUPLICATE, later=notice)
        if honeypot:
            return DONE
        # Not new, the event changed, or not for the lock-free path: decide on the event as it is now.
        fresh = await self.contexts.get(self.db, ctx.event.slug, fresh=True)
        if fresh is None or fresh.event.purged_at is not None:
            return Outcome(UNAVAILABLE)
        return await self._register_locked(fresh, form, meta, language)

    async def _duplicate(self, event: Event, submission: batch.Submission) -> Callable[[], Awaitable[None]] | None:
        """For an address the lock-free write found registered already (on the event as read), the notice to send it,
        for the handler to run once the answer is out, so that a duplicate answers as fast as a new registration (the
        time would otherwise tell who is registered); None when the earlier registration was cancelled (registering
        again takes the locking path)."""
        email_normalised = submission.rows.registration["email_normalised"]
        async with self.db.connection() as conn:
            existing = await queries.by_email(conn, event.id, email_normalised)
        if existing is None or existing.status == CANCELLED:
            return None

        async def notice() -> None:
            try:
                async with self.db.transaction() as conn:
                    await _already_registered(conn, self.mailer, event, email_normalised)
            except Exception:  # the visitor has their answer: nobody else to tell
                log.exception("registration: the notice to an address registered already was not queued")

        return notice

    async def _lock_free(
        self, ctx: batch.EventContext, form: FormData, meta: RequestMeta, limit: Limit, language: str
    ) -> batch.Submission | None:
        """The submission to write without a lock, when the kept copy of the event allows it and the form is
        valid against it; None otherwise."""
        event = ctx.event
        if not batch.may_write(event, ctx.consents) or window_state(event, now()) != "open":
            return None
        data, _errors = forms.parse(form, event, ctx.consents, ctx.questions)
        consent = ctx.consents.by_version(data.consent_version) if data is not None else None
        if data is None or consent is None:
            return None
        new = self._rows(event, consent, data, meta, language)
        return batch.Submission(new, event.updated_at, data.consent_version, limit)

    def _rows(
        self,
        event: Event,
        consent: ConsentText,
        data: RegistrationData,
        meta: RequestMeta,
        lang: str,
        status: str | None = None,
    ) -> rows.NewRegistration:
        return rows.new_registration(self.mailer.settings, event, consent, data, meta, lang, now(), status)

    async def _register_locked(
        self, ctx: batch.EventContext, form: FormData, meta: RequestMeta, language: str
    ) -> Outcome:
        """Every case (seats, a closed window, errors, duplicates), each outcome in one transaction; `ctx` was read
        just now."""
        event = ctx.event
        async with self.db.connection() as conn:
            state = await registration_state(conn, event)
            consents = await event_queries.current_consents(conn, event.id)
        if state not in TAKES_REGISTRATIONS:
            return Outcome(CLOSED, event, state=state)
        if not consents:
            return Outcome(UNAVAILABLE, event)
        form_state = "waitlist" if state == "waitlist" else "open"
        data, errors = forms.parse(form, event, consents, ctx.questions)
        if data is None:
            return Outcome(INVALID, event, errors, state=form_state)
        kind = await self.write_locked(event, data, meta, language)
        if kind in (REGISTERED, DUPLICATE):
            return Outcome(kind)
        if kind == STALE_CONSENT:
            return Outcome(INVALID, event, {"consent_processing": forms.stale_consent_message()}, state=form_state)
        return Outcome(kind, event)

    async def write_locked(
        self, event: Event, data: RegistrationData, meta: RequestMeta, language: str, imported: bool = False
    ) -> str:
        """Register one person with their consents, answers and first e-mail, atomically, holding the event's seats
        while it counts them (a full event with a waiting list puts them on it); returns the outcome (REGISTERED,
        DUPLICATE, FULL, CLOSED or STALE_CONSENT). `imported`: on the basis `imported` (an organisation's own list,
        sent through the API) rather than a consent the person gave here."""
        async with self.db.transaction() as conn:
            if window_state(event, now()) != "open":
                return CLOSED
            consents = await event_queries.current_consents(conn, event.id)
            consent = consents.by_version(data.consent_version)  # the text ticked, in whichever language
            if not consents or (not imported and consent is None):
                return STALE_CONSENT
            # Seats as they are while held: a capacity or approval mode changed since `event` was read counts.
            held = await queries.lock_seats(conn, event.id)
            if held is None or held.status == "cancelled":  # cancelled since `event` was read
                return CLOSED
            email_normalised = normalise_email(data.email)
            earlier = await queries.by_email(conn, event.id, email_normalised, lock=True)
            if earlier is not None and earlier.status != CANCELLED:
                return await _already_registered(conn, self.mailer, event, email_normalised)
            status = await seats.new_status(conn, held)
            if status is None:
                return FULL
            seated = replace(event, approval=held.approval)
            if imported:
                new = rows.new_imported(self.mailer.settings, seated, data, None, now(), status)
            else:
                assert consent is not None  # a consent given is one of the current texts: STALE_CONSENT otherwise
                new = self._rows(seated, consent, data, meta, language, status)
            if earlier is not None:
                await _register_again(conn, event, earlier, new, meta)
                await rows.write_rest(conn, [(new, earlier.id)])
            else:
                [reg_id] = await rows.write(conn, [new])  # with its consents, answers and e-mail, a statement each
                if reg_id is None:  # a simultaneous identical submission won the race
                    return await _already_registered(conn, self.mailer, event, email_normalised)
        return REGISTERED


async def _register_again(
    conn: Connection, event: Event, earlier: Registration, new: rows.NewRegistration, meta: RequestMeta
) -> None:
    """Someone who cancelled registers again with the same address: their registration takes the new submission's
    details, answers and status as if it were new (at the back of the waiting list, if it goes there); the consents
    given then and now both stay on record (the caller writes them, `rows.write_rest`). Its join links stay those of
    after the cancellation, which revoked the earlier ones."""
    values = {k: v for k, v in new.registration.items() if k not in ("event_id", "token_version")}
    await conn.execute(
        registrations.update()
        .where(registrations.c.id == earlier.id)
        .values(**values, decided_at=None, decided_by=None)
    )
    await conn.execute(answers.delete().where(answers.c.registration_id == earlier.id))
    await audit.record(
        conn, "registration.registered_again", actor="attendee", organisation_id=event.organisation_id,
        event_id=event.id, registration_id=earlier.id, ip=meta.ip or None, details={"status": new.status},
    )  # fmt: skip


async def _already_registered(conn: Connection, mailer: Mailer, event: Event, email_normalised: str) -> str:
    # Locking the row makes simultaneous duplicates take turns, so only the first one queues a notice.
    existing = await queries.by_email(conn, event.id, email_normalised, lock=True)
    if existing is not None:
        await _notify_duplicate(conn, mailer, event, existing)
    return DUPLICATE


async def _notify_duplicate(conn: Connection, mailer: Mailer, event: Event, existing: Registration) -> None:
    """Tell the address that it is registered already (once per DUPLICATE_NOTICE_EVERY), inside the caller's
    transaction, which holds the registration's row."""
    if existing.email is None:
        return
    # Not confirmed yet: the confirmation link again (SPEC §15), not the status.
    kind = "confirm_registration" if existing.status == UNCONFIRMED else "already_registered"
    if not await outbox.sent_recently(conn, existing.id, kind, DUPLICATE_NOTICE_EVERY):
        await notifications.queue(conn, mailer, kind, event, existing)


@dataclass(frozen=True)
class Actor:
    """The staff member deciding, for the audit log (`staff_id` None: an API token, named by `email`)."""

    staff_id: int | None
    email: str
    ip: str


def _next_status(reg: Registration, decision: str) -> str | None:
    # A waitlisted registrant is approved by the waiting list when a seat frees, never past the capacity by hand.
    if decision == "approve" and reg.status in ("pending", "rejected"):
        return "approved"
    if decision == "reject" and reg.status in ("pending", "approved", WAITLISTED):
        return "rejected"
    return None


async def _decide_one(conn: Connection, mailer: Mailer, event: Event, reg_id: int, decision: str, actor: Actor) -> bool:
    held = await queries.lock_seats(conn, event.id)
    row = await conn.fetch_one(
        sa.select(registrations.c.id)
        .where(registrations.c.id == reg_id, registrations.c.event_id == event.id)
        .with_for_update()
    )
    reg = await queries.by_id(conn, event.id, reg_id) if row else None
    if reg is None or reg.email is None or reg.erased_at is not None:
        return False
    status = _next_status(reg, decision)
    if status is None or (status == "approved" and (held is None or held.status == "cancelled")):
        return False  # nobody is approved for an event that was cancelled
    if reg.status == "rejected" and held is not None and await queries.is_full(conn, held):
        return False
    # Rejecting someone already approved revokes the join links they were sent.
    version = reg.token_version + (1 if reg.status == "approved" else 0)
    at = now()
    await conn.execute(
        registrations.update()
        .where(registrations.c.id == reg.id)
        .values(status=status, decided_at=at, decided_by=actor.staff_id, updated_at=at, token_version=version)
    )
    if status == "rejected":  # logged out everywhere: a stream page still open closes within a poll
        await sessions.end_all(conn, reg.id, "logout")
    updated = await queries.by_id(conn, event.id, reg.id)
    assert updated is not None
    await notifications.queue(conn, mailer, status, event, updated)
    await audit.record(
        conn,
        f"registration.{status}",
        actor=actor.email,
        actor_staff_id=actor.staff_id,
        organisation_id=event.organisation_id,
        event_id=event.id,
        registration_id=reg.id,
        ip=actor.ip,
        details={"from": reg.status, "to": status},
    )
    await webhooks.announce(
        conn, "registration.status_changed", event.organisation_id, event.id, reg.id,
        {"from": reg.status, "status": status},
    )  # fmt: skip
    if reg.status in HOLDS_SEAT and status not in HOLDS_SEAT:  # a rejection freed a seat: the next in line takes it
        await seats.fill(conn, mailer.settings, event.id)
    return True


async def decide(db: DB, mailer: Mailer, event: Event, ids: list[int], decision: str, actor: Actor) -> int:
    """Approve or reject registrants of one event, each in its own transaction with its e-mail; returns how many."""
    assert decision in ("approve", "reject")
    changed = 0
    for reg_id in dict.fromkeys(ids):
        async with db.transaction() as conn:
            changed += await _decide_one(conn, mailer, event, reg_id, decision, actor)
    return changed
