"""The personal fields of a registration, each declared once: the forms, pages, exports and erasure read them here.

A field's `name` is at once its form input, its `registrations` column, its attribute on the typed records
(`Registration`, `PersonalDetails`) and its key in export.json's "registration" object. A configurable field's
per-event choice lives in the `events.field_<name>` column. tests/webinar/test_fields.py walks `FIELDS` and
proves each one reaches the form, the database, the reports, /me, export.json and the registrant page, and
that erasure removes it.

SPEC §11's custom questions will be rows of data beside these: anything with a `name`, a `header`, a
`title()` and a `value_of(registration)` (the `Item` protocol) can stand in the same lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import FormData

from webinar.events.queries import Event
from webinar.i18n import N_, gettext, ngettext
from webinar.web.forms import has_control_chars, text

# The per-event choices of a configurable field (tables.FIELD_MODES holds the same three for the schema).
REQUIRED, OPTIONAL, HIDDEN = "required", "optional", "hidden"
# The reports a field may appear in: the identifiers of reports/exporters.py.
REGISTERED, ACTIVE, TRAFFIC, ATTENDANCE = "registered", "active", "traffic", "attendance"
PHONE_CHARS = re.compile(r"^[0-9 +\-()]+$")


class Item(Protocol):
    """What a form, a page or an export needs of one item of a registration: a declared field, or later a
    custom question."""

    @property
    def name(self) -> str: ...

    @property
    def header(self) -> str: ...

    def title(self) -> str: ...

    def value_of(self, registration: object) -> str | None: ...


def at_most(n: int) -> str:
    """The message for a value longer than `n` characters."""
    return ngettext("Please use at most %(n)s character.", "Please use at most %(n)s characters.", n) % {"n": n}


def address_at_most(n: int) -> str:
    """The message for an e-mail address longer than `n` characters."""
    return ngettext(
        "An e-mail address has at most %(n)s character.", "An e-mail address has at most %(n)s characters.", n
    ) % {"n": n}


def valid_address(value: str) -> str | None:
    """Syntax only: no DNS look-up (SPEC §3), so a registration never waits on someone else's name server."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return gettext("Please enter a valid e-mail address, like name@example.org.")
    return None


def valid_phone(value: str) -> str | None:
    """Digits, spaces and + - ( ), with 6 to 20 digits."""
    if PHONE_CHARS.match(value) and 6 <= sum(ch.isdigit() for ch in value) <= 20:
        return None
    return gettext("Use digits, spaces and + - ( ) only, with 6 to 20 digits.")


@dataclass(frozen=True)
class PersonalField:
    """One personal field of a registration. Labels are msgids (N_), translated where they are shown."""

    name: str
    label: str  # on the public form and on /me
    header: str  # its column in the reports (SPEC §5): English in every language, a public contract
    max_length: int
    staff_label: str = ""  # the back office's wording, where it differs from `label`
    configurable: bool = False  # asked per event (required / optional / hidden), else always required
    mode_label: str = ""  # the event form's label for that per-event choice
    default_mode: str = OPTIONAL  # a new event's choice (the column's server default in tables.py agrees)
    reports: tuple[str, ...] = (REGISTERED,)
    name_part: bool = False  # part of the person's name: pages show the parts together, as their name
    identifies: bool = False  # the person's key at the event (unique; where their links go): first in each report
    personal: bool = True  # personal data: in export.json, and erased (set to NULL) with the person
    input_type: str = "text"
    autocomplete: str = "off"
    missing: str = N_("This field is required.")  # when required and left empty
    too_long: Callable[[int], str] = at_most
    rule: Callable[[str], str | None] | None = None  # what a valid value must also be; its message, or None

    @property
    def mode_column(self) -> str:
        """The events column holding a configurable field's per-event choice."""
        return f"field_{self.name}"

    def mode(self, event: Event) -> str:
        """How the event asks for this field: required, optional or hidden."""
        return event.field_mode(self.name) if self.configurable else REQUIRED

    def title(self) -> str:
        """The label in the active language."""
        return gettext(self.label)

    def staff_title(self) -> str:
        """The back office's label in the active language."""
        return gettext(self.staff_label or self.label)

    def mode_title(self) -> str:
        """The event form's label for the per-event choice, in the active language."""
        return gettext(self.mode_label)

    def value_of(self, registration: object) -> str | None:
        """This field's value in any record that carries it (a registration, a report row, typed details)."""
        value: str | None = getattr(registration, self.name)
        return value

    def problem(self, value: str, required: bool) -> str | None:
        """What is wrong with a trimmed value, as the message shown beside the field; None when it is fine."""
        if not value:
            return gettext(self.missing) if required else None
        if len(value) > self.max_length:
            return self.too_long(self.max_length)
        if has_control_chars(value):
            return gettext("This contains characters that are not allowed.")
        return self.rule(value) if self.rule else None

    def parse(self, form: FormData, event: Event, errors: dict[str, str]) -> str | None:
        """The value as typed, its error put in `errors`; None when the event does not ask it or it was left empty
        (an always-required field keeps '' instead, so its value stays a string)."""
        mode = self.mode(event)
        if mode == HIDDEN:
            return None
        value = text(form, self.name)
        if problem := self.problem(value, mode == REQUIRED):
            errors[self.name] = problem
        return value if value or not self.configurable else None


FIELDS: tuple[PersonalField, ...] = (
    PersonalField(
        "first_name", N_("First name"), "First name", 100,
        missing=N_("Please enter your name."), name_part=True, reports=(REGISTERED, ACTIVE, TRAFFIC, ATTENDANCE),
        autocomplete="given-name",
    ),
    PersonalField(
        "last_name", N_("Last name"), "Last name", 100,
        missing=N_("Please enter your last name."), name_part=True,
        reports=(REGISTERED, ACTIVE, TRAFFIC, ATTENDANCE),
        autocomplete="family-name",
    ),
    PersonalField(
        "email", N_("E-mail address"), "Email", 254, staff_label=N_("E-mail"),
        missing=N_("Please enter your e-mail address."), too_long=address_at_most, rule=valid_address,
        identifies=True, reports=(REGISTERED, ACTIVE, TRAFFIC, ATTENDANCE), input_type="email", autocomplete="email",
    ),
    PersonalField(
        "job_title", N_("Job title"), "Job title", 200,
        configurable=True, mode_label=N_("Job title field"), autocomplete="organization-title",
    ),
    PersonalField(
        "member_id", N_("Membership / badge number"), "Member ID", 200, staff_label=N_("Member ID"),
        configurable=True, mode_label=N_("Member ID field"), default_mode=HIDDEN, reports=(REGISTERED, ATTENDANCE),
    ),
    PersonalField(
        "organisation", N_("Organisation"), "Organisation", 200,
        configurable=True, mode_label=N_("Organisation field"), reports=(REGISTERED, ACTIVE, ATTENDANCE),
        autocomplete="organization",
    ),
    PersonalField(
        "phone", N_("Phone"), "Phone", 40, rule=valid_phone,  # its column's width: 20 digits and their separators
        configurable=True, mode_label=N_("Phone field"), default_mode=HIDDEN, input_type="tel", autocomplete="tel",
    ),
)  # fmt: skip
CONFIGURABLE = tuple(f for f in FIELDS if f.configurable)
NAMES = tuple(f.name for f in FIELDS)


def report_fields(report: str) -> tuple[PersonalField, ...]:
    """The fields a report shows, in column order: the identifying one (the e-mail) first, then the form's order."""
    shown = [f for f in FIELDS if report in f.reports]
    return tuple(sorted(shown, key=lambda f: not f.identifies))  # sorted() is stable: the rest keep their order


def headers(report: str) -> tuple[str, ...]:
    """The report's header cells for its personal fields."""
    return tuple(f.header for f in report_fields(report))


def default_modes(**changes: str) -> dict[str, str]:
    """The `field_<name>` values of a new event, as the declarations set them, with `changes` by field name."""
    unknown = set(changes) - {f.name for f in CONFIGURABLE}
    if unknown:
        raise ValueError(f"not configurable fields: {sorted(unknown)}")
    return {f.mode_column: changes.get(f.name, f.default_mode) for f in CONFIGURABLE}


def erased_values() -> dict[str, None]:
    """What erasure writes over the personal fields of a registration."""
    return {f.name: None for f in FIELDS if f.personal}
