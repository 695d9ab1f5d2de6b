"""The e-mails a registrant receives: queued in the caller's transaction, written in their language when sent."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from email.utils import parseaddr
from typing import Any

from databases.core import Connection
from markupsafe import Markup

from webinar import i18n
from webinar.branding import queries as branding_queries
from webinar.branding.queries import EmailLogo
from webinar.clock import now
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.links.cancel import cancel_url
from webinar.links.certificate import certificate_url
from webinar.links.confirm import confirm_url
from webinar.links.join import join_url
from webinar.links.privacy import marketing_extras, privacy_url
from webinar.mail import editable, ics, outbox, placeholders, stencil, texts
from webinar.mail.render import (
    Composed,
    Dropped,
    Mailer,
    Rendered,
    one_line,
    render_block,
    render_email,
    render_written,
)  # fmt: skip
from webinar.mail.texts import EmailText
from webinar.registration import messages
from webinar.registration import queries as registration_queries
from webinar.registration.queries import Registration
from webinar.settings import Settings
from webinar.tables import CANCELLABLE, UNCONFIRMED
from webinar.text import inert

log = logging.getLogger("webinar.mail")

# An update (the event's time or stream changed, registration/notices.py) carries the join link and the calendar
# entry again, with a higher SEQUENCE, so calendars move the entry they have; so does a reminder.
WITH_JOIN_LINK = ("confirmation", "approved", "update", "reminder")
# The e-mails that tell a registrant where they stand carry the link to cancel, while they still may.
WITH_CANCEL_LINK = (
    "confirmation", "received", "approved", "waitlisted", "promoted", "already_registered", "update", "reminder",
    "message",
)  # fmt: skip
WITH_PLACE = ("waitlisted", "already_registered")  # a waitlisted registrant is told their place in line
# Once an event is cancelled, the e-mails still queued for it go only if they are the cancellation itself or answer
# for a registrant's own status; the rest (a confirmation, a join link, an update, a reminder…) would mislead.
STILL_SENT_WHEN_CANCELLED = ("event_cancelled", "cancelled", "rejected")
KINDS = (
    "confirmation", "received", "approved", "rejected", "already_registered", "join_link", "waitlisted", "promoted",
    "cancelled", "update", "event_cancelled", "reminder", "followup_attended", "followup_missed",
    "confirm_registration", "message",
)  # fmt: skip
# The scheduled e-mails (registration/reminders.py) go to approved registrants only, and a reminder only before the
# start: one queued earlier is withheld when it is written (or retried) too late.
SCHEDULED = ("reminder", "followup_attended", "followup_missed")
ATTENDED = "followup_attended"  # the follow-up to those who attended: it carries the certificate link


def addressed(reg: Registration) -> Registration:
    """The registration as our e-mails print it: the name the registrant typed with its links made inert, since the
    address the e-mail goes to may not be theirs (a form is no spam relay: docs/security.md)."""
    first, last = reg.first_name, reg.last_name
    return dataclasses.replace(
        reg, first_name=inert(first) if first else first, last_name=inert(last) if last else last
    )


def _with_join_link(kind: str, reg: Registration) -> bool:
    """Whether this e-mail is the one with the join link and its calendar invitation: a confirmation, an approval,
    or a promotion from the waiting list that approved the registrant (not one that made them pending)."""
    return kind in WITH_JOIN_LINK or (kind == "promoted" and reg.status == "approved")


def _invitation(mailer: Mailer, event: Event, reg: Registration, url: str, organiser: str) -> str:
    """The registrant's calendar entry for the event as it is now: a request with the join link, or, once the event
    is cancelled, its cancellation. The same UID in every e-mail of the registrant, the event's current SEQUENCE."""
    return ics.render(_invitation_of(mailer, event, reg, url, organiser))


def _invitation_of(mailer: Mailer, event: Event, reg: Registration, url: str, organiser: str) -> ics.Invitation:
    address = parseaddr(mailer.settings.mail_from)[1]
    with i18n.use(reg.language):  # the calendar entry's text is in the registrant's language, like the e-mail
        if event.cancelled:
            note = _("This event has been cancelled by its organiser.")
            description = f"{event.title}\n\n{note}"
        else:
            description = (
                f"{event.title}\n\n{_('Your personal join link (keep it to yourself, it signs you in):')}\n{url}"
            )
        alarm = _("Starting in 15 minutes: %(title)s") % {"title": one_line(event.title)}
    return ics.Invitation(
        uid=f"event-{event.id}-registration-{reg.id}@{address.rpartition('@')[2] or 'localhost'}",
        title=event.title,
        description=description,
        url=url,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        organiser_name=organiser,
        organiser_email=address,
        attendee_email=reg.email or "",
        attendee_name=f"{reg.first_name or ''} {reg.last_name or ''}",
        stamp=now(),
        sequence=event.ics_sequence,
        cancelled=event.cancelled,
        alarm_text=alarm,
    )


def _starts_at(event: Event) -> str:
    """When the event starts, as every e-mail says it: in its time zone, in the active language."""
    return f"{i18n.local_datetime(event.starts_at, event.timezone, 'event')} ({event.timezone})"


def context_for(
    mailer: Mailer,
    kind: str,
    event: Event,
    reg: Registration,
    organiser: str,
    place: int | None,
    unsubscribe_url: str | None,
    logo: EmailLogo | None = None,
    passed: bool = False,
) -> dict[str, Any]:
    """What an e-mail's template is rendered with (its links real and signed)."""
    return {
        **event_context(mailer, event, organiser, reg.language, logo),
        **personal_context(mailer, kind, event, reg, place, unsubscribe_url, passed),
    }


def event_context(
    mailer: Mailer, event: Event, organiser: str, language: str, logo: EmailLogo | None = None
) -> dict[str, Any]:
    """The part of an e-mail's context that is the same for every registrant of the event in a language (with the
    organisation's logo for the HTML part, when it has one)."""
    with i18n.use(language):
        starts_at = _starts_at(event)
    return {
        "event": event,
        "organiser": organiser,
        "logo": logo,
        "event_url": f"{mailer.settings.base_url}/events/{event.slug}",
        "privacy_url": privacy_url(mailer.settings, event),
        "title": one_line(event.title),
        "starts_at": starts_at,
    }


def personal_context(
    mailer: Mailer,
    kind: str,
    event: Event,
    reg: Registration,
    place: int | None,
    unsubscribe_url: str | None,
    passed: bool = False,
) -> dict[str, Any]:
    """The part of an e-mail's context that is the registrant's own: them, their signed links, and what their
    certificate certifies when the e-mail links it (`passed`: they passed the event's final evaluation)."""
    going_ahead = not event.cancelled  # a cancelled event's join and cancel links do not work: none are sent
    with_link = going_ahead and _with_join_link(kind, reg)
    url = join_url(mailer.settings, event, reg) if going_ahead and (with_link or reg.status == "approved") else None
    may_cancel = going_ahead and kind in WITH_CANCEL_LINK and reg.status in CANCELLABLE and now() < event.ends_at
    with_after = kind in SCHEDULED or kind == messages.KIND  # staff's message may point to the replay, the certificate
    replay, certificate = after_links(mailer.settings, kind, event, reg) if with_after else (None, None)
    return {
        "registration": reg,
        "join_url": url,
        "unsubscribe_url": unsubscribe_url,
        "cancel_url": cancel_url(mailer.settings, event, reg) if may_cancel else None,
        "place": place,
        "replay_url": replay,
        "certificate_url": certificate,
        "certificate_kind": event.certificate_kind(passed) if certificate else None,
        "confirm_url": confirm_url(mailer.settings, event, reg) if reg.status == UNCONFIRMED and going_ahead else None,
    }


def placeholder_values(context: dict[str, Any]) -> dict[str, str]:
    """The value of each placeholder of an organiser's text, from the e-mail's context, in the active language."""
    reg: Registration = context["registration"]
    place = context.get("place")
    return {
        "first_name": reg.first_name or "",
        "last_name": reg.last_name or "",
        "event_title": context["title"],
        "starts_at": context["starts_at"],
        # Promoted while the organiser approves each registration: the link comes with the approval.
        "join_link": context["join_url"] or _("(your personal join link will come once your registration is approved)"),
        "cancel_link": context["cancel_url"] or "",
        "replay_link": context.get("replay_url") or "",
        "certificate_link": context.get("certificate_url") or "",
        "organisation": context["organiser"],
        "place": str(place) if place else "—",
    }


def render_for(
    mailer: Mailer, kind: str, context: dict[str, Any], language: str, written: EmailText | None
) -> Rendered:
    """Our template for the kind, or the organiser's text with its placeholders filled, in our layout."""
    if written is None:
        return render_email(mailer.env, kind, context, language)
    subject, body = placeholders.parse(written.subject)[0], placeholders.parse(written.body)[0]
    with i18n.use(language):
        values = placeholder_values(context)
    html = placeholders.to_html(body, values)
    text = placeholders.fill(body, values)
    return render_written(mailer.env, placeholders.fill(subject, values), text, html, context, language)


def compose(
    mailer: Mailer,
    kind: str,
    event: Event,
    reg: Registration,
    organiser: str,
    place: int | None = None,
    written: EmailText | None = None,
    logo: EmailLogo | None = None,
    passed: bool = False,
) -> Composed:
    """Render one registrant e-mail, from our template or from the organiser's text (`written`) when there is one
    (no database work: the caller knows the organiser's name, the text, for a waitlisted registrant their place on
    the waiting list, and for a follow-up with a certificate whether they passed the final evaluation)."""
    assert kind in KINDS and reg.email
    assert kind != messages.KIND or written is not None, "staff's message is their text: there is no template of ours"
    reg = addressed(reg)
    unsubscribe_url, headers = marketing_extras(mailer.settings, event, reg)
    context = context_for(mailer, kind, event, reg, organiser, place, unsubscribe_url, logo, passed)
    rendered = render_for(mailer, kind, context, reg.language, written)
    url = context["join_url"]
    invitation: str | None = None
    if kind == "event_cancelled":  # the calendar removes the entry it has (it had none: nothing happens)
        invitation = _invitation(mailer, event, reg, context["event_url"], organiser)
    elif url and _with_join_link(kind, reg):
        invitation = _invitation(mailer, event, reg, url, organiser)
    return Composed(rendered.subject, rendered.text, rendered.html, invitation, headers)


# The values a stencil leaves a marker for (webinar/mail/stencil.py): the registrant's name and personal links, and an
# organiser's text once its placeholders are filled. A falsy one is rendered as it is instead, and is part of the key.
NAMES = ("first_name", "last_name")
LINKS = ("join_url", "cancel_url", "unsubscribe_url", "replay_url", "certificate_url", "confirm_url")
WRITTEN = ("written_text", "written_html")


class _Stencils:
    """One e-mail of an event, kind and language rendered with markers, for every registrant of the same shape."""

    def __init__(self, mailer: Mailer, kind: str, shared: dict[str, Any], reg: Registration, personal: dict[str, Any],
                 written: EmailText | None) -> None:  # fmt: skip
        # Every personal value must be a marker, or one registrant's link would be written into everyone's e-mail.
        literal = {"registration", "place", "certificate_kind", *LINKS}  # certificate_kind: part of the stencil's key
        assert set(personal) <= literal, set(personal) - literal
        names: dict[str, Any] = {n: stencil.marker(n) if getattr(reg, n) else getattr(reg, n) for n in NAMES}
        marked = {**shared, **personal, **{n: stencil.marker(n) if personal[n] else personal[n] for n in LINKS}}
        marked["registration"] = dataclasses.replace(reg, **names)
        self.shared, self.checked, self.usable = shared, False, True
        env, language = mailer.env, reg.language
        if written is None:
            self.written = None
            self.subject = stencil.Stencil.cut(render_block(env, kind, "subject", marked, language), html=False)
            rendered = render_email(env, kind, marked, language)
        else:
            self.written = placeholders.parse(written.subject)[0], placeholders.parse(written.body)[0]
            self.subject = stencil.Stencil((), html=False)
            text, html = stencil.marker("written_text"), Markup(stencil.marker("written_html"))  # noqa: S704  # nosec B704
            rendered = render_written(env, "", text, html, marked, language)
        self.text = stencil.Stencil.cut(rendered.text, html=False)
        self.html = stencil.Stencil.cut(rendered.html, html=True)

    def fill(self, reg: Registration, personal: dict[str, Any]) -> Rendered:
        values = {n: getattr(reg, n) for n in NAMES} | {n: personal[n] for n in LINKS}
        if self.written is None:
            subject = self.subject.fill(values)
        else:
            with i18n.use(reg.language):
                filled = placeholder_values({**self.shared, **personal})
            subject = placeholders.fill(self.written[0], filled)
            values["written_text"] = placeholders.fill(self.written[1], filled)
            values["written_html"] = placeholders.to_html(self.written[1], filled)
        return Rendered(one_line(subject)[:300], self.text.fill(values), self.html.fill(values))


def _shape(kind: str, reg: Registration, personal: dict[str, Any], written: EmailText | None) -> tuple[Any, ...]:
    """What registrants share who can be written from one stencil: the kind, language, status, the organiser's text,
    and which of the values are there (a falsy one as it is: a template may test it)."""
    values = [getattr(reg, n) for n in NAMES] + [personal[n] for n in LINKS]
    return (
        kind,
        reg.language,
        reg.status,
        written,
        personal["certificate_kind"],
        *(v if not v else True for v in values),
    )


def compose_from_stencil(
    mailer: Mailer,
    kind: str,
    event: Event,
    reg: Registration,
    organiser: str,
    written: EmailText | None = None,
    logo: EmailLogo | None = None,
    passed: bool = False,
) -> Composed:
    """`compose` for one of many e-mails of an event written in one sender's pass: the templates rendered once per
    kind, language and shape (`Mailer.memo`), each registrant's values filled in. The first e-mail of each stencil
    is also composed the ordinary way; if they differ, which no template of ours does, the stencil is not used."""
    assert kind in KINDS and kind not in WITH_PLACE and reg.email and mailer.memo is not None
    reg = addressed(reg)
    unsubscribe_url, headers = marketing_extras(mailer.settings, event, reg)
    personal = personal_context(mailer, kind, event, reg, None, unsubscribe_url, passed)
    key = ("stencil", event, organiser, logo, _shape(kind, reg, personal, written))
    stencils: _Stencils | None = _stencils(mailer).get(key)
    if stencils is None:
        shared = event_context(mailer, event, organiser, reg.language, logo)
        stencils = _stencils(mailer)[key] = _Stencils(mailer, kind, shared, reg, personal, written)
    if not stencils.usable:
        return compose(mailer, kind, event, reg, organiser, None, written, logo, passed)
    rendered = stencils.fill(reg, personal)
    url = personal["join_url"]
    invitation: str | None = None
    if kind == "event_cancelled":
        invitation = _invitation_from_stencil(mailer, event, reg, stencils.shared["event_url"], organiser)
    elif url and _with_join_link(kind, reg):
        invitation = _invitation_from_stencil(mailer, event, reg, url, organiser)
    composed = Composed(rendered.subject, rendered.text, rendered.html, invitation, headers)
    if not stencils.checked:
        stencils.checked = True
        ordinary = compose(mailer, kind, event, reg, organiser, None, written, logo, passed)
        if dataclasses.replace(ordinary, ics=None) != dataclasses.replace(composed, ics=None):
            log.warning("event #%s: its %s e-mails cannot be written from a stencil, one by one", event.id, kind)
            stencils.usable = False
            return ordinary
    return composed


STENCILS_KEPT = 256  # stencils a sender keeps from pass to pass at most (a few per event, kind and language)


def _stencils(mailer: Mailer) -> dict[Any, Any]:
    """Where the stencils go: what the sender keeps from pass to pass when it does (each keyed by all it was made
    from, so an event changed since gets new ones), the pass's memo otherwise."""
    if mailer.kept is None:
        assert mailer.memo is not None
        return mailer.memo
    if len(mailer.kept) >= STENCILS_KEPT:
        mailer.kept.clear()
    return mailer.kept


def _invitation_from_stencil(mailer: Mailer, event: Event, reg: Registration, url: str, organiser: str) -> str:
    """`_invitation`, from the event's calendar stencil of this pass (`ics.Stencil`, which checks itself)."""
    assert mailer.memo is not None
    invitation = _invitation_of(mailer, event, reg, url, organiser)
    key = ("ics", ics.shared_part(invitation))
    calendar: ics.Stencil | None = _stencils(mailer).get(key)
    if calendar is None:
        calendar = _stencils(mailer)[key] = ics.Stencil(invitation)
    return calendar.fill(invitation)


def after_links(settings: Settings, kind: str, event: Event, reg: Registration) -> tuple[str | None, str | None]:
    """The replay link and the certificate link of the follow-up e-mails, when the event has them: the replay
    plays on the gated stream page after the end until `replay_until` (SPEC §13), so its link is the personal join
    link, which signs the attendee in and lasts as long. The certificate link goes to those who attended, when the
    event issues certificates: a signed link of its own (`links/certificate.py`) that downloads it without a session.
    The templates (`emails/followup_*.{txt,html}`) show each link when it is not None."""
    replay = None
    if event.replay_url and (event.replay_until is None or now() < event.replay_until):
        replay = join_url(settings, event, reg)
    certificate = certificate_url(settings, event, reg) if kind == ATTENDED and event.certificates else None
    return replay, certificate


def first_kind(status: str) -> str:
    """The e-mail a new registration gets: its confirmation (with the join link), a receipt while it awaits
    approval, or its place on the waiting list."""
    return {"approved": "confirmation", "waitlisted": "waitlisted", UNCONFIRMED: "confirm_registration"}.get(
        status, "received"
    )


def queued_row(
    settings: Settings, kind: str, event_id: int, reg_id: int, to_address: str, at: dt.datetime | None = None
) -> dict[str, Any]:
    """The outbox row of a registrant e-mail, left for the sender to compose (`compose_queued`)."""
    assert kind in KINDS
    return outbox.row_values(
        kind=kind, to_address=to_address, mail_from=settings.mail_from, event_id=event_id, registration_id=reg_id,
        at=at,
    )  # fmt: skip


async def queue(conn: Connection, mailer: Mailer, kind: str, event: Event, reg: Registration) -> int:
    """Put one registrant e-mail in the outbox (inside the caller's transaction). The sender writes it when it
    sends it, so a request renders nothing and the e-mail shows the event and registration as they are then."""
    assert reg.email
    return await outbox.enqueue_row(conn, queued_row(mailer.settings, kind, event.id, reg.id, reg.email))


def not_to_send(kind: str, event: Event, reg: Registration) -> str | None:
    """Why a queued e-mail is not to go now after all (None: it goes): its event was cancelled since, an update or a
    scheduled e-mail reaches a registrant who is no longer approved, or a reminder is written after the start."""
    if event.cancelled and kind not in STILL_SENT_WHEN_CANCELLED:
        return "the event was cancelled"
    if (kind == "update" or kind in SCHEDULED) and reg.status != "approved":
        return f"not sent: the registration is {reg.status}"
    if kind == "reminder" and now() >= event.starts_at:
        return "not sent: the event had started"
    if kind == "confirm_registration" and reg.status != UNCONFIRMED:
        return f"not sent: the registration is {reg.status}"
    return None


async def compose_queued(conn: Connection, mailer: Mailer, msg: outbox.Message) -> Composed | Dropped | None:
    """A queued registrant e-mail, written now; None when its registrant was erased or is gone, Dropped when it is
    not to go any more (`not_to_send`)."""
    assert msg.kind in KINDS and msg.event_id is not None and msg.registration_id is not None
    event, organiser, logo = await _event_of(conn, mailer, msg.event_id)
    reg = await _registration_of(conn, mailer, msg)
    if event is None or reg is None or reg.email is None:
        return None
    if (reason := not_to_send(msg.kind, event, reg)) is not None:
        return Dropped(reason)
    place = await registration_queries.place_in_line(conn, reg) if msg.kind in WITH_PLACE else None
    if msg.kind == messages.KIND:
        written = await _message_of(conn, mailer, msg.event_message_id)
        if written is None:
            return Dropped("the message is gone")
    else:
        written = (
            await _text_of(conn, mailer, event.id, msg.kind, reg.language) if msg.kind in editable.BY_KIND else None
        )
    passed = (
        await _passed(conn, mailer, msg) if msg.kind == ATTENDED and event.certificates and event.evaluation else False
    )
    if mailer.memo is not None and msg.kind not in WITH_PLACE:  # one of a pass's e-mails: many alike
        return compose_from_stencil(mailer, msg.kind, event, reg, organiser, written, logo, passed)
    return compose(mailer, msg.kind, event, reg, organiser, place, written, logo, passed)


async def _event_of(conn: Connection, mailer: Mailer, event_id: int) -> tuple[Event | None, str, EmailLogo | None]:
    """The event, its organiser's name and logo, read once per sender's pass (`Mailer.memo`) rather than once per
    e-mail."""
    if mailer.memo is not None and (kept := mailer.memo.get(("event", event_id))) is not None:
        return kept
    event = await event_queries.by_id(conn, event_id)
    org = await event_queries.organisation(conn, event.organisation_id) if event else None
    brand = await branding_queries.of_organisation(conn, event.organisation_id) if event else None
    found = (event, org.name if org else "", brand.email_logo(mailer.settings.base_url) if brand else None)
    if mailer.memo is not None and event is not None:
        mailer.memo[("event", event_id)] = found
    return found


async def _registration_of(conn: Connection, mailer: Mailer, msg: outbox.Message) -> Registration | None:
    """The message's registrant as they are now. In a sender's pass, the registrants of the lane's whole claim
    (`Mailer.batch`) of the same event are read at once, on the first of its messages, rather than one per e-mail."""
    assert msg.event_id is not None and msg.registration_id is not None
    if mailer.memo is None or not mailer.batch:
        return await registration_queries.by_id(conn, msg.event_id, msg.registration_id)
    key = ("registration", msg.event_id, msg.registration_id)
    if key not in mailer.memo:
        wanted = {msg.registration_id}
        wanted.update(m.registration_id for m in mailer.batch if m.event_id == msg.event_id and m.registration_id)
        found = await registration_queries.by_ids(conn, msg.event_id, wanted)
        mailer.memo.update({("registration", msg.event_id, i): found.get(i) for i in wanted})
    reg: Registration | None = mailer.memo.pop(key)  # each message of a pass is written once
    return reg


async def _message_of(conn: Connection, mailer: Mailer, message_id: int | None) -> EmailText | None:
    """Staff's message to the registrants, read once per sender's pass."""
    if message_id is None:
        return None
    key = ("message", message_id)
    if mailer.memo is not None and key in mailer.memo:
        kept: EmailText | None = mailer.memo[key]
        return kept
    found = await messages.by_id(conn, message_id)
    written = found.as_text() if found else None
    if mailer.memo is not None:
        mailer.memo[key] = written
    return written


async def _passed(conn: Connection, mailer: Mailer, msg: outbox.Message) -> bool:
    """Whether the message's registrant passed the event's final evaluation (their certificate is then a completion
    one); in a sender's pass, read for the lane's whole claim at once, as `_registration_of` reads the registrants."""
    assert msg.registration_id is not None
    if mailer.memo is None or not mailer.batch:
        return bool(await registration_queries.passed_evaluation(conn, [msg.registration_id]))
    key = ("passed", msg.registration_id)
    if key not in mailer.memo:
        wanted = {msg.registration_id} | {m.registration_id for m in mailer.batch if m.registration_id}
        passed = await registration_queries.passed_evaluation(conn, wanted)
        mailer.memo.update({("passed", i): i in passed for i in wanted})
    return bool(mailer.memo.pop(key))


async def _text_of(conn: Connection, mailer: Mailer, event_id: int, kind: str, language: str) -> EmailText | None:
    """The organiser's text for the e-mail (None: ours), read once per sender's pass and kind and language."""
    if mailer.memo is None:
        return await texts.current(conn, event_id, kind, language)
    key = ("text", event_id, kind, language)
    if key not in mailer.memo:
        mailer.memo[key] = await texts.current(conn, event_id, kind, language)
    written: EmailText | None = mailer.memo[key]
    return written
