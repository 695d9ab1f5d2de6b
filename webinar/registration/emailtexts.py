"""What the e-mail text editor shows: our default text in placeholder form, and e-mails written for a sample registrant
(the preview and the test send), through the same composer as every real e-mail."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from webinar import i18n
from webinar.clock import now
from webinar.events.queries import Event
from webinar.mail import placeholders
from webinar.mail.editable import Editable
from webinar.mail.render import Composed, Mailer, one_line, render_block
from webinar.mail.texts import EmailText
from webinar.registration.notifications import context_for, placeholder_values, render_for
from webinar.registration.queries import Registration
from webinar.registration.seats import seat_status

SAMPLE_NAMES = {"ro": ("Ioana", "Popescu"), "en": ("Jane", "Smith")}
SAMPLE_PLACE = 3
SAMPLE_TOKEN = "sample-link"  # noqa: S105  # nosec B105 - not a signed token: the links of a preview or a test e-mail lead nowhere
SAMPLE_STATUS = {"received": "pending", "rejected": "rejected", "waitlisted": "waitlisted", "cancelled": "cancelled"}
_MARK = re.compile("\ue000([a-z_]+)\ue001")  # private-use characters: no translation or title holds them


def _mark(name: str) -> str:
    return f"\ue000{name}\ue001"


def _status(kind: Editable, event: Event) -> str:
    """The status a registrant has when this e-mail goes (a promotion: the one the event's approval gives)."""
    if kind.kind == "promoted":
        return seat_status(event.approval)
    return SAMPLE_STATUS.get(kind.kind, "approved")


def sample_registration(kind: Editable, event: Event, language: str) -> Registration:
    """A registrant who never registered, in the status this e-mail finds them in."""
    at = now()
    sample_first, sample_last = SAMPLE_NAMES[language]
    return Registration(
        id=0, event_id=event.id, email="sample@example.org", email_normalised="sample@example.org",
        first_name=sample_first, last_name=sample_last, job_title=None, member_id=None,
        organisation=None, phone=None, status=_status(kind, event), marketing_opt_in=False, token_version=1,
        language=language, created_at=at, updated_at=at, decided_at=None, erased_at=None,
    )  # fmt: skip


def _sample_context(mailer: Mailer, kind: Editable, event: Event, organiser: str, language: str) -> dict[str, Any]:
    """The e-mail's context for the sample registrant, with sample links (no signed link is made for nobody)."""
    reg = sample_registration(kind, event, language)
    context = context_for(mailer, kind.kind, event, reg, organiser, SAMPLE_PLACE, None)
    base = f"{mailer.settings.base_url}/events/{event.slug}"
    for link, path in (("join_url", "join"), ("cancel_url", "cancel")):
        if context[link]:
            context[link] = f"{base}/{path}/{SAMPLE_TOKEN}"
    return context


def sample_values(mailer: Mailer, kind: Editable, event: Event, organiser: str, language: str) -> dict[str, str]:
    """The placeholders' values for the sample registrant (what the preview fills in)."""
    with i18n.use(language):
        return placeholder_values(_sample_context(mailer, kind, event, organiser, language))


def compose_sample(
    mailer: Mailer, kind: Editable, event: Event, organiser: str, language: str, written: EmailText | None
) -> Composed:
    """The e-mail the sample registrant would get: from the organiser's text when given, our template otherwise."""
    context = _sample_context(mailer, kind, event, organiser, language)
    rendered = render_for(mailer, kind.kind, context, language, written)
    return Composed(rendered.subject, rendered.text, rendered.html, None, {})


def default_text(mailer: Mailer, kind: Editable, event: Event, language: str) -> tuple[str, str]:
    """Our template for this e-mail as an organiser's text: its subject and body with placeholders where the values
    go, so that filling them in gives back what we send (tests/webinar/test_email_texts.py checks it)."""
    context = _sample_context(mailer, kind, event, _mark("organisation"), language)
    marked = {"first_name": _mark("first_name"), "last_name": _mark("last_name")}
    context["registration"] = dataclasses.replace(context["registration"], **marked)
    context |= {"title": _mark("event_title"), "starts_at": _mark("starts_at"), "place": _mark("place")}
    if context["join_url"]:
        context["join_url"] = _mark("join_link")
    if context["cancel_url"]:
        context["cancel_url"] = _mark("cancel_link")
    subject = render_block(mailer.env, kind.kind, "subject", context, language)
    body = render_block(mailer.env, kind.kind, "body", context, language).strip("\n")
    return one_line(_placeholder_form(subject)), _placeholder_form(body)  # one_line drops the marks' characters


def _placeholder_form(rendered: str) -> str:
    return _MARK.sub(r"{\1}", placeholders.escape_braces(rendered))
