"""The registration form: parse and validate one submission against an event's rules → (data, errors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from starlette.datastructures import FormData

from webinar.events.queries import Consents, Event
from webinar.i18n import gettext as _
from webinar.i18n import ngettext
from webinar.registration.fields import FIELDS, NAMES
from webinar.registration.questions import Question, parse_answers
from webinar.web.forms import text


def typed_values(form: FormData | None) -> dict[str, str]:
    """What the visitor typed, to put back into the form."""
    values = {name: text(form, name) if form is not None else "" for name in NAMES}
    values["consent_marketing"] = "on" if form is not None and form.get("consent_marketing") else ""
    values["consent_processing"] = "on" if form is not None and form.get("consent_processing") else ""
    values["age_confirmed"] = "on" if form is not None and form.get("age_confirmed") else ""
    return values


def stale_consent_message() -> str:
    """Shown when the consent wording changed between showing the form and sending it."""
    return _("The consent text changed while you were filling in the form. Please read the new text and agree again.")


def _consents(event: Event, form: FormData, consents: Consents, errors: dict[str, str]) -> int:
    """The version of the consent text ticked: one of the event's current texts, in either language (the one the
    form showed); an old, removed or made-up version is refused."""
    version_raw = text(form, "consent_version")
    version = int(version_raw) if version_raw.isascii() and version_raw.isdigit() and len(version_raw) < 9 else 0
    if not form.get("consent_processing"):
        errors["consent_processing"] = _("Please agree to the processing of your data, or we cannot register you.")
    elif consents.by_version(version) is None:
        errors["consent_processing"] = stale_consent_message()
    if event.min_age and not form.get("age_confirmed"):
        errors["age_confirmed"] = ngettext(
            "Please confirm that you are at least %(age)s year old.",
            "Please confirm that you are at least %(age)s years old.",
            event.min_age,
        ) % {"age": event.min_age}
    return version


@dataclass(frozen=True)
class PersonalDetails:
    """The personal fields of a registration, as typed (valid once no error was reported for them): one typed
    attribute per declaration of registration/fields.py."""

    first_name: str
    last_name: str
    email: str
    job_title: str | None
    member_id: str | None
    organisation: str | None
    phone: str | None


@dataclass(frozen=True)
class RegistrationData(PersonalDetails):
    """A valid registration as typed, ready for the service. It has no password: one is set only once the mailbox
    is proven, after a join-link login (access/password.py), never on this unverified form."""

    consent_version: int  # the consent text ticked (its language is the text's): events/queries.py Consents
    marketing: bool
    age_confirmed: bool
    answers: Mapping[int, str]  # the event's custom questions answered: question id → stored text


def parse_details(form: FormData, event: Event, errors: dict[str, str]) -> PersonalDetails:
    """Validate the personal fields (names, e-mail, the event's extra fields) by their declared rules.

    Shared by the registration form and the attendee's correction form on /me, so both apply the same rules.
    """
    values = {field.name: field.parse(form, event, errors) for field in FIELDS}
    # An always-required field parses to a str, never None, as PersonalDetails types it.
    return PersonalDetails(**cast(dict[str, Any], values))


def parse(
    form: FormData, event: Event, consents: Consents, questions: Sequence[Question]
) -> tuple[RegistrationData | None, dict[str, str]]:
    """Validate a submission against the event and the questions it asks; returns the data, or None and a message
    per bad field."""
    errors: dict[str, str] = {}
    details = parse_details(form, event, errors)
    answers = parse_answers(form, questions, errors)
    version = _consents(event, form, consents, errors)
    if errors:
        return None, errors
    data = RegistrationData(
        consent_version=version,
        marketing=bool(form.get("consent_marketing")),
        age_confirmed=bool(event.min_age and form.get("age_confirmed")),
        answers=answers,
        **asdict(details),
    )
    return data, errors
