"""The form of staff's message to an event's registrants: parse and validate → (the message | None, errors, values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from admin.email_forms import parse_email_text
from webinar.i18n import gettext as _
from webinar.mail.editable import MESSAGE
from webinar.tables import MESSAGE_AUDIENCES
from webinar.web.forms import text


@dataclass(frozen=True)
class MessageInput:
    """Who the message goes to (one of MESSAGE_AUDIENCES), and its checked subject and body."""

    audience: str
    subject: str
    body: str


def parse_message_form(form: FormData) -> tuple[MessageInput | None, dict[str, str], dict[str, Any]]:
    """Validate the audience, and the subject and body as an organiser's e-mail text with every placeholder of SPEC
    §12 (an unknown one is named in the error)."""
    audience = text(form, "audience") or "all"
    written, errors, values = parse_email_text(form, MESSAGE)
    values["audience"] = audience
    if audience not in MESSAGE_AUDIENCES:
        errors = {**errors, "audience": _("Choose who receives the message.")}
    if written is None or errors:
        return None, errors, values
    return MessageInput(audience, written.subject, written.body), {}, values
