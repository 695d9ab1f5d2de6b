"""What the cells of a list to import mean (SPEC §11): its columns matched to the event's personal fields and
questions by the headers of the registered report, each row checked by the very rules of the registration form
(`forms.parse_details`, `questions.parse_answers`: a rule lives in one place), and the plan — what each row
becomes (its status, by the seats rule `seats.status_at`) or every reason it cannot be imported.

A plan is pure (no database): the service (registration/imports.py) gives it the event, its seats, the seats
taken and the addresses already registered, at the preview and again, under the event's lock, at the
confirmation; the import goes ahead only if both plans have the same digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property

from starlette.datastructures import FormData, UploadFile

from webinar import i18n
from webinar.events.queries import Event
from webinar.i18n import N_, gettext
from webinar.registration import seats
from webinar.registration.fields import FIELDS, HIDDEN, REQUIRED, PersonalField, report_fields
from webinar.registration.forms import RegistrationData, parse_details
from webinar.registration.importfile import FileRefused, Table
from webinar.registration.queries import Seats
from webinar.registration.questions import CHECKBOX, MULTICHOICE, Question, parse_answers
from webinar.tables import HOLDS_SEAT
from webinar.text import fold, normalise_email

# The registered report's columns that say what the platform recorded, not who the person is: read as known (so a
# list exported from here imports as it is) and never imported, each for its reason. tests/admin/test_import.py
# checks that they and the personal fields' headers are the report's fixed header (reports/exporters.py).
NOT_IMPORTED = {
    "Status": N_("each person gets the status the event's rules give (approved, pending or waiting list)"),
    "Registered at": N_("the registration time is the time of the import"),
    "Consent given at": N_("imported people gave no consent on our form: their basis is “imported”, with your name"),
    "Marketing opt-in": N_("only the person can agree to marketing e-mails, on their own page"),
}
# Excel's way of writing yes / no in a list, in both languages; an empty cell is no.
YES_WORDS = frozenset({"yes", "y", "da", "d", "true", "adevarat", "1", "x", "on", "✓", "✔"})
NO_WORDS = frozenset({"", "no", "n", "nu", "false", "fals", "0", "off", "-"})
# A cell a spreadsheet would run as a formula: `=` or `@` first, or `+` / `-` first and then more than a number or
# a phone number (`+40 721 000 000` and `-5` are data). reports/writer.py neutralises these on the way out; coming
# in they are refused, never stored as someone's name (docs/registration.md, "Importing a list").
FORMULA = re.compile(r"^(?:[=@]|[+\-](?![\d\s().,/+\-]*$))")
# The leading `'` our exports add to such a cell (reports/writer.py), taken off again so an export imports as it is.
NEUTRALISED = re.compile(r"^'(?=[=+\-@\t\r])")
ROW = "_row"  # the key of a problem with the row itself, not one of its cells


def _key(text: str) -> str:
    """A header as compared: case, diacritics and spacing do not count."""
    return " ".join(fold(text).split())


def _field_names(item: PersonalField) -> set[str]:
    """A personal field's report header and its labels in both languages."""
    names = {item.header}
    for language in i18n.LANGUAGES:
        with i18n.use(language):
            names |= {gettext(item.label), gettext(item.staff_label or item.label)}
    return {_key(name) for name in names}


def _question_names(question: Question) -> set[str]:
    return {_key(label) for label in (question.label_ro, question.label_en) if label}


def column_letter(index: int) -> str:
    """A spreadsheet's name for the column at `index` (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class Column:
    """One column of the file: what it fills, or why it is not imported."""

    index: int
    header: str  # as written in the file
    item: PersonalField | Question | None = None  # None: not imported
    why_not: str = ""  # a msgid, when it is not imported

    @property
    def letter(self) -> str:
        return column_letter(self.index)

    def reason(self) -> str:
        """Why the column is not imported, in the active language."""
        return gettext(self.why_not)


@dataclass(frozen=True)
class Columns:
    """A file's columns: those imported, in the file's order, and those that are not."""

    used: tuple[Column, ...]
    ignored: tuple[Column, ...]
    width: int  # the header's number of cells

    @cached_property
    def by_name(self) -> dict[str, Column]:
        """The imported columns by the name of what they fill (a field's name, a question's `q_{id}`)."""
        return {column.item.name: column for column in self.used if column.item is not None}

    def header_of(self, name: str) -> str:
        """The file's header of the column filling `name` ('' for the row itself)."""
        column = self.by_name.get(name)
        return column.header if column else ""

    def describe(self) -> list[list[object]]:
        """What the columns mean, for the plan's digest."""
        used = [[c.index, c.item.name if c.item else ""] for c in self.used]
        return [*used, *([c.index, c.why_not] for c in self.ignored)]


NO_HEADER = N_("the column has no header")
UNKNOWN = N_("no field or question of this event has this name")
NOT_ASKED = N_("the event does not ask for it")


def _match(header: str, index: int, event: Event, questions: Sequence[Question], taken: set[str]) -> Column:
    key = _key(header)
    if not key:
        return Column(index, header, why_not=NO_HEADER)
    for item in FIELDS:
        if key in _field_names(item):
            return _claimed(Column(index, header, item), taken, item.name)
    for question in questions:
        if key in _question_names(question) and question.name not in taken:
            return _claimed(Column(index, header, question), taken, question.name)
    for name, why in NOT_IMPORTED.items():
        if key == _key(name):
            return Column(index, header, why_not=why)
    return Column(index, header, why_not=UNKNOWN)


def _claimed(column: Column, taken: set[str], name: str) -> Column:
    if name in taken:
        raise FileRefused(
            gettext("The column “%(header)s” (%(letter)s) repeats a column before it. Keep one of them.")
            % {"header": column.header, "letter": column.letter}
        )
    taken.add(name)
    return column


def match_columns(header: Sequence[str], event: Event, questions: Sequence[Question]) -> Columns:
    """The file's columns matched by their headers (the registered report's, or a field's label in either
    language); FileRefused when none is known, one is there twice, or a column the event requires is missing."""
    taken: set[str] = set()
    columns = [_match(cell, n, event, questions, taken) for n, cell in enumerate(header)]
    if all(c.why_not in (NO_HEADER, UNKNOWN) for c in columns):
        expected = ", ".join((*(f.header for f in report_fields("registered")), *(q.header for q in questions)))
        raise FileRefused(
            gettext("None of the columns in the first row is one we know (%(found)s). The first row must name the "
                    "columns, as the registered export does: %(expected)s.")
            % {"found": ", ".join(h for h in header if h)[:300] or "—", "expected": expected}
        )  # fmt: skip
    used, ignored = [], []
    for column in columns:
        if isinstance(column.item, PersonalField) and column.item.mode(event) == HIDDEN:
            ignored.append(Column(column.index, column.header, why_not=NOT_ASKED))
        elif column.item is None:
            ignored.append(column)
        else:
            used.append(column)
    result = Columns(tuple(used), tuple(ignored), len(header))
    missing = [f.title() for f in FIELDS if f.mode(event) == REQUIRED and f.name not in result.by_name]
    missing += [q.title() for q in questions if q.required and q.name not in result.by_name]
    if missing:
        raise FileRefused(
            gettext("The list has no column for %(missing)s, which this event requires. Add the column (headed as in "
                    "the registered export) and upload the list again.") % {"missing": ", ".join(missing)}
        )  # fmt: skip
    return result


def looks_like_formula(value: str) -> bool:
    """Whether a spreadsheet would run this cell as a formula (`FORMULA`)."""
    return bool(FORMULA.match(value))


def _formula_problem() -> str:
    return gettext("This cell looks like a spreadsheet formula (it starts with =, +, -, or @). Type the value "
                   "itself.")  # fmt: skip


def _cell(cells: Sequence[str], column: Column) -> str:
    raw = cells[column.index] if column.index < len(cells) else ""
    return NEUTRALISED.sub("", raw)


def _choices(value: str, question: Question) -> list[str]:
    """A multichoice cell's options: joined with `;` as the registered report writes them (an option that itself
    holds a `;` is taken whole)."""
    if value in question.choices:
        return [value]
    return [part.strip() for part in value.split(";") if part.strip()]


def _form(cells: Sequence[str], columns: Columns) -> tuple[FormData, dict[str, str]]:
    """The row as the registration form would have sent it, and the problems a cell has before any rule."""
    items: list[tuple[str, str | UploadFile]] = []
    problems: dict[str, str] = {}
    for column in columns.used:
        assert column.item is not None
        name, value = column.item.name, _cell(cells, column)
        if looks_like_formula(value):
            problems[name] = _formula_problem()
        elif isinstance(column.item, Question) and column.item.kind == CHECKBOX:
            word = fold(value)
            if word in YES_WORDS:
                items.append((name, "on"))
            elif word not in NO_WORDS:
                problems[name] = gettext("Write yes or no (da / nu).")
        elif isinstance(column.item, Question) and column.item.kind == MULTICHOICE:
            items.extend((name, option) for option in _choices(value, column.item))
        else:
            items.append((name, value))
    return FormData(items), problems


def check_row(
    cells: Sequence[str], columns: Columns, event: Event, questions: Sequence[Question]
) -> tuple[RegistrationData | None, dict[str, str]]:
    """One row checked as the registration form checks a submission (the personal fields by their declarations, the
    answers by their questions): the data to register, or None and a message per field."""
    form, problems = _form(cells, columns)
    errors: dict[str, str] = {}
    details = parse_details(form, event, errors)
    asked = [q for q in questions if q.name in columns.by_name]  # an unlisted question gets no answer, not a "no"
    answers = parse_answers(form, asked, errors)
    errors |= problems  # a formula or an unreadable yes / no says more than the field's own rule
    if len(cells) > columns.width and any(cells[columns.width :]):
        errors[ROW] = gettext("This row has more cells than the header has columns: a value probably holds the "
                              "delimiter. Put that value in quotes, or save the file again from Excel.")  # fmt: skip
    if errors:
        return None, errors
    data = RegistrationData(**asdict(details), consent_version=0, marketing=False, age_confirmed=False, answers=answers)
    return data, {}


@dataclass(frozen=True)
class PlannedRow:
    """One row of the file and what the import makes of it: a registration with `status`, or its problems (each
    with the header of its column, '' for the row itself)."""

    number: int
    email: str
    first_name: str
    last_name: str
    status: str | None
    problems: tuple[tuple[str, str], ...] = ()
    data: RegistrationData | None = field(default=None, compare=False)

    def fingerprint(self) -> list[object]:
        data = None
        if self.data is not None:
            data = asdict(self.data) | {"answers": sorted(self.data.answers.items())}
        return [self.number, self.status, [list(p) for p in self.problems], data]


@dataclass(frozen=True)
class Plan:
    """What importing a file would do now."""

    columns: Columns
    rows: tuple[PlannedRow, ...]

    @cached_property
    def to_import(self) -> tuple[PlannedRow, ...]:
        return tuple(row for row in self.rows if row.status is not None)

    @cached_property
    def refused(self) -> tuple[PlannedRow, ...]:
        return tuple(row for row in self.rows if row.status is None)

    def counts(self) -> dict[str, int]:
        """How many rows become each status."""
        found: dict[str, int] = {}
        for row in self.to_import:
            assert row.status is not None
            found[row.status] = found.get(row.status, 0) + 1
        return found

    @cached_property
    def digest(self) -> str:
        """The SHA-256 of everything the plan would write and refuse: equal digests, equal imports."""
        body = json.dumps([self.columns.describe(), [row.fingerprint() for row in self.rows]], default=str)
        return hashlib.sha256(body.encode()).hexdigest()


def _full(held: Seats) -> str:
    return gettext("The event is full (%(n)s seats) and has no waiting list.") % {"n": held.capacity}


def plan(
    table: Table,
    event: Event,
    questions: Sequence[Question],
    held: Seats,
    taken: int,
    registered: Collection[str],
) -> Plan:
    """What each row of `table` becomes at `event` (whose seats are `held`, `taken` of them held now, `registered`
    the addresses already registered): checked by the form's rules, each address once, then a seat's status in the
    file's order while seats are free and the waiting list's after (`seats.status_at`), or refused. FileRefused when
    the columns cannot be used at all."""
    columns = match_columns(table.header, event, questions)
    email = columns.by_name["email"]
    first, last = columns.by_name["first_name"], columns.by_name["last_name"]
    seen: dict[str, int] = {}
    planned = []
    for number, cells in table.rows:
        data, errors = check_row(cells, columns, event, questions)
        problems = [(columns.header_of(name), message) for name, message in errors.items()]
        address = normalise_email(data.email if data else _cell(cells, email))
        if address in seen:
            problems.append((email.header, gettext("This address is also on row %(row)s: each person once.")
                             % {"row": seen[address]}))  # fmt: skip
        elif address in registered:
            problems.append((email.header, gettext("Already registered for this event.")))
        if address:
            seen.setdefault(address, number)
        status = None
        if not problems:
            status = seats.status_at(held, taken)
            if status is None:
                problems.append(("", _full(held)))
            elif status in HOLDS_SEAT:
                taken += 1
        texts = (_cell(cells, email), _cell(cells, first), _cell(cells, last))
        planned.append(PlannedRow(number, *texts, status, tuple(problems), data if status else None))
    return Plan(columns, tuple(planned))
