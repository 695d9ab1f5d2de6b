"""The correction form on /me: the registration form's personal fields and questions, by the very same rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.datastructures import FormData

from webinar.events.queries import Event
from webinar.registration.fields import FIELDS, NAMES
from webinar.registration.forms import PersonalDetails, parse_details
from webinar.registration.queries import Registration
from webinar.registration.questions import Question, parse_answers
from webinar.web.forms import text


@dataclass(frozen=True)
class Correction:
    """A valid correction: the personal fields as they should be, the marketing choice, and the answers to the
    questions the event asks now."""

    details: PersonalDetails
    marketing: bool
    answers: Mapping[int, str]


def parse(form: FormData, event: Event, asked: Sequence[Question]) -> tuple[Correction | None, dict[str, str]]:
    """Validate a correction; returns the data, or None and a message per bad field."""
    errors: dict[str, str] = {}
    details = parse_details(form, event, errors)
    answers = parse_answers(form, asked, errors)
    if errors:
        return None, errors
    return Correction(details, bool(form.get("consent_marketing")), answers), errors


def values_of(reg: Registration) -> dict[str, str]:
    """The form's values from the stored registration."""
    values = {field.name: field.value_of(reg) or "" for field in FIELDS}
    values["consent_marketing"] = "on" if reg.marketing_opt_in else ""
    return values


def typed_values(form: FormData) -> dict[str, str]:
    """What the attendee typed, to show again beside the errors."""
    values = {name: text(form, name) for name in NAMES}
    values["consent_marketing"] = "on" if form.get("consent_marketing") else ""
    return values
