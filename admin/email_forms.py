"""The e-mail text form: parse and validate → (the subject and body | None, errors by field, values to re-show)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from admin.forms import FieldReader
from webinar.i18n import gettext as _
from webinar.mail import placeholders
from webinar.mail.editable import Editable
from webinar.mail.texts import BODY_MAX, SUBJECT_MAX


@dataclass(frozen=True)
class WrittenInput:
    """A checked subject and body: every placeholder known and available in this e-mail, every brace meant."""

    subject: str
    body: str


def _braced(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names)


def _problem(text: str, kind: Editable) -> str | None:
    """What is wrong with a subject or body of this kind of e-mail, in words; None when nothing is."""
    found = placeholders.check(text, kind.available)
    if found.unknown:
        return _(
            "Unknown placeholder: %(found)s. Use only those listed beside the text; to write a brace itself, type it "
            "twice: {{ or }}."
        ) % {"found": _braced(found.unknown)}
    if found.unavailable:
        return _("%(found)s has no value in the “%(kind)s” e-mail. This e-mail can use: %(available)s.") % {
            "found": _braced(found.unavailable),
            "kind": _(kind.label),
            "available": _braced([f"{{{name}}}" for name in kind.available]),
        }
    if found.stray:
        return _("A lone brace near “%(near)s”: a placeholder is written {first_name}; a brace itself, {{ or }}.") % {
            "near": found.stray[0]
        }
    return None


def parse_email_text(form: FormData, kind: Editable) -> tuple[WrittenInput | None, dict[str, str], dict[str, Any]]:
    """Validate a subject (one line, at most 300 characters) and a body (at most 20,000) of this kind of e-mail."""
    reader = FieldReader(form)
    subject = reader.text("subject", SUBJECT_MAX)
    body = reader.text("body", BODY_MAX, multiline=True)
    reader.values["body"] = body
    for name, value in (("subject", subject), ("body", body)):
        if name not in reader.errors and (problem := _problem(value, kind)):
            reader.errors[name] = problem
    if "body" not in reader.errors:
        missing = [f"{{{name}}}" for name in kind.required if name not in placeholders.names(body)]
        if missing:
            reader.errors["body"] = _(
                "This e-mail must contain %(missing)s: without it the registrant cannot join."
            ) % {"missing": _braced(missing)}
    if reader.errors:
        return None, reader.errors, reader.values
    return WrittenInput(subject, body), {}, reader.values
