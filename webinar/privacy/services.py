"""The attendee's rights and the staff's erasures: export, correct, confirm a new address, unsubscribe, erase.

Each is one transaction with its audit entry (the pretix shredder / indico delete_or_anonymize_user pattern).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from databases.core import Connection

from webinar import audit, changes
from webinar.attendance import queries as attendance
from webinar.certificates import queries as certificate_queries
from webinar.clock import now
from webinar.db import DB
from webinar.evaluation import queries as evaluation_queries
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.links.privacy import privacy_url, retention_ends_at
from webinar.links.tokens import UNSUBSCRIBE, make_email_change_token, read_email_change_token, read_token
from webinar.mail import outbox, texts
from webinar.mail.render import Mailer, one_line, render_email
from webinar.privacy import queries
from webinar.privacy.erasure import Erased, Requester, erase
from webinar.privacy.forms import Correction
from webinar.registration import imports, messages, notifications, questionnaire, seats
from webinar.registration import queries as registration_queries
from webinar.registration.fields import FIELDS
from webinar.registration.forms import PersonalDetails
from webinar.registration.queries import Registration
from webinar.registration.questions import MULTICHOICE, STORED_SEPARATOR, Question
from webinar.settings import Settings
from webinar.tables import consent_records, events, registrations
from webinar.text import normalise_email, search_key
from webinar.web import ratelimit

EMAIL_CHANGE_VALID = dt.timedelta(days=2)
EMAIL_CHANGE_LIMIT, EMAIL_CHANGE_WINDOW = 5, dt.timedelta(hours=1)
ATTENDEE = "attendee"


@dataclass(frozen=True)
class Meta:
    """Where an attendee's request came from: kept as proof with a consent change, and in the audit log."""

    ip: str
    user_agent: str


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _plain(obj: Any) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in dataclasses.asdict(obj).items()}


async def _audit_attendee(conn: Connection, action: str, event: Event, reg_id: int, meta: Meta, **details: Any) -> None:
    await audit.record(
        conn,
        action,
        actor=ATTENDEE,
        organisation_id=event.organisation_id,
        event_id=event.id,
        registration_id=reg_id,
        ip=meta.ip or None,
        details=details,
    )


async def export(db: DB, event: Event, registration_id: int, meta: Meta) -> dict[str, Any] | None:
    """Everything held about one registration, as a JSON-ready dict (never the password hash); audited."""
    async with db.transaction() as conn:
        reg = await registration_queries.by_id(conn, event.id, registration_id)
        if reg is None or reg.erased_at is not None:
            return None
        org = await event_queries.organisation(conn, event.organisation_id)
        data = {
            "exported_at": now().isoformat(),
            "event": {"title": event.title, "slug": event.slug, "starts_at": event.starts_at.isoformat()},
            "controller": {"name": org.name, "contact_email": org.contact_email} if org else None,
            "registration": _plain(reg),
            "consents": [_plain(c) for c in await queries.consents_with_text(conn, reg.id)],
            "answers": await _answers(conn, event, reg.id),
            "viewing_sessions": [_plain(s) for s in await registration_queries.sessions(conn, reg.id)],
            "presence_checks": [_plain(c) for c in await attendance.checks_of(conn, reg.id)],
            "attendance": _attendance(await attendance.verdict_of(conn, event, reg.id)),
            "certificate": _certificate(await certificate_queries.of_registration(conn, reg.id)),
            "evaluation": await _evaluation(conn, event, reg.id),
            "emails": [_plain(m) for m in await queries.emails(conn, reg.id)],
            "retention": {"erased_after": retention_ends_at(event).isoformat()},
        }
        await _audit_attendee(conn, "registration.exported", event, reg.id, meta)
    return data


def _certificate(certificate: certificate_queries.Certificate | None) -> dict[str, Any] | None:
    """The certificate issued to the person, as issued (the name and member ID printed on it)."""
    if certificate is None:
        return None
    return {
        "number": certificate.number, "full_name": certificate.full_name, "member_id": certificate.member_id,
        "minutes_live": certificate.minutes, "issued_at": certificate.issued_at.isoformat(),
        "revoked_at": certificate.revoked_at.isoformat() if certificate.revoked_at else None,
        "reason": certificate.reason,
    }  # fmt: skip


async def _evaluation(conn: Connection, event: Event, registration_id: int) -> dict[str, Any] | None:
    """The person's final evaluation: the result and, per question, the options they chose."""
    result = await evaluation_queries.result_of(conn, registration_id)
    if result is None:
        return None
    chosen = await evaluation_queries.chosen_of(conn, registration_id)
    test = await evaluation_queries.test_of(conn, event.id)
    return {
        "score": result.score, "passed": result.passed, "submitted_at": result.submitted_at.isoformat(),
        "answers": [{"question": q.text, "chosen": [o.text for o in q.options if o.id in chosen]} for q in test],
    }  # fmt: skip


def _attendance(verdict: attendance.Verdict | None) -> dict[str, Any] | None:
    """The person's attendance verdict as computed now (approved registrants only)."""
    if verdict is None:
        return None
    return {
        "minutes_live": verdict.minutes_live, "minutes_replay": verdict.minutes_replay,
        "presence_checks_shown": verdict.checks_shown, "presence_checks_answered": verdict.checks_answered,
        "qualifies": verdict.qualifies,
    }  # fmt: skip


async def _answers(conn: Connection, event: Event, registration_id: int) -> list[dict[str, Any]]:
    """The person's answers to the event's questions, each with the question as it reads now."""
    held = await registration_queries.answers_of(conn, registration_id)
    kept = await registration_queries.questions_of(conn, event.id, registration_queries.KEPT)
    return [
        {
            "question": q.header, "label_ro": q.label_ro, "label_en": q.label_en, "kind": q.kind,
            "answer": held[q.id].split(STORED_SEPARATOR) if q.kind == MULTICHOICE else held[q.id],
            "question_removed": q.removed_at is not None,
        }
        for q in kept
        if q.id in held
    ]  # fmt: skip


async def _consent_change(conn: Connection, reg: Registration, marketing: bool, meta: Meta) -> None:
    await conn.execute(
        consent_records.insert().values(
            registration_id=reg.id,
            event_id=reg.event_id,
            purpose="marketing",
            action="given" if marketing else "withdrawn",
            recorded_at=now(),
            ip=meta.ip[:45] or None,
            user_agent=meta.user_agent[:500] or None,
        )
    )


def _changed(reg: Registration, details: PersonalDetails, email_now: bool) -> dict[str, Any]:
    # The address is not a plain field: a new one is only taken once confirmed from its own mailbox.
    fields = [f for f in FIELDS if not f.identifies]
    values = {f.name: f.value_of(details) for f in fields if f.value_of(details) != f.value_of(reg)}
    if email_now and details.email != reg.email:
        values |= {"email": details.email, "email_normalised": normalise_email(details.email)}
    return values


async def _queue_email_change(conn: Connection, mailer: Mailer, event: Event, reg: Registration, new: str) -> None:
    settings = mailer.settings
    expires = min(now() + EMAIL_CHANGE_VALID, retention_ends_at(event))
    token = make_email_change_token(str(settings.secret_key), reg.id, reg.token_version, new, expires)
    org = await event_queries.organisation(conn, event.organisation_id)
    context = {
        "event": event,
        "registration": notifications.addressed(reg),  # to an address not proven yet
        "organiser": org.name if org else "",
        "confirm_url": f"{settings.base_url}/events/{event.slug}/me/confirm-email/{token}",
        "new_email": new,
        "event_url": f"{settings.base_url}/events/{event.slug}",
        "privacy_url": privacy_url(settings, event),
        "title": one_line(event.title),
    }
    rendered = render_email(mailer.env, "confirm_email", context, reg.language)
    await outbox.enqueue(
        conn,
        kind="confirm_email",
        to_address=new,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        mail_from=settings.mail_from,
        event_id=event.id,
        registration_id=reg.id,
    )


async def correct(
    db: DB, mailer: Mailer, event: Event, registration_id: int, data: Correction, asked: Sequence[Question], meta: Meta
) -> bool:
    """Apply the attendee's corrections (their answers to the questions `asked` too); a new address only gets a
    confirmation e-mail. True when one was queued."""
    details, marketing = data.details, data.marketing
    new_email = normalise_email(details.email)
    async with db.connection() as conn:
        reg = await registration_queries.by_id(conn, event.id, registration_id)
        if reg is not None and new_email != reg.email_normalised:
            await ratelimit.hit(
                conn, mailer.settings, f"me-email:{registration_id}", EMAIL_CHANGE_LIMIT, EMAIL_CHANGE_WINDOW
            )
    async with db.transaction() as conn:
        reg = await registration_queries.by_id(conn, event.id, registration_id)
        if reg is None or reg.erased_at is not None:
            return False
        email_now = new_email == reg.email_normalised  # only the spelling (case) changed: same mailbox
        values = _changed(reg, details, email_now)
        if values:
            names = (values.get("first_name", reg.first_name), values.get("last_name", reg.last_name))
            values["search_text"] = search_key(*names, values.get("email", reg.email))
            await conn.execute(
                registrations.update().where(registrations.c.id == reg.id).values(**values, updated_at=now())
            )
        if marketing != reg.marketing_opt_in:
            await _consent_change(conn, reg, marketing, meta)
            await conn.execute(
                registrations.update().where(registrations.c.id == reg.id).values(marketing_opt_in=marketing)
            )
        answered = await questionnaire.save_answers(conn, reg.id, asked, data.answers)
        # Someone else's address is not revealed: the same answer, but nothing is sent to it.
        queued = not email_now and not await queries.email_taken(conn, event.id, new_email, reg.id)
        if queued:
            await _queue_email_change(conn, mailer, event, reg, details.email)
        changed = sorted(k for k in values if k not in ("search_text", "email_normalised")) + answered
        await _audit_attendee(
            conn, "registration.corrected", event, reg.id, meta, fields=changed, marketing=marketing, new_email=queued
        )
    return not email_now


class EmailChange(enum.Enum):
    DONE = "done"
    INVALID = "invalid"  # forged, expired, reused, another event's, or the registration was erased
    TAKEN = "taken"  # the address now belongs to another registration of the event


async def confirm_email(db: DB, mailer: Mailer, event: Event, token: str) -> EmailChange:
    """Apply a confirmed new address (uniqueness checked again); a fresh join link goes to it when approved."""
    found = read_email_change_token(str(mailer.settings.secret_key), token, now())
    if found is None:
        return EmailChange.INVALID
    claims, new = found
    async with db.transaction() as conn:
        reg = await registration_queries.by_id(conn, event.id, claims.registration_id)
        if reg is None or reg.erased_at is not None or reg.token_version != claims.token_version:
            return EmailChange.INVALID
        if await queries.email_taken(conn, event.id, normalise_email(new), reg.id):
            return EmailChange.TAKEN
        # The old join links went to the old mailbox: they stop working, and a new one goes to the new address.
        await conn.execute(
            registrations.update()
            .where(registrations.c.id == reg.id)
            .values(
                email=new,
                email_normalised=normalise_email(new),
                search_text=search_key(reg.first_name, reg.last_name, new),
                token_version=reg.token_version + 1,
                updated_at=now(),
            )
        )
        await audit.record(
            conn,
            "registration.email_changed",
            actor=ATTENDEE,
            organisation_id=event.organisation_id,
            event_id=event.id,
            registration_id=reg.id,
        )
        updated = await registration_queries.by_id(conn, event.id, reg.id)
        if updated is not None and updated.status == "approved":
            await notifications.queue(conn, mailer, "confirmation", event, updated)
    return EmailChange.DONE


class Unsubscribe(enum.Enum):
    ASK = "ask"  # valid and still subscribed: show the confirm button
    DONE = "done"
    ALREADY = "already"
    INVALID = "invalid"


async def _unsubscribe_target(conn: Connection, secret: str, event: Event, token: str) -> Registration | None:
    claims = read_token(secret, UNSUBSCRIBE, token, now())
    if claims is None:
        return None
    # token_version is not checked: a later rejection or address change must not break an unsubscribe link.
    reg = await registration_queries.by_id(conn, event.id, claims.registration_id)
    return reg if reg is not None and reg.erased_at is None else None


async def unsubscribe_state(db: DB, secret: str, event: Event, token: str) -> Unsubscribe:
    """What an unsubscribe link shows: the confirm button, 'already unsubscribed', or that it cannot be used."""
    async with db.connection() as conn:
        reg = await _unsubscribe_target(conn, secret, event, token)
    if reg is None:
        return Unsubscribe.INVALID
    return Unsubscribe.ASK if reg.marketing_opt_in else Unsubscribe.ALREADY


async def unsubscribe(db: DB, secret: str, event: Event, token: str, meta: Meta) -> Unsubscribe:
    """Withdraw marketing consent (recorded as a consent record), once."""
    async with db.transaction() as conn:
        reg = await _unsubscribe_target(conn, secret, event, token)
        if reg is None:
            return Unsubscribe.INVALID
        done = await conn.fetch_val(
            registrations.update()
            .where(registrations.c.id == reg.id, registrations.c.marketing_opt_in.is_(True))
            .values(marketing_opt_in=False, updated_at=now())
            .returning(registrations.c.id)
        )
        if done is None:
            return Unsubscribe.ALREADY
        await _consent_change(conn, reg, False, meta)
        await _audit_attendee(conn, "consent.marketing_withdrawn", event, reg.id, meta)
    return Unsubscribe.DONE


async def erase_one(db: DB, settings: Settings, event: Event, registration_id: int, requester: Requester) -> Erased:
    """Erase one registration (attendee or staff), in one transaction; the seat it held goes to the next in line."""
    async with db.transaction() as conn:
        await registration_queries.lock_seats(conn, event.id)  # the event before the registration, as on every path
        erased = await erase(conn, event.id, event.organisation_id, registration_id, requester, now() < event.ends_at)
        if erased is Erased.DONE:
            await seats.fill(conn, settings, event.id)
        return erased


async def purge_event(db: DB, event: Event, requester: Requester) -> int:
    """Erase every registration of an event, remove its e-mail texts and staff's messages and mark it purged, in one
    transaction; returns how many were erased."""
    async with db.transaction() as conn:
        erased = await erase_all(conn, event, requester)
        await texts.remove_all(conn, event.id)  # nobody is left to write to; the texts name the staff who wrote them
        await messages.remove_all(conn, event.id)  # so do the messages (their e-mails stay, as the queue keeps them)
        changes.shown_changed()
        await conn.execute(events.update().where(events.c.id == event.id).values(purged_at=now()))
        await audit.record(
            conn,
            "event.purged",
            actor=requester.actor,
            actor_staff_id=requester.staff_id,
            organisation_id=event.organisation_id,
            event_id=event.id,
            ip=requester.ip,
            details={"erased": erased},
        )
    return erased


async def erase_all(conn: Connection, event: Event, requester: Requester) -> int:
    """Erase every registration of an event still holding personal data (inside the caller's transaction)."""
    before_end = now() < event.ends_at
    await imports.discard_all(conn, event.id)  # lists previewed for an import: personal data too
    erased = 0
    for reg_id in await queries.unerased_ids(conn, event.id):
        result = await erase(conn, event.id, event.organisation_id, reg_id, requester, before_end)
        erased += result is Erased.DONE
    return erased
