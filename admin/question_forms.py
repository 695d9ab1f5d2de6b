"""The back office's question form: parse and validate → (QuestionInput | None, errors by field, values to re-show)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from admin.forms import FieldReader
from webinar.i18n import gettext as _
from webinar.i18n import ngettext
from webinar.registration.questions import (
    CHOICE_KINDS,
    HELP_MAX,
    KIND_LABELS,
    LABEL_MAX,
    OPTION_MAX,
    OPTIONS_MOST,
    TEXT,
    Question,
    QuestionInput,
)
from webinar.web.forms import has_control_chars, text

OPTIONS_MAX_CHARS = 100_000  # past this the list is refused whole, before it is split


def _missing_label(language: str) -> str:
    if language == "ro":
        return _("Give the question's label in Romanian, the event's language.")
    return _("Give the question's label in English, the event's language.")


def _options_problem(options: list[str]) -> str | None:
    """What is wrong with a choice question's options (one per line, trimmed, empty lines left out)."""
    if not options:
        return _("A question with a list of choices needs its options: write one per line.")
    if len(options) > OPTIONS_MOST:
        return ngettext(
            "At most %(most)s options, one per line; this list has %(n)s.",
            "At most %(most)s options, one per line; this list has %(n)s.",
            len(options),
        ) % {"most": OPTIONS_MOST, "n": len(options)}
    for line, option in enumerate(options, start=1):
        if len(option) > OPTION_MAX:
            return _("An option has at most %(most)s characters; the one on line %(line)s has %(n)s.") % {
                "most": OPTION_MAX,
                "line": line,
                "n": len(option),
            }
    seen: set[str] = set()
    for option in options:
        if option in seen:
            return _("Each option must be different: “%(option)s” is there twice.") % {"option": option}
        seen.add(option)
    return None


def _options(reader: FieldReader, kind: str) -> tuple[str, ...]:
    raw = text(reader.form, "options")
    reader.values["options"] = raw
    if kind not in CHOICE_KINDS:
        return ()  # only the choice kinds have options: what else was typed is not kept
    if len(raw) > OPTIONS_MAX_CHARS:
        reader.errors["options"] = _("This list is far too long: at most %(most)s options of %(n)s characters.") % {
            "most": OPTIONS_MOST,
            "n": OPTION_MAX,
        }
        return ()
    if has_control_chars(raw, allow_newlines=True) or "\t" in raw:
        reader.errors["options"] = _("Remove the control characters from this field.")
        return ()
    options = [line.strip() for line in raw.splitlines() if line.strip()]
    if problem := _options_problem(options):
        reader.errors["options"] = problem
    return tuple(options)


def parse_question_form(
    form: FormData, event_language: str
) -> tuple[QuestionInput | None, dict[str, str], dict[str, Any]]:
    """Validate the question form of an event in `event_language`: the label in that language is required, the
    other one and the help texts are optional (the form shows the event's language where one is missing)."""
    r = FieldReader(form)
    labels = {lang: r.text(f"label_{lang}", LABEL_MAX, required=False) for lang in ("ro", "en")}
    if not labels[event_language] and f"label_{event_language}" not in r.errors:
        r.errors[f"label_{event_language}"] = _missing_label(event_language)
    helps = {lang: r.text(f"help_{lang}", HELP_MAX, required=False) for lang in ("ro", "en")}
    kind = r.choice("kind", tuple(KIND_LABELS))
    options = _options(r, kind)
    required = form.get("required") is not None
    r.values["required"] = required
    if r.errors:
        return None, r.errors, r.values
    data = QuestionInput(labels["ro"], labels["en"], helps["ro"], helps["en"], kind, options, required)
    return data, {}, r.values


def new_question_values() -> dict[str, Any]:
    """What the empty question form starts with."""
    values: dict[str, Any] = {name: "" for name in ("label_ro", "label_en", "help_ro", "help_en", "options")}
    return values | {"kind": TEXT, "required": False}


def question_values(question: Question) -> dict[str, Any]:
    """The form's values for a stored question."""
    names = ("label_ro", "label_en", "help_ro", "help_en", "kind", "options", "required")
    return {name: getattr(question, name) for name in names}
