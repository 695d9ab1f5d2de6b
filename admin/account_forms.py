"""The organisation and staff-account forms: parse and validate → (data | None, errors by field, values)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import FormData

from admin.forms import FieldReader
from webinar.accounts.provisioning import password_problem, staff_problems
from webinar.i18n import gettext as _
from webinar.web.forms import has_control_chars, text

# The rule texts of webinar.accounts.provisioning (shared with the command line), as form messages.
_STAFF_MESSAGES = {
    "email": lambda: _("Enter a valid e-mail address."),
    "password": lambda: _("The password must have from 12 to 128 characters."),
    "role": lambda: _("Choose operator or organiser."),
}


@dataclass(frozen=True)
class OrganisationInput:
    """A new client organisation, validated."""

    name: str
    slug: str
    contact_email: str


@dataclass(frozen=True)
class StaffInput:
    """A new staff account, validated (the password still in clear: hash it before storing)."""

    email: str
    password: str
    role: str
    organisation_id: int | None


def _email(reader: FieldReader, name: str) -> str:
    value = reader.text(name, 254)
    if name in reader.errors:
        return value
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        reader.errors[name] = _("Enter a valid e-mail address.")
        return value


def parse_organisation_form(form: FormData) -> tuple[OrganisationInput | None, dict[str, str], dict[str, Any]]:
    """Validate the new-organisation form (the slug's uniqueness is checked when storing)."""
    reader = FieldReader(form)
    name = reader.text("name", 200)
    slug = reader.slug("slug", 100, required=True)
    contact_email = _email(reader, "contact_email")
    if reader.errors:
        return None, reader.errors, reader.values
    return OrganisationInput(name, slug, contact_email), {}, reader.values


def parse_staff_form(
    form: FormData, organisation_ids: Collection[int]
) -> tuple[StaffInput | None, dict[str, str], dict[str, Any]]:
    """Validate the new-staff-account form with the same rules as `webinar create-user`."""
    email, role, org = text(form, "email"), text(form, "role"), text(form, "organisation_id")
    password = form.get("password")
    password = password if isinstance(password, str) else ""  # not stripped: spaces are part of a password
    values: dict[str, Any] = {"email": email, "role": role, "organisation_id": org}
    errors = {field: _STAFF_MESSAGES[field]() for field in staff_problems(email, password, role)}
    if len(email) > 254 or has_control_chars(email):
        errors["email"] = _STAFF_MESSAGES["email"]()
    organisation_id = int(org) if org.isascii() and org.isdigit() and len(org) < 19 else None
    if role == "organiser" and (organisation_id is None or organisation_id not in organisation_ids):
        errors["organisation_id"] = _("An organiser needs an organisation.")
    if errors:
        return None, errors, values
    email = validate_email(email, check_deliverability=False).normalized
    return StaffInput(email, password, role, organisation_id if role == "organiser" else None), {}, values


@dataclass(frozen=True)
class NewPassword:
    """A new password typed twice alike and fit for a staff account (still in clear: hash it before storing), and
    the current one when the form asks for it."""

    password: str
    current: str = ""


def _raw(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""  # not stripped: spaces are part of a password


def parse_new_password(form: FormData, ask_current: bool = False) -> tuple[NewPassword | None, dict[str, str]]:
    """Validate a new password (the change form on "My account", the reset form) by the rule of new accounts."""
    password, again, current = _raw(form, "password"), _raw(form, "password_again"), _raw(form, "current_password")
    errors = {}
    if ask_current and not current:
        errors["current_password"] = _("Enter your current password.")
    if password_problem(password) is not None:
        errors["password"] = _STAFF_MESSAGES["password"]()
    elif password != again:
        errors["password_again"] = _("The two new passwords are not the same.")
    return (None, errors) if errors else (NewPassword(password, current), {})
