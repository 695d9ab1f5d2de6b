"""The registration form: parse and validate one submission against an event's rules → (data, errors)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import FormData

from webinar.events.queries import ConsentText, Event
from webinar.i18n import gettext as _
from webinar.i18n import ngettext
from webinar.web.forms import has_control_chars, text

OPTIONAL_FIELDS = ("job_title", "member_id", "organisation", "phone")
TEXT_FIELDS = ("first_name", "last_name", "email", *OPTIONAL_FIELDS)
PHONE_CHARS = re.compile(r"^[0-9 +\-()]+$")
NAME_MAX, EMAIL_MAX, FIELD_MAX = 100, 254, 200
PASSWORD_MIN, PASSWORD_MAX = 8, 128


def typed_values(form: FormData | None) -> dict[str, str]:
    """What the visitor typed, to put back into the form (never the password)."""
    values = {name: text(form, name) if form is not None else "" for name in TEXT_FIELDS}
    values["consent_marketing"] = "on" if form is not None and form.get("consent_marketing") else ""
    values["consent_processing"] = "on" if form is not None and form.get("consent_processing") else ""
    values["age_confirmed"] = "on" if form is not None and form.get("age_confirmed") else ""
    return values


def _name(value: str, errors: dict[str, str], field: str) -> None:
    if not value:
        errors[field] = _("Please enter your name.") if field == "first_name" else _("Please enter your last name.")
    elif len(value) > NAME_MAX:
        errors[field] = ngettext(
            "Please use at most %(n)s character.", "Please use at most %(n)s characters.", NAME_MAX
        ) % {"n": NAME_MAX}
    elif has_control_chars(value):
        errors[field] = _("This contains characters that are not allowed.")


def _email(value: str, errors: dict[str, str]) -> None:
    if not value:
        errors["email"] = _("Please enter your e-mail address.")
    elif len(value) > EMAIL_MAX:
        errors["email"] = ngettext(
            "An e-mail address has at most %(n)s character.",
            "An e-mail address has at most %(n)s characters.",
            EMAIL_MAX,
        ) % {"n": EMAIL_MAX}
    elif has_control_chars(value):
        errors["email"] = _("This contains characters that are not allowed.")
    else:
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            errors["email"] = _("Please enter a valid e-mail address, like name@example.org.")


def _optional(event: Event, form: FormData, field: str, errors: dict[str, str]) -> str | None:
    mode = event.field_mode(field)
    if mode == "hidden":
        return None
    value = text(form, field)
    if not value:
        if mode == "required":
            errors[field] = _("This field is required.")
        return None
    if len(value) > FIELD_MAX:
        errors[field] = ngettext(
            "Please use at most %(n)s character.", "Please use at most %(n)s characters.", FIELD_MAX
        ) % {"n": FIELD_MAX}
    elif has_control_chars(value):
        errors[field] = _("This contains characters that are not allowed.")
    elif field == "phone" and not (PHONE_CHARS.match(value) and 6 <= sum(ch.isdigit() for ch in value) <= 20):
        errors[field] = _("Use digits, spaces and + - ( ) only, with 6 to 20 digits.")
    return value


def _password(event: Event, form: FormData, errors: dict[str, str]) -> str | None:
    raw = form.get("password")
    if event.login != "link_and_password" or not isinstance(raw, str) or raw == "":
        return None
    if not PASSWORD_MIN <= len(raw) <= PASSWORD_MAX:
        errors["password"] = _("A password needs %(min)s to %(max)s characters (or leave it empty).") % {
            "min": PASSWORD_MIN,
            "max": PASSWORD_MAX,
        }
    elif has_control_chars(raw):
        errors["password"] = _("This contains characters that are not allowed.")
    return raw


def stale_consent_message() -> str:
    """Shown when the consent wording changed between showing the form and sending it."""
    return _("The consent text changed while you were filling in the form. Please read the new text and agree again.")


def _consents(event: Event, form: FormData, consent: ConsentText, errors: dict[str, str]) -> int:
    version_raw = text(form, "consent_version")
    version = int(version_raw) if version_raw.isdigit() and len(version_raw) < 9 else 0
    if not form.get("consent_processing"):
        errors["consent_processing"] = _("Please agree to the processing of your data, or we cannot register you.")
    elif version != consent.version:
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
    """The personal fields of a registration, as typed (valid once no error was reported for them)."""

    first_name: str
    last_name: str
    email: str
    job_title: str | None
    member_id: str | None
    organisation: str | None
    phone: str | None


@dataclass(frozen=True)
class RegistrationData(PersonalDetails):
    """A valid registration as typed, ready for the service (the password still in clear, never stored so)."""

    password: str | None
    consent_version: int
    marketing: bool
    age_confirmed: bool


def parse_details(form: FormData, event: Event, errors: dict[str, str]) -> PersonalDetails:
    """Validate the personal fields (names, e-mail, the event's extra fields) by the registration rules.

    Shared by the registration form and the attendee's correction form on /me, so both apply the same rules.
    """
    first, last, email = text(form, "first_name"), text(form, "last_name"), text(form, "email")
    _name(first, errors, "first_name")
    _name(last, errors, "last_name")
    _email(email, errors)
    extra = {field: _optional(event, form, field, errors) for field in OPTIONAL_FIELDS}
    return PersonalDetails(first_name=first, last_name=last, email=email, **extra)


def parse(form: FormData, event: Event, consent: ConsentText) -> tuple[RegistrationData | None, dict[str, str]]:
    """Validate a submission; returns the data, or None and a message per bad field."""
    errors: dict[str, str] = {}
    details = parse_details(form, event, errors)
    password = _password(event, form, errors)
    version = _consents(event, form, consent, errors)
    if errors:
        return None, errors
    data = RegistrationData(
        password=password,
        consent_version=version,
        marketing=bool(form.get("consent_marketing")),
        age_confirmed=bool(event.min_age and form.get("age_confirmed")),
        **asdict(details),
    )
    return data, errors
