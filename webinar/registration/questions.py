"""An event's custom questions (SPEC §11): rows of data beside the declared personal fields, each an `Item`.

A question's form input is `q_{id}` (repeated for a multichoice), its answer one row of `answers` as text: what
was typed (a number with a decimal point, a date as YYYY-MM-DD), the option chosen, the options ticked one per
line (options never hold a line break), or `yes` / `no` for a checkbox. An optional question left empty stores no
row. Editing a question never touches its stored answers: an answer keeps the option text it was given.
The registered report shows a multichoice answer joined with "; " (`shown`; reports/pgcopy.py writes the same).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from webinar import i18n
from webinar.i18n import N_, gettext
from webinar.registration.fields import at_most
from webinar.tables import QUESTION_KINDS
from webinar.web.forms import has_control_chars, text

TEXT, TEXTAREA, CHOICE, MULTICHOICE, CHECKBOX, NUMBER, DATE = QUESTION_KINDS
CHOICE_KINDS = (CHOICE, MULTICHOICE)
KIND_LABELS = {
    TEXT: N_("Short text"),
    TEXTAREA: N_("Long text (several lines)"),
    CHOICE: N_("One choice from a list"),
    MULTICHOICE: N_("Several choices from a list"),
    CHECKBOX: N_("A box to tick (yes / no)"),
    NUMBER: N_("Number"),
    DATE: N_("Date"),
}
MAX_LENGTH = {TEXT: 200, TEXTAREA: 2000, NUMBER: 30, DATE: 10, CHOICE: 200, MULTICHOICE: 200, CHECKBOX: 3}
LABEL_MAX, HELP_MAX, OPTION_MAX, OPTIONS_MOST = 200, 1000, 200, 100
PER_EVENT_MOST = 50  # questions an event may ask at once: a form stays a form
YES, NO = "yes", "no"  # a checkbox's stored answers: the words the reports use for a yes/no column
STORED_SEPARATOR, SHOWN_SEPARATOR = "\n", "; "  # a multichoice answer's options: stored, and as reports show them
NUMBER_RE = re.compile(r"^[+-]?\d{1,15}(?:[.,]\d{1,6})?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
YEARS = (1900, 2100)


@dataclass(frozen=True)
class QuestionInput:
    """A question as the organiser defines it (validated by the back office's form, admin/question_forms.py)."""

    label_ro: str
    label_en: str
    help_ro: str
    help_en: str
    kind: str
    options: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class Question:
    """A stored question, with its event's language (the language of its report column)."""

    id: int
    event_id: int
    label_ro: str
    label_en: str
    help_ro: str
    help_en: str
    kind: str
    options: str
    required: bool
    position: int
    removed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    event_language: str

    @property
    def name(self) -> str:
        """Its form input (and the key of its error and typed values)."""
        return f"q_{self.id}"

    @functools.cached_property
    def choices(self) -> tuple[str, ...]:
        """The options of a choice kind, in order."""
        return tuple(self.options.splitlines()) if self.kind in CHOICE_KINDS else ()

    @property
    def max_length(self) -> int:
        return MAX_LENGTH[self.kind]

    @property
    def header(self) -> str:
        """Its column in the registered report: its label in the event's language."""
        return self.label(self.event_language)

    def label(self, language: str) -> str:
        """The label in `language`, or in the other one when the organiser gave only that."""
        first, other = (self.label_ro, self.label_en) if language == "ro" else (self.label_en, self.label_ro)
        return first or other

    def hint(self, language: str) -> str:
        """The help text in `language`, or in the other one when the organiser gave only that."""
        first, other = (self.help_ro, self.help_en) if language == "ro" else (self.help_en, self.help_ro)
        return first or other

    def title(self) -> str:
        """The label in the active language."""
        return self.label(i18n.active())

    def kind_title(self) -> str:
        """What kind of question it is, in the active language."""
        return gettext(KIND_LABELS[self.kind])

    def shown(self, stored: str | None) -> str | None:
        """A stored answer as the reports show it: a multichoice's options joined with '; '."""
        if stored is not None and self.kind == MULTICHOICE:
            return stored.replace(STORED_SEPARATOR, SHOWN_SEPARATOR)
        return stored

    def shown_on_page(self, stored: str | None) -> str | None:
        """A stored answer as a page shows it, in the active language (a checkbox says yes or no)."""
        return gettext(stored) if stored is not None and self.kind == CHECKBOX else self.shown(stored)

    def value_of(self, registration: object) -> str | None:
        """The answer held by a record that carries `answers` (question id → stored text), as reports show it."""
        answers: Mapping[int, str] | None = getattr(registration, "answers", None)
        return self.shown(answers.get(self.id)) if answers else None

    def as_typed(self, stored: str | None) -> list[str]:
        """A stored answer as the form's values: every option ticked, or the one value."""
        if stored is None:
            return []
        if self.kind == MULTICHOICE:
            return stored.split(STORED_SEPARATOR)
        if self.kind == CHECKBOX:
            return ["on"] if stored == YES else []
        return [stored]

    def parse(self, form: FormData, errors: dict[str, str]) -> str | None:
        """The answer to store, its error put in `errors`; None when there is nothing to store."""
        if self.kind == CHECKBOX:
            ticked = bool(form.get(self.name))
            if self.required and not ticked:
                errors[self.name] = gettext("Please tick this box to go on.")
            return YES if ticked else NO
        if self.kind == MULTICHOICE:
            return self._parse_many(form, errors)
        value = text(form, self.name)  # a textarea's CRLF already made LF
        if problem := self.problem(value):
            errors[self.name] = problem
        if not value:
            return None
        return value.replace(",", ".") if self.kind == NUMBER else value

    def problem(self, value: str) -> str | None:
        """What is wrong with one trimmed value, as the message shown beside the question; None when it is fine."""
        if not value:
            return gettext("Please answer this question.") if self.required else None
        if len(value) > self.max_length:
            return at_most(self.max_length)
        if has_control_chars(value, allow_newlines=self.kind == TEXTAREA):
            return gettext("This contains characters that are not allowed.")
        if self.kind == CHOICE and value not in self.choices:
            return gettext("Please choose one of the options.")
        if self.kind == NUMBER and not NUMBER_RE.match(value):
            return gettext("Please enter a number, like 12 or 2.5.")
        if self.kind == DATE:
            return date_problem(value)
        return None

    def _parse_many(self, form: FormData, errors: dict[str, str]) -> str | None:
        picked = [unicodedata.normalize("NFC", v.strip()) for v in form.getlist(self.name) if isinstance(v, str)]
        picked = [v for v in dict.fromkeys(picked) if v]
        if any(v not in self.choices for v in picked):
            errors[self.name] = gettext("Please choose among the options shown.")
        elif self.required and not picked:
            errors[self.name] = gettext("Please choose at least one option.")
        ordered = [option for option in self.choices if option in picked]  # stored in the options' order
        return STORED_SEPARATOR.join(ordered) if ordered else None


def date_problem(value: str) -> str | None:
    """What is wrong with a date answer (YYYY-MM-DD, a real day between 1900 and 2100); None when it is fine."""
    if not DATE_RE.match(value) or not YEARS[0] <= int(value[:4]) <= YEARS[1]:
        return gettext("Please enter a date as YYYY-MM-DD, for example 2026-03-05.")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return gettext("This date does not exist.")
    return None


def parse_answers(form: FormData, questions: Iterable[Question], errors: dict[str, str]) -> dict[int, str]:
    """Every question's answer to store, by question id, in the questions' order; their errors put in `errors`."""
    found = {}
    for question in questions:
        value = question.parse(form, errors)
        if value is not None:
            found[question.id] = value
    return found


def typed_answers(form: FormData | None, questions: Iterable[Question]) -> dict[str, list[str]]:
    """What the visitor sent for each question, to put back into the form."""
    if form is None:
        return {}
    return {q.name: [v for v in form.getlist(q.name) if isinstance(v, str)] for q in questions}


def stored_answers(stored: Mapping[int, str], questions: Iterable[Question]) -> dict[str, list[str]]:
    """Stored answers as the form's values."""
    return {q.name: q.as_typed(stored.get(q.id)) for q in questions}


def answer_rows(answers: Mapping[int, str]) -> list[dict[str, Any]]:
    """The `answers` rows of a registration (its id filled in by whichever path writes them)."""
    return [{"question_id": question_id, "value": value} for question_id, value in answers.items()]
