"""Parsing the attendee's login and "e-mail me my link" forms."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import FormData

from webinar.i18n import gettext as _
from webinar.web.forms import has_control_chars, text


@dataclass(frozen=True)
class LoginData:
    email: str
    password: str


def _email(form: FormData) -> tuple[str, str | None]:
    email = text(form, "email")
    if not email:
        return email, _("Enter your e-mail address.")
    if len(email) > 254 or has_control_chars(email):
        return email, _("Enter a valid e-mail address.")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return email, _("Enter a valid e-mail address.")
    return email, None


def login_form(form: FormData) -> tuple[LoginData, dict[str, str]]:
    """E-mail and password from the login form, and what is wrong with them."""
    email, error = _email(form)
    password = form.get("password")
    password = password if isinstance(password, str) and len(password) <= 1024 else ""
    errors = {"email": error} if error else {}
    if not password:
        errors["password"] = _("Enter your password.")
    return LoginData(email, password), errors


def send_link_form(form: FormData) -> tuple[str, dict[str, str]]:
    """The address to send the join link to, and what is wrong with it."""
    email, error = _email(form)
    return email, ({"link_email": error} if error else {})
